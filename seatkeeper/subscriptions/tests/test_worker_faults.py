"""The worker against the sandbox's fault injection: throttling storms and outages, worker and
claim failures. Each ends with every operation done once and both sides equal."""

from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.core import clock
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import OperationState, Status, Subscription, SyncStatus
from seatkeeper.subscriptions.tests import test_sandbox_path
from seatkeeper.subscriptions.tests.test_sandbox_path import Connected

# The whole path over real HTTP: a worker, the database queue and the sandbox.
connected = test_sandbox_path.connected

pytestmark = pytest.mark.django_db(transaction=True)


def _link_second_customer(connected: Connected) -> str:
    tenant = connected.sandbox.demo_customers[1]
    services.tenant_link(
        actor=None,
        customer=connected.cast.customer_two,
        account=connected.basic.vendor.provider_account,
        vendor_customer_id=tenant["tenant_id"],
        domain=tenant["domain"],
    )
    return tenant["tenant_id"]


def _vendor_quantity(connected: Connected, customer_id: str, subscription: Subscription) -> int:
    token = connected.sandbox.admin.access_token(app_only=False, mfa=True)
    with connected.sandbox.client(token) as client:
        response = client.get(
            f"/v1/customers/{customer_id}/subscriptions/{subscription.vendor_subscription_id}"
        )
    response.raise_for_status()
    return response.json()["quantity"]


def _vendor_count(connected: Connected, customer_id: str) -> int:
    token = connected.sandbox.admin.access_token(app_only=False, mfa=True)
    with connected.sandbox.client(token) as client:
        response = client.get(f"/v1/customers/{customer_id}/subscriptions")
    response.raise_for_status()
    return response.json()["totalCount"]


def _order(connected: Connected, customer, quantity: int) -> Subscription:
    line = services.OrderLine(
        offer=connected.basic, quantity=quantity, term="P1M", billing_cycle="monthly"
    )
    order = services.order_place(
        actor=connected.cast.reseller_admin, customer=customer, lines=[line]
    )
    return order.subscriptions.get()


def test_a_throttled_customer_does_not_hold_up_another_customers_operation(connected):
    other_customer_id = _link_second_customer(connected)
    before = (
        _vendor_count(connected, connected.customer_id),
        _vendor_count(connected, other_customer_id),
    )
    # A 429 storm on the first customer only (Retry-After 30 s on every answer).
    connected.sandbox.admin.set_faults(
        script=[
            {
                "method": "*",
                "path": f"/v1/customers/{connected.customer_id}/*",
                "status": 429,
                "times": 40,
            }
        ]
    )
    throttled = _order(connected, connected.cast.customer, 2)  # queued first
    other = _order(connected, connected.cast.customer_two, 3)
    started = clock.now()
    connected.run_worker()

    other.refresh_from_db()
    assert (other.status, other.sync_status) == (Status.ACTIVE, SyncStatus.SYNCHRONIZED)
    done_at = other.operations.get().done_at
    # The worker never sat out the first customer's Retry-After before serving the second.
    assert done_at - started < dt.timedelta(seconds=30)
    throttled.refresh_from_db()
    assert (throttled.status, throttled.sync_error_code) == (Status.PENDING, "429")
    waiting = throttled.operations.get()
    assert waiting.state == OperationState.PENDING
    assert waiting.attempts == 0  # throttling is not a failed attempt
    assert waiting.next_attempt_at >= started + dt.timedelta(seconds=30)

    connected.sandbox.admin.set_faults(script=[])
    connected.clock.sleep(60)
    connected.sweep()
    throttled.refresh_from_db()
    assert (throttled.status, throttled.sync_status) == (Status.ACTIVE, SyncStatus.SYNCHRONIZED)
    assert connected.vendor_subscription(throttled)["quantity"] == 2
    assert _vendor_quantity(connected, other_customer_id, other) == 3
    # One subscription each at the vendor: nothing ordered twice.
    assert _vendor_count(connected, connected.customer_id) == before[0] + 1
    assert _vendor_count(connected, other_customer_id) == before[1] + 1


def test_storms_on_order_creation_and_a_lost_answer_never_order_twice(connected):
    """429s on the cart, 5xx on the checkout, then a checkout the vendor carried out whose
    answer was lost: the order is placed once, and both sides agree."""
    before = _vendor_count(connected, connected.customer_id)
    customer = f"/v1/customers/{connected.customer_id}"
    connected.sandbox.admin.set_faults(
        script=[
            {"method": "POST", "path": f"{customer}/carts", "status": 429, "times": 4},
            {"method": "POST", "path": f"{customer}/carts/*/checkout", "status": 503, "times": 4},
            {"method": "POST", "path": f"{customer}/carts/*/checkout", "status": "lost"},
            {"method": "GET", "path": f"{customer}/orders/*", "status": 502, "times": 2},
        ]
    )
    subscription = _order(connected, connected.cast.customer, 4)
    connected.run_worker()
    for _ in range(12):
        subscription.refresh_from_db()
        if subscription.sync_status == SyncStatus.SYNCHRONIZED:
            break
        connected.clock.sleep(600)
        connected.sweep()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.sync_status) == (
        Status.ACTIVE,
        SyncStatus.SYNCHRONIZED,
    )
    lost = [
        call for call in connected.sandbox.admin.calls(method="POST") if call.get("fault") == "lost"
    ]
    assert len(lost) == 1  # the lost answer did happen
    assert _vendor_count(connected, connected.customer_id) == before + 1
    assert connected.vendor_subscription(subscription)["quantity"] == 4
    operation = subscription.operations.get()
    assert operation.state == OperationState.DONE
