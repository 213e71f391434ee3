"""Drift scenarios over the sandbox: a quantity changed there, a change there while one of ours
is pending, a subscription cancelled there."""

from __future__ import annotations

import pytest

from seatkeeper.catalog.models import Offer
from seatkeeper.conftest import sign_in
from seatkeeper.discovery import drift
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions import operations as subscription_operations
from seatkeeper.subscriptions.models import Status, Subscription, Tenant

pytestmark = pytest.mark.django_db


def _a_subscription(connected) -> Subscription:
    connected.discover()
    return Subscription.objects.filter(status="active", parent__isnull=True).order_by("pk").first()


def _at_the_vendor(connected, subscription, **change) -> None:
    with connected.provider() as provider:
        if change.pop("cancel", False):
            provider.cancel_subscription(
                customer_id=subscription.tenant.vendor_customer_id,
                subscription_id=subscription.vendor_subscription_id,
            )
            return
        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(**change),
        )


def test_a_quantity_changed_at_the_vendor_is_adopted_without_drift(connected):
    subscription = _a_subscription(connected)
    _at_the_vendor(connected, subscription, quantity=subscription.quantity + 1)

    connected.discover()

    subscription.refresh_from_db()
    assert subscription.vendor_state.quantity == subscription.quantity
    assert drift.differences(subscription) == []


def test_a_change_at_the_vendor_while_ours_is_pending_shows_as_drift(connected, client):
    subscription = _a_subscription(connected)
    ours = subscription.quantity + 5
    subscription_operations.record_operation(
        subscription, "quantity", actor=None, payload={"quantity": ours}
    )
    Subscription.objects.filter(pk=subscription.pk).update(quantity=ours)
    _at_the_vendor(connected, subscription, quantity=subscription.quantity + 1)

    connected.discover()

    subscription.refresh_from_db()
    assert subscription.quantity == ours  # the person's change stands
    assert [(d.field, d.ours, d.vendor) for d in drift.differences(subscription)] == [
        ("quantity", ours, subscription.vendor_state.quantity)
    ]
    assert list(drift.drifting(Subscription.objects.all())) == [subscription.vendor_state]

    sign_in(client, "cloudadmin")
    page = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert 'id="drift"' in page
    report = client.get("/discovery/drift/").content.decode()
    assert f'data-subscription="{subscription.pk}"' in report


def test_one_created_elsewhere_arrives_and_once_cancelled_there_is_cancelled_here(connected):
    connected.discover()
    tenant = Tenant.objects.order_by("pk").first()
    offer = Offer.objects.filter(kind="service").exclude(catalog_item_id="").order_by("pk").first()
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
            request_key="made-in-partner-center",
        )
        order = provider.get_order(customer_id=tenant.vendor_customer_id, order_id=orders[0].id)
    vendor_id = next(line.subscription_id for line in order.lines if line.subscription_id)

    connected.discover()
    subscription = Subscription.objects.get(vendor_subscription_id=vendor_id)
    assert subscription.tenant == tenant and subscription.quantity == 2

    _at_the_vendor(connected, subscription, cancel=True)
    run = connected.discover()

    subscription.refresh_from_db()
    assert subscription.status == Status.CANCELLED
    history = subscription.operations.order_by("-sequence").first()
    assert history.kind == "refresh" and history.payload["run"] == run.pk
    assert drift.differences(subscription) == []
