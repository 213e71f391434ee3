"""Discovered subscriptions are billed: a subscription discovery imported from the sandbox (no
order of ours) gets its cycle fees from the billing run, once, and a quantity change adopted
from the vendor is billed as a change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from seatkeeper.billing import charges
from seatkeeper.billing.models import ChargeKind, ChargeLine
from seatkeeper.catalog.models import Offer
from seatkeeper.core import clock
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions.models import OperationKind, Subscription, Tenant

pytestmark = pytest.mark.django_db


def _discovered(connected) -> Subscription:
    connected.discover()
    subscription = (
        Subscription.objects.filter(
            status="active", parent__isnull=True, billing_cycle="monthly", quantity__gt=0
        )
        .order_by("pk")
        .first()
    )
    assert subscription is not None
    assert not subscription.operations.filter(kind=OperationKind.CREATE).exists()
    return subscription


def _bill(connected, day: dt.date):
    """Bill the partner's calendar-month cycle holding `day`, once it has ended."""
    after = dt.datetime(day.year, day.month, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=40)
    with clock.frozen(after):
        return charges.billing_run(account=connected.cast.partner, day=day)


def _lines(subscription: Subscription) -> list[ChargeLine]:
    return list(ChargeLine.objects.filter(subscription=subscription).order_by("pk"))


def _month_after(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=15)


def test_a_discovered_subscription_is_billed_once_for_the_cycle(connected):
    subscription = _discovered(connected)
    # The month after discovery: a whole billing period begins in it.
    month = _month_after(clock.today())

    run = _bill(connected, month)

    fees = _lines(subscription)
    assert [(line.kind, line.quantity) for line in fees] == [
        (ChargeKind.CYCLE_FEE, subscription.quantity)
    ]
    fee = fees[0]
    assert fee.period_start.day == subscription.term_start.day or fee.period_start.day >= 28
    assert fee.partner_cost_amount > Decimal("0")
    assert fee.customer_price_amount == (fee.customer_price_unit * fee.quantity).quantize(
        fee.customer_price_amount
    )
    assert run.lines_created >= 1

    again = _bill(connected, month)

    assert again.lines_created == 0
    assert _lines(subscription) == fees


def test_a_quantity_raised_at_the_vendor_is_billed_as_a_pro_rata(connected):
    subscription = _discovered(connected)
    before = subscription.quantity
    # Mid-month of the month after discovery, the seats are raised in Partner Center.
    month = _month_after(clock.today())
    moment = dt.datetime(month.year, month.month, month.day, 10, tzinfo=dt.UTC)
    with clock.frozen(moment):
        with connected.provider() as provider:
            provider.update_subscription(
                customer_id=subscription.tenant.vendor_customer_id,
                subscription_id=subscription.vendor_subscription_id,
                change=vendor.SubscriptionUpdate(quantity=before + 3),
            )
        connected.discover()
    subscription.refresh_from_db()
    assert subscription.quantity == before + 3
    adopted = subscription.operations.filter(kind=OperationKind.REFRESH).order_by("-pk").first()
    assert adopted.payload["adopted"] == {"quantity": before + 3}

    _bill(connected, month)

    change = [line for line in _lines(subscription) if line.operation_id == adopted.pk]
    assert [(line.kind, line.quantity) for line in change] == [(ChargeKind.PRORATA, 3)]
    assert change[0].details["at_vendor"] is True
    assert Decimal("0") < change[0].partner_cost_amount
    # Less than a whole period of the three seats: only the days left are charged.
    fee = next(line for line in _lines(subscription) if line.kind == ChargeKind.CYCLE_FEE)
    assert change[0].partner_cost_amount < fee.partner_cost_unit * 3

    assert _bill(connected, month).lines_created == 0


def test_a_subscription_cancelled_at_the_vendor_is_refunded_and_no_longer_billed(connected):
    connected.discover()
    tenant = Tenant.objects.order_by("pk").first()
    offer = Offer.objects.filter(kind="service").exclude(catalog_item_id="").order_by("pk").first()
    # Bought in Partner Center, so still inside its 168-hour cancellation window.
    with connected.provider() as provider:
        orders = provider.create_order(
            customer_id=tenant.vendor_customer_id,
            lines=[
                vendor.OrderLine(
                    catalog_item_id=offer.catalog_item_id,
                    quantity=2,
                    term_duration="P1M",
                    billing_cycle=vendor.BillingCycle.MONTHLY,
                )
            ],
            request_key="bought-in-partner-center",
        )
        order = provider.get_order(customer_id=tenant.vendor_customer_id, order_id=orders[0].id)
    vendor_id = next(line.subscription_id for line in order.lines if line.subscription_id)
    connected.discover()
    subscription = Subscription.objects.get(vendor_subscription_id=vendor_id)
    cancelled_on = clock.now() + dt.timedelta(days=2)
    with clock.frozen(cancelled_on):
        with connected.provider() as provider:
            provider.cancel_subscription(
                customer_id=tenant.vendor_customer_id, subscription_id=vendor_id
            )
        connected.discover()
    subscription.refresh_from_db()
    assert subscription.status == "cancelled"
    cancel = subscription.operations.order_by("-sequence").first()
    assert cancel.payload["adopted"] == {"status": "cancelled"}

    _bill(connected, subscription.term_start)
    _bill(connected, cancelled_on.date())

    billed = _lines(subscription)
    fees = [line for line in billed if line.kind == ChargeKind.CYCLE_FEE]
    refunds = [line for line in billed if line.operation_id == cancel.pk]
    assert [(line.quantity, line.period_start) for line in fees] == [(2, subscription.term_start)]
    assert [line.kind for line in refunds] == [ChargeKind.REFUND]
    assert refunds[0].details["cancellation"] is True
    assert Decimal("0") > refunds[0].partner_cost_amount >= -fees[0].partner_cost_amount
    # Nothing after the cancellation: the next month bills nothing, and runs repeat nothing.
    _bill(connected, _month_after(cancelled_on.date()))
    assert _bill(connected, cancelled_on.date()).lines_created == 0
    assert _lines(subscription) == billed
