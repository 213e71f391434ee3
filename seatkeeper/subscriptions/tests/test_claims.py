"""The worker's claim on an operation is fenced: a worker that stalled past its claim and wakes
up after another worker took the operation over changes nothing, at the vendor or here."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from seatkeeper.core import clock
from seatkeeper.providers import errors
from seatkeeper.subscriptions import provisioning, services
from seatkeeper.subscriptions.models import OperationState, SyncStatus

START = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _ordered(cast, shop, quantity=29):
    line = services.OrderLine(
        offer=shop.world.basic, quantity=quantity, term="P1Y", billing_cycle="monthly"
    )
    order = services.order_place(actor=cast.reseller_admin, customer=cast.customer, lines=[line])
    subscription = order.subscriptions.get()
    assert shop.provision(subscription) == "done"
    subscription.refresh_from_db()
    return subscription


def test_a_stalled_worker_resuming_after_its_claim_moved_changes_nothing(cast, shop):
    with clock.frozen(START) as frozen:
        subscription = _ordered(cast, shop)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=30
        )
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=31
        )
        outcomes = []

        def stall_then_let_another_worker_take_over():
            # The first worker read the subscription, then stalled past its claim: another
            # worker takes the operation over and carries out both changes.
            frozen.advance(seconds=provisioning.CLAIM_TIMEOUT.total_seconds() + 60)
            outcomes.append(shop.provision(subscription))

        shop.provider.between_read_and_write = stall_then_let_another_worker_take_over
        outcomes.insert(0, shop.provision(subscription))

    assert outcomes == ["superseded", "done"]
    vendor = shop.provider.subscriptions[subscription.vendor_subscription_id]
    assert vendor.quantity == 31
    assert shop.provider.calls.count("patch") == 2  # 30 then 31, once each
    subscription.refresh_from_db()
    assert (subscription.quantity, subscription.sync_status) == (31, SyncStatus.SYNCHRONIZED)
    states = list(
        subscription.operations.filter(kind="quantity")
        .order_by("sequence")
        .values_list("state", "attempts")
    )
    assert states == [(OperationState.DONE, 2), (OperationState.DONE, 1)]


def test_a_stale_etag_is_not_sent_again_by_a_worker_whose_claim_moved(cast, shop):
    """The claim moves after the first worker's check but before its write lands: the vendor
    refuses the write as stale (2055) and the worker stops instead of reading and sending again."""
    with clock.frozen(START) as frozen:
        subscription = _ordered(cast, shop)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=30
        )
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=31
        )
        checked = []

        def check_then_stall(fence):
            def before_write():
                fence()
                if not checked:
                    checked.append(True)
                    frozen.advance(seconds=provisioning.CLAIM_TIMEOUT.total_seconds() + 60)
                    assert shop.provision(subscription) == "done"

            return before_write

        update = shop.provider.update_subscription

        def update_with_a_stall(**kwargs):
            kwargs["before_write"] = check_then_stall(kwargs["before_write"])
            return update(**kwargs)

        shop.provider.update_subscription = update_with_a_stall
        assert shop.provision(subscription) == "superseded"

    assert shop.provider.subscriptions[subscription.vendor_subscription_id].quantity == 31
    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED


def test_a_stale_etag_on_a_change_already_at_the_vendor_is_done_without_sending_it_again(
    cast, shop
):
    with clock.frozen(START):
        subscription = _ordered(cast, shop)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=30
        )
        vendor_id = subscription.vendor_subscription_id

        def somebody_sets_30():
            current = shop.provider.subscriptions[vendor_id]
            shop.provider.subscriptions[vendor_id] = replace(current, quantity=30)

        shop.provider.between_read_and_write = somebody_sets_30
        assert shop.provision(subscription) == "done"
    assert shop.provider.calls.count("patch") == 0
    assert shop.provider.subscriptions[vendor_id].quantity == 30


def test_a_result_is_recorded_only_by_the_claims_holder(cast, shop):
    with clock.frozen(START):
        subscription = _ordered(cast, shop)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=30
        )
        operation = subscription.operations.get(kind="quantity")
        token = provisioning._claim(operation, clock.now())
        operation.refresh_from_db()
        assert operation.claim_token == token
        type(operation).objects.filter(pk=operation.pk).update(claim_token=None)
        facts = shop.provider.subscriptions[subscription.vendor_subscription_id]
        try:
            provisioning._succeeded(operation, facts)
        except provisioning.ClaimLost:
            pass
        else:
            raise AssertionError("a lost claim recorded its result")
        provisioning._failed(operation, errors.Unavailable("down", http_status=503))
    operation.refresh_from_db()
    assert (operation.state, operation.error_code) == (OperationState.RUNNING, "")


def test_an_operation_of_a_worker_that_died_is_taken_over_at_once(cast, shop):
    from seatkeeper.core import workers
    from seatkeeper.core.models import WorkerProcess

    with clock.frozen(START):
        subscription = _ordered(cast, shop)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=30
        )
        operation = subscription.operations.get(kind="quantity")
        # A worker claimed it a moment ago and is still alive...
        dying = workers.register()
        assert provisioning._claim(operation, clock.now())
        workers._current = None
        assert shop.provision(subscription) == "busy"
        assert subscription.pk not in provisioning.due_subscription_ids(clock.now())
        # ...then its process is gone (reaped by the next worker to start): no claim timeout.
        WorkerProcess.objects.filter(worker_id=dying).update(stopped_at=clock.now())
        assert provisioning.due_subscription_ids(clock.now()) == [subscription.pk]
        assert shop.provision(subscription) == "done"
    operation.refresh_from_db()
    assert (operation.state, operation.attempts) == (OperationState.DONE, 2)
    assert shop.provider.subscriptions[subscription.vendor_subscription_id].quantity == 30


def test_a_worker_dying_right_after_the_last_success_leaves_the_subscription_synchronized(
    cast, shop
):
    with clock.frozen(START):
        subscription = _ordered(cast, shop)
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=30
        )
        operation = subscription.operations.get(kind="quantity")
        assert provisioning._claim(operation, clock.now())
        operation.refresh_from_db()
        # The worker records the vendor's answer and dies before looking for more work.
        provisioning._execute(operation, lambda account: shop.provider)
    subscription.refresh_from_db()
    assert (subscription.quantity, subscription.sync_status) == (30, SyncStatus.SYNCHRONIZED)
