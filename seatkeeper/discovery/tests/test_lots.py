"""A run refreshes the seat lots of subscriptions it already knows: what the vendor still
refunds, lot by lot, and the subscription's quantity across its lots."""

from __future__ import annotations

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core import clock
from seatkeeper.discovery import services
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions.models import Status, Subscription

pytestmark = pytest.mark.django_db


def _vendor_lots(connected, subscription) -> set[tuple]:
    with connected.provider() as provider:
        facts = provider.get_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
        )
    now = clock.now()
    return {
        (lot.allowed_until, lot.quantity)
        for lot in facts.refundable_lots
        if lot.quantity > 0 and lot.allowed_until and lot.allowed_until > now
    }


def _our_lots(subscription) -> set[tuple]:
    now = clock.now()
    return {
        (lot.cancellable_until, lot.quantity)
        for lot in subscription.lots.all()
        if lot.cancellable_until and lot.cancellable_until > now and lot.quantity
    }


def _change(connected, subscription, quantity: int) -> None:
    with connected.provider() as provider:
        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(quantity=quantity),
        )


def test_seats_added_and_removed_at_the_vendor_refresh_the_lots_of_a_known_subscription(
    connected,
):
    connected.discover()
    subscription = (
        Subscription.objects.filter(status=Status.ACTIVE, parent__isnull=True, quantity__gte=2)
        .order_by("pk")
        .first()
    )
    lots_before = subscription.lots.count()

    # Three seats bought at the vendor: a new lot, refundable for a week.
    _change(connected, subscription, subscription.quantity + 3)
    run = connected.discover()

    subscription.refresh_from_db()
    assert services.run_figures(run).counts["subscriptions"]["updated"] == 1
    vendor_lots = _vendor_lots(connected, subscription)
    assert (max(until for until, _q in vendor_lots), 3) in vendor_lots
    assert _our_lots(subscription) == vendor_lots
    assert subscription.lots.count() == lots_before + 1
    assert sum(lot.quantity for lot in subscription.lots.all()) == subscription.quantity
    # bought at the vendor: never matched by billing to a quantity change of ours
    assert subscription.lots.order_by("-pk").first().kind == "purchase"
    refresh = subscription.operations.order_by("-sequence").first()
    assert refresh.kind == "refresh" and refresh.payload["run"] == run.pk
    # the history says how many seats are refundable now
    record = (
        ActivityRecord.objects.filter(
            operation="subscription.refresh", object_id=str(subscription.pk)
        )
        .order_by("-pk")
        .first()
    )
    before, after = record.details["changes"]["refundable_seats"]
    assert after == before + 3

    # Two of them given back at the vendor within the window: the lot holds one.
    _change(connected, subscription, subscription.quantity - 2)
    run = connected.discover()

    subscription.refresh_from_db()
    assert _our_lots(subscription) == _vendor_lots(connected, subscription)
    assert sum(lot.quantity for lot in subscription.lots.all()) == subscription.quantity
    assert subscription.lots.count() == lots_before + 1

    # Nothing changed since: a further run leaves the lots alone.
    lots = list(subscription.lots.values_list("pk", "quantity", "cancellable_until"))
    again = connected.discover()
    assert services.run_figures(again).counts["subscriptions"]["updated"] == 0
    assert list(subscription.lots.values_list("pk", "quantity", "cancellable_until")) == lots
