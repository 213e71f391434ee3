from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import OperationState, Status, SyncStatus
from seatkeeper.subscriptions.tests.helpers import recorded_state

START = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _order(cast, shop, *, actor=None, quantity=5, offer=None, term="P1Y", cycle="monthly"):
    line = services.OrderLine(
        offer=offer or shop.world.basic,
        quantity=quantity,
        term=term,
        billing_cycle=cycle,
        friendly_name="Office seats",
    )
    order = services.order_place(
        actor=actor or cast.reseller_admin, customer=cast.customer, lines=[line], po_number="PO-1"
    )
    return order.subscriptions.get()


def test_an_order_is_pending_until_the_vendor_provisions_it(cast, shop):
    with clock.frozen(START):
        subscription = _order(cast, shop)
        assert (subscription.status, subscription.sync_status) == (
            Status.PENDING,
            SyncStatus.PENDING,
        )
        assert shop.provision(subscription) == "done"
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED
    assert subscription.vendor_subscription_id.startswith("sub-")
    assert subscription.commitment_end_date == dt.date(2027, 11, 21)
    assert shop.provider.calls == ["create_order", "get_order", "get_subscription"]


def test_a_retried_create_reuses_the_request_key_and_never_orders_twice(cast, shop):
    from seatkeeper.providers.errors import Unavailable

    with clock.frozen(START) as frozen:
        subscription = _order(cast, shop)
        shop.provider.failures = [Unavailable("gateway timeout", http_status=504)]
        assert shop.provision(subscription) == "retrying"
        subscription.refresh_from_db()
        assert subscription.sync_status == SyncStatus.PENDING
        frozen.advance(minutes=5)
        assert shop.provision(subscription) == "done"
    assert len(shop.provider.orders) == 1


def test_quantity_decrease_only_inside_the_window(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = _order(cast, shop)
        shop.provision(subscription)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=3
        )
        frozen.advance(days=8)
        before = recorded_state(shop)
        with pytest.raises(ServiceError) as refused:
            services.subscription_change_quantity(
                actor=cast.reseller_admin, subscription=subscription, quantity=2
            )
    assert refused.value.code == "window_closed"
    subscription.refresh_from_db()
    assert subscription.quantity == 3
    assert recorded_state(shop) == before


def test_a_stale_page_gets_a_conflict(cast, shop):
    with clock.frozen(START):
        subscription = _order(cast, shop)
        shop.provision(subscription)
        subscription.refresh_from_db()
        seen = subscription.version
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=6, expected_version=seen
        )
        before = recorded_state(shop)
        with pytest.raises(Conflict):
            services.subscription_change_quantity(
                actor=cast.cloud_admin, subscription=subscription, quantity=9, expected_version=seen
            )
    subscription.refresh_from_db()
    assert subscription.quantity == 6
    assert recorded_state(shop) == before


def test_a_customer_admin_needs_the_right(cast, shop):
    with clock.frozen(START):
        nothing = recorded_state(shop)
        with pytest.raises(PermissionRefused) as refused:
            _order(cast, shop, actor=cast.customer_admin)
        assert "order new subscriptions" in refused.value.message
        assert recorded_state(shop) == nothing
        services.rights_set(
            actor=cast.reseller_admin,
            customer=cast.customer,
            can_order=True,
            can_increase=True,
            can_decrease=False,
            monthly_only=False,
            can_change_renewal=False,
        )
        subscription = _order(cast, shop, actor=cast.customer_admin)
        shop.provision(subscription)
        before = recorded_state(shop)
        with pytest.raises(PermissionRefused) as refused:
            services.subscription_suspend(actor=cast.customer_admin, subscription=subscription)
    assert subscription.operations.count() == 1
    assert recorded_state(shop) == before


def test_a_permanent_failure_holds_later_operations_until_retried(
    cast, shop, mailoutbox, django_capture_on_commit_callbacks
):
    from seatkeeper.providers.errors import ValidationFailed

    with clock.frozen(START):
        subscription = _order(cast, shop)
        shop.provision(subscription)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=7
        )
        services.subscription_suspend(actor=cast.reseller_admin, subscription=subscription)
        shop.provider.failures = [
            ValidationFailed("Quantity outside limits", code="2002", http_status=400)
        ]
        with django_capture_on_commit_callbacks(execute=True):
            assert shop.provision(subscription) == "failed"
        subscription.refresh_from_db()
        assert subscription.sync_status == SyncStatus.FAILED
        assert subscription.sync_error_code == "2002"
        states = list(subscription.operations.order_by("sequence").values_list("state", flat=True))
        assert states == [OperationState.DONE, OperationState.FAILED, OperationState.PENDING]
        assert shop.provision(subscription) == "held"
        failed = subscription.operations.get(state=OperationState.FAILED)
        services.operation_retry(actor=cast.reseller_admin, operation=failed)
        assert shop.provision(subscription) == "done"
    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED
    assert shop.provider.subscriptions[subscription.vendor_subscription_id].status == "suspended"
    assert len(mailoutbox) == 1 and "2002" in mailoutbox[0].body
