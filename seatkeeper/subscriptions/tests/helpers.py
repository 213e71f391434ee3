"""Shared by the page, API and export tests: subscriptions ordered and provisioned at a fixed
time, and rights granted to the customer admin."""

from __future__ import annotations

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import Operation, Order, SeatLot, Subscription
from seatkeeper.testing import TEST_NOW

START = TEST_NOW


def order(
    cast,
    shop,
    *,
    actor=None,
    customer=None,
    offer=None,
    quantity=5,
    term="P1Y",
    cycle="monthly",
    name="Office seats",
    parent=None,
    provision=True,
) -> Subscription:
    line = services.OrderLine(
        offer=offer or shop.world.basic,
        quantity=quantity,
        term=term,
        billing_cycle=cycle,
        friendly_name=name,
        parent=parent,
    )
    placed = services.order_place(
        actor=actor or cast.reseller_admin,
        customer=customer or cast.customer,
        lines=[line],
        po_number="PO-1",
    )
    subscription = placed.subscriptions.get()
    if provision and subscription.tenant_id is not None:
        shop.provision(subscription)
    subscription.refresh_from_db()
    return subscription


def grant(cast, **rights) -> None:
    values = {
        "can_order": False,
        "can_increase": False,
        "can_decrease": False,
        "monthly_only": False,
        "can_change_renewal": False,
        **rights,
    }
    services.rights_set(actor=cast.reseller_admin, customer=cast.customer, **values)


def recorded_state(shop) -> dict:
    """What a refused call must leave as it was: every order, subscription, seat lot, operation
    and activity row, and what the vendor holds and was asked. Compare it before and after."""
    return {
        "orders": list(Order.objects.order_by("pk").values()),
        "subscriptions": list(Subscription.objects.order_by("pk").values()),
        "lots": list(SeatLot.objects.order_by("pk").values()),
        "operations": list(Operation.objects.order_by("pk").values()),
        "activity": list(ActivityRecord.objects.order_by("pk").values_list("pk", flat=True)),
        "vendor_calls": list(shop.provider.calls),
        "vendor_subscriptions": dict(shop.provider.subscriptions),
        "vendor_orders": dict(shop.provider.orders),
    }
