from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.subscriptions import lifecycle, notifications, services, tasks
from seatkeeper.subscriptions.models import (
    LotKind,
    OperationState,
    RenewalOption,
    Status,
    Subscription,
    SyncStatus,
)

START = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _active(cast, shop, *, quantity=5, term="P1M", cycle="monthly") -> Subscription:
    line = services.OrderLine(
        offer=shop.world.basic, quantity=quantity, term=term, billing_cycle=cycle
    )
    subscription = services.order_place(
        actor=cast.reseller_admin, customer=cast.customer, lines=[line]
    ).subscriptions.get()
    shop.provision(subscription)
    subscription.refresh_from_db()
    return subscription


def test_renewal_applies_the_scheduled_changes_and_opens_a_new_window(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = _active(cast, shop, term="P1Y", cycle="monthly")
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin,
            subscription=subscription,
            quantity=3,
            term="P1M",
            billing_cycle="monthly",
        )
        end = subscription.commitment_end_date
        frozen.set(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(1), tzinfo=dt.UTC))
        assert lifecycle.run(clock.now()) == {"renewed": 1, "expired": 0}
        assert lifecycle.run(clock.now()) == {
            "renewed": 0,
            "expired": 0,
        }  # a second run does nothing
    subscription.refresh_from_db()
    assert (subscription.quantity, subscription.term) == (3, "P1M")
    assert subscription.term_start == end + dt.timedelta(days=1)
    assert subscription.renewal_quantity is None and subscription.renewal_term == ""
    lot = subscription.lots.get(quantity__gt=0)
    assert lot.kind == LotKind.RENEWAL and lot.quantity == 3
    assert lot.cancellable_until == lot.purchased_at + dt.timedelta(hours=168)
    assert subscription.operations.order_by("-sequence").first().kind == "renew"


def test_without_auto_renew_the_subscription_expires(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = _active(cast, shop)
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.NONE
        )
        frozen.set(
            dt.datetime.combine(
                subscription.commitment_end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            )
        )
        assert lifecycle.run(clock.now()) == {"renewed": 0, "expired": 1}
    subscription.refresh_from_db()
    assert subscription.status == Status.EXPIRED
    assert not subscription.lots.filter(quantity__gt=0).exists()


def test_renew_once_turns_auto_renew_off_after_the_renewal(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = _active(cast, shop)
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.ONCE
        )
        frozen.set(
            dt.datetime.combine(
                subscription.commitment_end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            )
        )
        lifecycle.run(clock.now())
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert (subscription.auto_renew, subscription.renewal_option) == (False, RenewalOption.NONE)


def test_a_trial_converts_only_with_auto_renew_on(cast, shop):
    with clock.frozen(START) as frozen:
        converting = _active(cast, shop)
        ending = _active(cast, shop)
        Subscription.objects.filter(pk__in=[converting.pk, ending.pk]).update(is_trial=True)
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=ending, option=RenewalOption.NONE
        )
        frozen.set(
            dt.datetime.combine(
                converting.commitment_end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            )
        )
        lifecycle.run(clock.now())
    converting.refresh_from_db()
    ending.refresh_from_db()
    assert (converting.status, converting.is_trial) == (Status.ACTIVE, False)
    assert ending.status == Status.EXPIRED


def test_scheduled_changes_survive_a_vendor_refresh(cast, shop):
    with clock.frozen(START):
        subscription = _active(cast, shop, term="P1Y")
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin, subscription=subscription, quantity=2
        )
        Subscription.objects.filter(pk=subscription.pk).update(commitment_end_date=None)
        from seatkeeper.subscriptions import tasks as module

        module_get_provider = module.get_provider
        module.get_provider = lambda account: shop.provider
        try:
            assert tasks.refresh_vendor_facts.call() == 1
        finally:
            module.get_provider = module_get_provider
    subscription.refresh_from_db()
    assert subscription.commitment_end_date == dt.date(2027, 11, 21)  # fetched again
    assert subscription.renewal_quantity == 2  # untouched by the sync


def test_schedule_at_renewal_needs_auto_renew(cast, shop):
    with clock.frozen(START):
        subscription = _active(cast, shop)
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.NONE
        )
        with pytest.raises(ServiceError):
            services.subscription_schedule_renewal(
                actor=cast.reseller_admin, subscription=subscription, quantity=2
            )


def test_manual_vendor_orders_wait_for_a_person(cast, shop):
    with clock.frozen(START):
        line = services.OrderLine(
            offer=shop.world.uc_business, quantity=4, term="P1M", billing_cycle="monthly"
        )
        subscription = services.order_place(
            actor=cast.reseller_admin, customer=cast.customer, lines=[line]
        ).subscriptions.get()
        operation = subscription.operations.get()
        assert operation.state == OperationState.AWAITING_FULFILMENT
        with pytest.raises(PermissionRefused):
            services.fulfilment_complete(
                actor=cast.reseller_admin, operation=operation, vendor_reference="X"
            )
        services.fulfilment_complete(
            actor=cast.operator, operation=operation, vendor_reference="UC-7781"
        )
    subscription.refresh_from_db()
    assert (subscription.status, subscription.sync_status) == (
        Status.ACTIVE,
        SyncStatus.SYNCHRONIZED,
    )
    assert subscription.vendor_subscription_id == "UC-7781"
    assert subscription.commitment_end_date == dt.date(2026, 12, 21)


def test_a_rejected_manual_order_says_why(cast, shop):
    with clock.frozen(START):
        line = services.OrderLine(
            offer=shop.world.uc_business, quantity=4, term="P1M", billing_cycle="monthly"
        )
        subscription = services.order_place(
            actor=cast.reseller_admin, customer=cast.customer, lines=[line]
        ).subscriptions.get()
        services.fulfilment_reject(
            actor=cast.cloud_admin,
            operation=subscription.operations.get(),
            reason="Customer not eligible for Business in Belgium",
        )
    subscription.refresh_from_db()
    assert subscription.status == Status.CANCELLED
    assert subscription.sync_status == SyncStatus.FAILED
    assert subscription.sync_error_message == "Customer not eligible for Business in Belgium"


def test_closing_windows_are_reminded_once_in_the_recipients_language(cast, shop, mailoutbox):
    from seatkeeper.accounts import services as accounts_services

    accounts_services.user_update(actor=cast.cloud_admin, user=cast.customer_admin, language="fr")
    with clock.frozen(START) as frozen:
        _active(cast, shop, quantity=5)
        frozen.advance(hours=130)
        assert (
            notifications.closing_windows(clock.now()) == 2
        )  # the customer admin and the reseller admin
        assert notifications.closing_windows(clock.now()) == 0
    by_address = {message.to[0]: message for message in mailoutbox}
    assert "5" in by_address["customeradmin@test.example"].body
    assert by_address["customeradmin@test.example"].subject.startswith("Derniers jours")
    assert by_address["reselleradmin@test.example"].subject.startswith("Last days")


def test_a_manual_vendor_shrinks_after_the_window_without_a_refund(cast, shop):
    with clock.frozen(START) as frozen:
        line = services.OrderLine(
            offer=shop.world.uc_business, quantity=4, term="P1M", billing_cycle="monthly"
        )
        subscription = services.order_place(
            actor=cast.reseller_admin, customer=cast.customer, lines=[line]
        ).subscriptions.get()
        services.fulfilment_complete(
            actor=cast.operator, operation=subscription.operations.get(), vendor_reference="UC-1"
        )
        frozen.advance(days=10)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=2
        )
    subscription.refresh_from_db()
    operation = subscription.operations.order_by("-sequence").first()
    assert subscription.quantity == 2
    assert operation.state == OperationState.AWAITING_FULFILMENT
    assert operation.payload["adjustment"] == "0"
