"""Discovery over a generated sandbox world, through the real connector over HTTPS."""

from __future__ import annotations

import threading

import pytest

from seatkeeper.accounts.models import Organisation
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core.errors import Conflict
from seatkeeper.discovery import services
from seatkeeper.discovery.models import Assignment, CustomerState, RunCustomer, RunState
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.subscriptions import operations as subscription_operations
from seatkeeper.subscriptions import services as subscription_services
from seatkeeper.subscriptions.models import Operation, SeatLot, Subscription, Tenant

pytestmark = pytest.mark.django_db


def _world_rows(connected) -> dict:
    """Everything discovery writes, as comparable values."""
    partner = connected.cast.partner
    return {
        "organisations": sorted(
            Organisation.objects.filter(path__startswith=partner.path).values_list(
                "pk", "name", "parent_id", "updated_at"
            )
        ),
        "tenants": sorted(Tenant.objects.values_list("pk", "vendor_customer_id", "domain")),
        "subscriptions": sorted(
            Subscription.objects.values_list(
                "pk", "vendor_subscription_id", "quantity", "status", "version", "updated_at"
            )
        ),
        "lots": SeatLot.objects.count(),
        "operations": Operation.objects.count(),
        "assignments": Assignment.objects.count(),
    }


def test_a_first_run_imports_the_world_and_a_second_changes_nothing(connected):
    vendor_customers = connected.vendor_customers()
    vendor_subscriptions = connected.vendor_subscription_count()

    first = connected.discover()

    assert first.state == RunState.COMPLETED
    figures = services.run_figures(first)
    assert figures.customers_total == figures.customers_done == len(vendor_customers)
    assert figures.errors == 0
    assert figures.counts["customers"]["created"] == len(vendor_customers)
    assert figures.counts["subscriptions"]["created"] == vendor_subscriptions
    assert figures.calls > len(vendor_customers)
    tenants = Tenant.objects.filter(account=connected.account)
    assert sorted(tenants.values_list("vendor_customer_id", flat=True)) == sorted(
        customer.id for customer in vendor_customers
    )
    # New customers land under the partner, waiting for an assignment.
    for tenant in tenants:
        assert tenant.customer.parent_id == connected.cast.partner.pk
        assert tenant.customer.discovery_assignment.assigned_at is None
    # Add-ons hang under the base subscription the vendor names; every subscription has its
    # seats in lots, the vendor's state, and one operation (the import) with its record.
    with connected.provider() as provider:
        vendor_parents = {
            facts.id: facts.parent_subscription_id
            for customer in vendor_customers
            for facts in provider.list_subscriptions(customer_id=customer.id)
        }
    addons = Subscription.objects.filter(parent__isnull=False).select_related("parent")
    assert addons.exists()
    for addon in addons:
        assert vendor_parents[addon.vendor_subscription_id] == addon.parent.vendor_subscription_id
    imported = ActivityRecord.objects.filter(
        object_type="subscription", operation="subscription.refresh"
    )
    for subscription in Subscription.objects.all():
        assert sum(lot.quantity for lot in subscription.lots.all()) == subscription.quantity
        assert subscription.commitment_end_date is not None
        assert subscription.vendor_state.quantity == subscription.quantity
        (operation,) = subscription.operations.all()
        assert (operation.sequence, operation.kind, operation.state) == (1, "refresh", "done")
        assert operation.payload["imported"] and operation.payload["run"] == first.pk
        assert operation.payload["quantity"] == subscription.quantity
        record = imported.get(object_id=str(subscription.pk))
        assert record.organisation_id == subscription.customer_id
        assert record.details["term_start"] == subscription.term_start.isoformat()
    # Priced as an order of ours would be, where the catalog has the price.
    assert SeatLot.objects.exclude(unit_price=0).exists()
    assert Subscription.objects.filter(status="cancelled").exists()  # deleted at the vendor
    assert Subscription.objects.filter(status="suspended").exists()

    before = _world_rows(connected)
    second = connected.discover()

    assert second.state == RunState.COMPLETED
    counts = services.run_figures(second).counts
    assert counts["customers"] == {
        "created": 0,
        "updated": 0,
        "unchanged": len(vendor_customers),
        "removed": 0,
    }
    assert counts["subscriptions"] == {
        "created": 0,
        "updated": 0,
        "unchanged": vendor_subscriptions,
        "removed": 0,
    }
    assert _world_rows(connected) == before


def test_a_known_tenant_keeps_its_customer(connected):
    demo = connected.sandbox.demo_customers[0]
    customer = connected.cast.customer
    subscription_services.tenant_link(
        actor=None,
        customer=customer,
        account=connected.account,
        vendor_customer_id=demo["tenant_id"],
        domain=demo["domain"],
    )

    connected.discover()

    assert Tenant.objects.filter(vendor_customer_id=demo["tenant_id"]).count() == 1
    assert not Organisation.objects.filter(tenants__vendor_customer_id=demo["tenant_id"]).exclude(
        pk=customer.pk
    )
    assert not Assignment.objects.filter(customer=customer).exists()
    assert Subscription.objects.filter(customer=customer).count() > 0
    # The subscriptions of a customer below a reseller name that reseller.
    assert set(
        Subscription.objects.filter(customer=customer).values_list("reseller_id", flat=True)
    ) == {connected.cast.reseller.pk}


def test_stop_ends_cleanly_and_resume_continues_from_the_checkpoint(connected):
    run = services.run_start(
        actor=connected.cast.operator, account=connected.account, enqueue=False
    )
    with connected.provider() as provider:
        ids = services.list_customers(run.pk, provider=provider)
        assert len(ids) == len(connected.vendor_customers())
        for vendor_customer_id in ids[:2]:
            assert services.import_customer(run.pk, vendor_customer_id, provider=provider) == "done"

        run = services.run_stop(actor=connected.cast.operator, run=run)
        assert run.state == RunState.STOPPED
        # A worker that picks up another customer after the stop leaves it alone.
        assert services.import_customer(run.pk, ids[2], provider=provider) == "stopped"
        assert Tenant.objects.count() == 2
        finished = dict(
            run.customers.filter(state=CustomerState.DONE).values_list("pk", "finished_at")
        )
        with pytest.raises(Conflict):
            services.run_stop(actor=connected.cast.operator, run=run)

        run = services.run_resume(actor=connected.cast.operator, run=run, enqueue=False)
        assert run.state == RunState.IN_PROGRESS
        run = services.run_inline(run, provider=provider)

    assert run.state == RunState.COMPLETED
    assert Tenant.objects.count() == len(ids)
    # The two customers done before the stop were not imported again.
    assert dict(run.customers.filter(pk__in=finished).values_list("pk", "finished_at")) == finished
    assert services.run_figures(run).customers_done == len(ids)


def test_an_error_for_one_customer_is_recorded_and_the_run_goes_on(connected):
    failing = connected.sandbox.demo_customers[1]["tenant_id"]
    connected.sandbox.admin.set_faults(
        script=[
            {
                "method": "GET",
                "path": f"/v1/customers/{failing}/subscriptions",
                "status": 403,
                "times": 5,
            }
        ]
    )

    run = connected.discover()

    assert run.state == RunState.COMPLETED
    row = RunCustomer.objects.get(run=run, vendor_customer_id=failing)
    assert row.state == CustomerState.ERROR
    assert row.error_message  # the vendor's answer
    # Nothing of that customer was half imported.
    assert not Tenant.objects.filter(vendor_customer_id=failing).exists()
    figures = services.run_figures(run)
    assert figures.errors == 1
    assert figures.customers_done == figures.customers_total

    # A resumed (or next) run imports it.
    connected.sandbox.admin.reset_faults()
    again = connected.discover()
    assert RunCustomer.objects.get(run=again, vendor_customer_id=failing).state == "done"
    assert Tenant.objects.filter(vendor_customer_id=failing).exists()


def test_refused_credentials_end_the_run_in_error_with_the_reason(connected):
    # The authority refuses the partner's application (its secret was rotated): nothing more
    # can be read, so going on is pointless.
    account = connected.account
    account.set_application_secret("rotated-elsewhere")
    account.save()
    forget_token_sources()  # no access token cached from the catalog import

    run = connected.discover()

    assert run.state == RunState.ERROR
    assert run.error_message
    assert not Tenant.objects.exists()
    assert ActivityRecord.objects.filter(operation="discovery.error").exists()


def test_one_run_at_a_time_and_only_partner_staff_start_one(connected):
    from seatkeeper.core.errors import PermissionRefused

    services.run_start(actor=connected.cast.cloud_admin, account=connected.account, enqueue=False)
    with pytest.raises(Conflict):
        services.run_start(actor=connected.cast.operator, account=connected.account, enqueue=False)
    for outsider in (connected.cast.reseller_admin, connected.cast.outsider):
        with pytest.raises(PermissionRefused):
            services.run_start(actor=outsider, account=connected.account, enqueue=False)


def test_a_change_made_at_the_vendor_is_adopted_and_kept_in_the_history(connected):
    connected.discover()
    subscription = Subscription.objects.filter(status="active", parent__isnull=True).first()
    with connected.provider() as provider:
        from seatkeeper.providers import interface as vendor

        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(quantity=subscription.quantity + 2),
        )

    run = connected.discover()

    counts = services.run_figures(run).counts["subscriptions"]
    assert counts["updated"] == 1
    changed = Subscription.objects.get(pk=subscription.pk)
    assert changed.quantity == subscription.quantity + 2
    refresh = changed.operations.order_by("-sequence").first()
    assert refresh.kind == "refresh" and refresh.payload["run"] == run.pk


def test_a_pending_change_of_ours_is_never_overwritten(connected):
    connected.discover()
    subscription = Subscription.objects.filter(status="active", parent__isnull=True).first()
    subscription_operations.record_operation(
        subscription, "quantity", actor=None, payload={"quantity": subscription.quantity + 5}
    )
    Subscription.objects.filter(pk=subscription.pk).update(quantity=subscription.quantity + 5)
    with connected.provider() as provider:
        from seatkeeper.providers import interface as vendor

        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(quantity=subscription.quantity + 1),
        )

    connected.discover()

    assert Subscription.objects.get(pk=subscription.pk).quantity == subscription.quantity + 5


@pytest.mark.django_db(transaction=True)
def test_completion_and_failure_are_recorded_outside_a_test_transaction(connected):
    # As workers run them: no transaction around the call (the services open their own).
    run = connected.discover()
    assert run.state == RunState.COMPLETED
    assert ActivityRecord.objects.filter(operation="discovery.complete").exists()

    connected.account.set_application_secret("rotated-elsewhere")
    connected.account.save()
    forget_token_sources()
    failed = connected.discover()
    assert failed.state == RunState.ERROR
    assert ActivityRecord.objects.filter(operation="discovery.error").exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_reads_the_next_customer_while_it_writes_one(
    connected, settings, redis_url, monkeypatch
):
    # given: the buckets in Redis (scaled out), and each customer's writes held until the next
    # customer's reads have begun (forever, were they one after the other)
    settings.REDIS_URL = redis_url
    from seatkeeper.discovery.kinds import subscriptions as subscription_kind

    reading: dict[str, threading.Event] = {}
    threads: dict[str, set[str]] = {"read": set(), "write": set()}
    fetch, write = subscription_kind.fetch, subscription_kind.import_customer

    def read_spy(context):
        threads["read"].add(threading.current_thread().name)
        reading.setdefault(context.facts.id, threading.Event()).set()
        fetch(context)

    def write_spy(context):
        threads["write"].add(threading.current_thread().name)
        following = order[order.index(context.facts.id) + 1 :]
        if following:
            assert reading.setdefault(following[0], threading.Event()).wait(timeout=10)
        write(context)

    monkeypatch.setattr(subscription_kind, "fetch", read_spy)
    monkeypatch.setattr(subscription_kind, "import_customer", write_spy)
    run = services.run_start(actor=None, account=connected.account, enqueue=False)
    with connected.provider() as provider:
        order = services.list_customers(run.pk, provider=provider)

        # when
        outcomes = services.import_customers(run.pk, order, provider=provider)

    # then: every customer imported as one after the other would, reads in a thread of their own
    assert outcomes == ["done"] * len(order)
    assert threads["write"] == {threading.current_thread().name}
    assert len(threads["read"]) == 1 and threads["read"] != threads["write"]
    run.refresh_from_db()
    figures = services.run_figures(run)
    assert figures.errors == 0 and figures.customers_done == len(order)
    assert Subscription.objects.count() == connected.vendor_subscription_count()
    # Each customer's calls are counted (made in the reading thread): its list of subscriptions,
    # of users, of deleted users, of licence pools at least.
    assert min(run.customers.values_list("calls", flat=True)) >= 4
