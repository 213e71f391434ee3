"""Changes at renewal reach the vendor: scheduled, removed, dropped by a mid-term quantity change
as Partner Center drops them, and "renew once" turns auto-renew off there only after the vendor
has renewed."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from seatkeeper.core import clock
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions import lifecycle, services
from seatkeeper.subscriptions.models import (
    OperationKind,
    OperationState,
    RenewalOption,
    Subscription,
    SyncStatus,
)
from seatkeeper.subscriptions.provisioning import RENEWAL_POLL
from seatkeeper.subscriptions.tests.helpers import START, order


def _at_vendor(shop, subscription: Subscription) -> vendor.Subscription:
    subscription.refresh_from_db()
    return shop.provider.subscriptions[subscription.vendor_subscription_id]


def _provisioned(shop, subscription: Subscription) -> None:
    assert shop.provision(subscription) == "done"
    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED


def test_scheduled_changes_are_sent_to_the_vendor_and_removed_there(cast, shop):
    with clock.frozen(START):
        subscription = order(cast, shop, quantity=5, term="P1Y", cycle="monthly")
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin,
            subscription=subscription,
            quantity=3,
            term="P1Y",
            billing_cycle="annual",
        )
        operation = subscription.operations.get(kind=OperationKind.SCHEDULE_RENEWAL)
        assert operation.state == OperationState.PENDING  # recorded before it is sent
        _provisioned(shop, subscription)
        assert _at_vendor(shop, subscription).next_term == vendor.NextTerm(
            quantity=3, term_duration="P1Y", billing_cycle=vendor.BillingCycle.ANNUAL
        )
        assert _at_vendor(shop, subscription).quantity == 5  # nothing changes before renewal
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin, subscription=subscription, quantity=None
        )
        _provisioned(shop, subscription)
    assert _at_vendor(shop, subscription).next_term is None


def test_a_quantity_change_drops_the_scheduled_changes_and_says_so(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = order(cast, shop, quantity=5, term="P1Y")
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin, subscription=subscription, quantity=2
        )
        _provisioned(shop, subscription)
        frozen.advance(hours=1)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=6
        )
        _provisioned(shop, subscription)
    assert subscription.renewal_quantity is None and not subscription.has_scheduled_changes
    change = subscription.operations.get(kind=OperationKind.QUANTITY)
    assert change.payload["renewal_changes_cleared"] is True
    assert _at_vendor(shop, subscription).next_term is None
    assert _at_vendor(shop, subscription).quantity == 6


def test_convert_to_monthly_is_scheduled_and_survives_a_quantity_change(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = order(cast, shop, quantity=5, term="P1Y")
        services.subscription_set_renewal(
            actor=cast.reseller_admin,
            subscription=subscription,
            option=RenewalOption.CONVERT_TO_MONTHLY,
        )
        _provisioned(shop, subscription)
        monthly = vendor.NextTerm(
            quantity=5, term_duration="P1M", billing_cycle=vendor.BillingCycle.MONTHLY
        )
        assert _at_vendor(shop, subscription).next_term == monthly
        frozen.advance(hours=1)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=7
        )
        _provisioned(shop, subscription)
    # The quantity change dropped the instructions at the vendor; the standing choice is sent
    # again with the new quantity.
    assert _at_vendor(shop, subscription).next_term == replace(monthly, quantity=7)
    kinds = list(subscription.operations.order_by("sequence").values_list("kind", flat=True))
    assert kinds[-2:] == [OperationKind.QUANTITY, OperationKind.SCHEDULE_RENEWAL]


def test_auto_renew_off_drops_the_changes_and_on_again_sends_them_back(cast, shop):
    with clock.frozen(START):
        subscription = order(cast, shop, quantity=5, term="P1Y")
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin, subscription=subscription, quantity=4
        )
        _provisioned(shop, subscription)
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.NONE
        )
        _provisioned(shop, subscription)
        assert _at_vendor(shop, subscription).auto_renew is False
        assert _at_vendor(shop, subscription).next_term is None
        assert subscription.renewal_quantity == 4  # kept here, for when it renews again
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.EVERY_TIME
        )
        _provisioned(shop, subscription)
    assert _at_vendor(shop, subscription).auto_renew is True
    assert _at_vendor(shop, subscription).next_term.quantity == 4


def test_renew_once_turns_auto_renew_off_at_the_vendor_after_it_renewed(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = order(cast, shop, quantity=5, term="P1Y")
        services.subscription_set_renewal(
            actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.ONCE
        )
        _provisioned(shop, subscription)
        old_end = subscription.commitment_end_date
        assert _at_vendor(shop, subscription).commitment_end == old_end
        frozen.set(dt.datetime.combine(old_end + dt.timedelta(days=1), dt.time(1), tzinfo=dt.UTC))
        assert lifecycle.run(clock.now())["renewed"] == 1
        subscription.refresh_from_db()
        assert subscription.sync_status == SyncStatus.PENDING
        # Partner Center has not renewed yet: turning auto-renew off now would stop the renewal.
        assert shop.provision(subscription) == "waiting"
        assert _at_vendor(shop, subscription).auto_renew is True
        vendor_id = subscription.vendor_subscription_id
        shop.provider.subscriptions[vendor_id] = replace(
            shop.provider.subscriptions[vendor_id], commitment_end=subscription.commitment_end_date
        )
        frozen.advance(seconds=RENEWAL_POLL.total_seconds() - 1)
        assert shop.provision(subscription) == "busy"  # not looked at again before its time
        frozen.advance(seconds=1)
        _provisioned(shop, subscription)
    assert _at_vendor(shop, subscription).auto_renew is False
    assert subscription.auto_renew is False


def test_a_manual_vendors_changes_at_renewal_stay_here(cast, shop):
    with clock.frozen(START):
        subscription = order(cast, shop, offer=shop.world.uc_business, quantity=4, term="P1M")
        services.fulfilment_complete(
            actor=cast.operator,
            operation=subscription.operations.get(),
            vendor_reference="UC-7781",
        )
        subscription.refresh_from_db()
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin, subscription=subscription, quantity=6
        )
    operation = subscription.operations.get(kind=OperationKind.SCHEDULE_RENEWAL)
    assert operation.state == OperationState.DONE
    assert operation.payload["next_term"] == {
        "quantity": 6,
        "term": "P1M",
        "billing_cycle": "monthly",
    }


def test_facts_of_the_ended_term_do_not_undo_the_renewal_here(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = order(cast, shop, quantity=5, term="P1Y")
        old_end = subscription.commitment_end_date
        frozen.set(dt.datetime.combine(old_end + dt.timedelta(days=1), dt.time(1), tzinfo=dt.UTC))
        assert lifecycle.run(clock.now())["renewed"] == 1
        subscription.refresh_from_db()
        new_end, new_window = (
            subscription.commitment_end_date,
            subscription.cancellation_allowed_until,
        )
        # Partner Center has not renewed yet; a change sent now reads the old term back.
        services.subscription_edit_details(
            actor=cast.reseller_admin, subscription=subscription, friendly_name="Renamed"
        )
        _provisioned(shop, subscription)
        assert _at_vendor(shop, subscription).commitment_end == old_end
        assert (subscription.commitment_end_date, subscription.cancellation_allowed_until) == (
            new_end,
            new_window,
        )
        assert lifecycle.run(clock.now())["renewed"] == 0
