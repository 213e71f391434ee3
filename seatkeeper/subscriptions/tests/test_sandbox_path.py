"""The whole path over real HTTP: services → database queue → worker → connector → sandbox.

order → provisioned → quantity changes → add-on → suspend → reactivate → cancel inside and
outside the window; vendor faults and 429s; a worker that dies mid-task; two people at once.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connection

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Offer, VendorKind
from seatkeeper.conftest import Cast
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, ServiceError
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.tests.conftest import SharedClock
from seatkeeper.providers.tests.factories import provider_account
from seatkeeper.subscriptions import lifecycle, provisioning, services, tasks
from seatkeeper.subscriptions.models import OperationState, Status, Subscription, SyncStatus

pytestmark = pytest.mark.django_db(transaction=True)

BASIC = "CFQ7TTC0LH18"
TEAMS_PHONE = "CFQ7TTC0LH0R"


@dataclass
class Connected:
    cast: Cast
    sandbox: object
    clock: SharedClock
    customer_id: str
    basic: Offer
    teams_phone: Offer

    def run_worker(self) -> None:
        # The real worker command: the database queue, or RQ over Redis when REDIS_URL is set
        # (its SimpleWorker runs jobs in this process instead of forking).
        call_command(
            "worker", batch=True, no_scheduler=True, rq_worker_class="rq.worker.SimpleWorker"
        )

    def sweep(self) -> None:
        tasks.provisioning_sweep.call()
        self.run_worker()

    def vendor_subscription(self, subscription: Subscription) -> dict:
        token = self.sandbox.admin.access_token(app_only=False, mfa=True)
        with self.sandbox.client(token) as client:
            response = client.get(
                f"/v1/customers/{self.customer_id}/subscriptions/"
                f"{subscription.vendor_subscription_id}"
            )
        response.raise_for_status()
        return response.json()

    def vendor_subscription_count(self) -> int:
        token = self.sandbox.admin.access_token(app_only=False, mfa=True)
        with self.sandbox.client(token) as client:
            response = client.get(f"/v1/customers/{self.customer_id}/subscriptions")
        response.raise_for_status()
        return response.json()["totalCount"]

    def order(
        self, offer: Offer, quantity: int, *, parent: Subscription | None = None
    ) -> Subscription:
        line = services.OrderLine(
            offer=offer, quantity=quantity, term="P1M", billing_cycle="monthly", parent=parent
        )
        order = services.order_place(
            actor=self.cast.reseller_admin, customer=self.cast.customer, lines=[line]
        )
        return order.subscriptions.get()


@pytest.fixture
def connected(clean_sandbox, test_clock, settings, monkeypatch) -> Connected:
    # The queue the settings module chose (tasks bind to it when they are defined).
    import seatkeeper.settings as configured

    settings.TASKS = configured.TASKS
    if configured.REDIS_URL:
        import django_rq

        django_rq.get_queue("default").empty()
    # The connector's rate limiter then keeps its buckets in the database, on the test clock;
    # in Redis it would wait out a Retry-After in real seconds (its own tests cover Redis).
    settings.REDIS_URL = None
    cast = Cast()
    sbx = clean_sandbox
    account = provider_account(
        organisation=cast.partner,
        api_base_url=sbx.base_url,
        authority_url=sbx.authority_url,
        partner_tenant_id=sbx.partner_tenant_id,
        application_id=sbx.client_id,
        application_secret=sbx.client_secret,
        refresh_token=sbx.admin.mint_refresh_token(),
        ca_bundle_path=str(sbx.ca_cert),
    )

    def factory(account, **options):
        return MicrosoftProvider.from_account(
            account,
            sleep=test_clock.sleep,
            retry=RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=1.0),
            **options,
        )

    monkeypatch.setattr(provisioning, "get_provider", factory)
    vendor = catalog_services.vendor_create(
        actor=None,
        partner=cast.partner,
        name="Microsoft",
        kind=VendorKind.API,
        provider_account=account,
        country="GB",
    )
    catalog_services.catalog_refresh(vendor=vendor, provider=factory(account))
    tenant = sbx.demo_customers[0]
    services.tenant_link(
        actor=None,
        customer=cast.customer,
        account=account,
        vendor_customer_id=tenant["tenant_id"],
        domain=tenant["domain"],
    )
    offers = Offer.objects.filter(vendor=vendor)
    return Connected(
        cast=cast,
        sandbox=sbx,
        clock=test_clock,
        customer_id=tenant["tenant_id"],
        basic=offers.get(product_id=BASIC),
        teams_phone=offers.get(product_id=TEAMS_PHONE),
    )


def test_the_whole_lifecycle_reaches_the_vendor(connected):
    # order → provisioned
    subscription = connected.order(connected.basic, 3)
    assert subscription.status == Status.PENDING
    connected.run_worker()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.sync_status) == (
        Status.ACTIVE,
        SyncStatus.SYNCHRONIZED,
    )
    assert subscription.commitment_end_date is not None
    assert connected.vendor_subscription(subscription)["quantity"] == 3

    # quantity up, then down inside the window
    services.subscription_change_quantity(
        actor=connected.cast.reseller_admin, subscription=subscription, quantity=5
    )
    connected.run_worker()
    assert connected.vendor_subscription(subscription)["quantity"] == 5
    services.subscription_change_quantity(
        actor=connected.cast.reseller_admin, subscription=subscription, quantity=4
    )
    connected.run_worker()
    assert connected.vendor_subscription(subscription)["quantity"] == 4

    # an add-on on it
    addon = connected.order(connected.teams_phone, 2, parent=subscription)
    connected.run_worker()
    addon.refresh_from_db()
    assert addon.status == Status.ACTIVE
    assert connected.vendor_subscription(addon)["quantity"] == 2

    # suspend, reactivate
    services.subscription_suspend(actor=connected.cast.reseller_admin, subscription=subscription)
    connected.run_worker()
    assert connected.vendor_subscription(subscription)["status"] == "suspended"
    services.subscription_reactivate(actor=connected.cast.reseller_admin, subscription=subscription)
    connected.run_worker()
    assert connected.vendor_subscription(subscription)["status"] == "active"

    # cancel inside the window
    services.subscription_cancel(actor=connected.cast.reseller_admin, subscription=addon)
    connected.run_worker()
    assert connected.vendor_subscription(addon)["status"] == "deleted"

    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED
    kinds = list(subscription.operations.order_by("sequence").values_list("kind", "state"))
    assert kinds == [
        ("create", "done"),
        ("quantity", "done"),
        ("quantity", "done"),
        ("suspend", "done"),
        ("reactivate", "done"),
    ]


def test_changes_at_renewal_reach_the_vendor_and_both_sides_renew_alike(connected):
    subscription = connected.order(connected.basic, 3)  # one month, billed monthly
    connected.run_worker()
    subscription.refresh_from_db()
    services.subscription_schedule_renewal(
        actor=connected.cast.reseller_admin,
        subscription=subscription,
        quantity=5,
        term="P1Y",
        billing_cycle="annual",
    )
    connected.run_worker()
    scheduled = connected.vendor_subscription(subscription)["scheduledNextTermInstructions"]
    assert scheduled["quantity"] == 5
    assert (scheduled["product"]["termDuration"], scheduled["product"]["billingCycle"]) == (
        "P1Y",
        "annual",
    )

    # The term ends: the sandbox renews by itself, the end-of-term job renews here.
    next_day = subscription.commitment_end_date + dt.timedelta(days=1)
    connected.clock.sleep(
        (dt.datetime.combine(next_day, dt.time(2), tzinfo=dt.UTC) - clock.now()).total_seconds()
    )
    assert lifecycle.run(clock.now())["renewed"] == 1
    renewed = connected.vendor_subscription(subscription)
    subscription.refresh_from_db()
    assert (renewed["quantity"], renewed["termDuration"], renewed["billingCycle"]) == (
        5,
        "P1Y",
        "annual",
    )
    assert "scheduledNextTermInstructions" not in renewed
    assert (subscription.quantity, subscription.term, subscription.billing_cycle) == (
        5,
        "P1Y",
        "annual",
    )
    assert subscription.commitment_end_date.isoformat() == renewed["commitmentEndDate"][:10]


def test_cancel_and_decrease_outside_the_window_are_refused_with_the_date(connected):
    subscription = connected.order(connected.basic, 2)
    connected.run_worker()
    subscription.refresh_from_db()
    connected.clock.sleep(8 * 24 * 3600)
    with pytest.raises(ServiceError) as refused:
        services.subscription_cancel(actor=connected.cast.reseller_admin, subscription=subscription)
    assert refused.value.code == "window_closed"
    with pytest.raises(ServiceError) as refused:
        services.subscription_change_quantity(
            actor=connected.cast.reseller_admin, subscription=subscription, quantity=1
        )
    assert "window closed on" in refused.value.message
    assert connected.vendor_subscription(subscription)["status"] == "active"


def test_throttling_and_outages_are_retried_until_the_vendor_answers(connected):
    subscription = connected.order(connected.basic, 2)
    connected.run_worker()
    # more 429s than the connector retries in one go: the operation waits and is retried later
    connected.sandbox.admin.set_faults(
        script=[{"method": "PATCH", "path": "/v1/customers/*", "status": 429, "times": 5}]
    )
    services.subscription_change_quantity(
        actor=connected.cast.reseller_admin, subscription=subscription, quantity=6
    )
    connected.run_worker()
    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.PENDING
    assert subscription.sync_error_code == "429"
    assert subscription.operations.get(kind="quantity").state == OperationState.PENDING
    for _ in range(6):
        connected.clock.sleep(3600)
        connected.sweep()
    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED
    assert connected.vendor_subscription(subscription)["quantity"] == 6


def test_an_outage_during_ordering_never_creates_a_second_subscription(connected):
    before = connected.vendor_subscription_count()
    connected.sandbox.admin.set_faults(
        script=[{"method": "GET", "path": "/v1/customers/*/orders/*", "status": 503, "times": 10}]
    )
    subscription = connected.order(connected.basic, 1)
    connected.run_worker()
    subscription.refresh_from_db()
    assert subscription.status == Status.PENDING
    assert subscription.vendor_order_id  # the order exists at the vendor, recorded at once
    for _ in range(4):
        connected.clock.sleep(3600)
        connected.sweep()
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert connected.vendor_subscription_count() == before + 1
    assert (
        len(
            connected.sandbox.admin.calls(
                method="POST", path=f"/v1/customers/{connected.customer_id}/orders"
            )
        )
        + len(
            connected.sandbox.admin.calls(
                method="POST", path=f"/v1/customers/{connected.customer_id}/carts"
            )
        )
        >= 1
    )


def test_a_worker_killed_mid_task_completes_the_operation_once(connected):
    before = connected.vendor_subscription_count()
    subscription = connected.order(connected.basic, 1)
    operation = subscription.operations.get()
    # A worker claimed the operation, sent the order to the vendor, and died before recording it.
    now = clock.now()
    type(operation).objects.filter(pk=operation.pk).update(
        state=OperationState.RUNNING, claimed_at=now, attempts=1
    )
    subscription.refresh_from_db()
    dying_worker = provisioning.get_provider(subscription.tenant.account)
    from seatkeeper.providers import interface as vendor

    dying_worker.create_order(
        customer_id=connected.customer_id,
        request_key=str(operation.request_key),
        lines=[
            vendor.OrderLine(
                catalog_item_id=connected.basic.catalog_item_id,
                quantity=1,
                term_duration="P1M",
                billing_cycle=vendor.BillingCycle.MONTHLY,
            )
        ],
    )
    connected.run_worker()  # the queued task finds the claim still fresh and leaves it alone
    assert subscription.operations.get().state == OperationState.RUNNING
    connected.clock.sleep(provisioning.CLAIM_TIMEOUT.total_seconds() + 60)
    connected.sweep()  # the claim is stale: another worker takes over with the same request key
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert subscription.operations.get().state == OperationState.DONE
    assert connected.vendor_subscription_count() == before + 1


@pytest.mark.skipif(
    "sqlite" in connection.vendor, reason="row locks across threads need a server database"
)
def test_two_people_changing_the_same_subscription_at_once(connected):
    subscription = connected.order(connected.basic, 2)
    connected.run_worker()
    subscription.refresh_from_db()
    seen = subscription.version
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def change(actor, quantity):
        barrier.wait()
        try:
            services.subscription_change_quantity(
                actor=actor,
                subscription=subscription,
                quantity=quantity,
                expected_version=seen,
            )
            outcomes.append(f"saved {quantity}")
        except Conflict as conflict:
            outcomes.append(f"conflict: {conflict.message}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=change, args=(connected.cast.reseller_admin, 5)),
        threading.Thread(target=change, args=(connected.cast.cloud_admin, 7)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = [outcome for outcome in outcomes if outcome.startswith("saved")]
    conflicts = [outcome for outcome in outcomes if outcome.startswith("conflict")]
    assert len(saved) == 1 and len(conflicts) == 1
    assert "Reload the page" in conflicts[0]
    subscription.refresh_from_db()
    assert f"saved {subscription.quantity}" == saved[0]
    assert subscription.version == seen + 1
