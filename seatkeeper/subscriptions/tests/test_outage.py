"""A long vendor outage pauses the account's queue with one notice, instead of turning every
queued operation into a failure e-mailed to somebody; it resumes when the vendor answers."""

from __future__ import annotations

import datetime as dt

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core import clock
from seatkeeper.providers import errors
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.services import OUTAGE_THRESHOLD
from seatkeeper.subscriptions import provisioning, services
from seatkeeper.subscriptions.models import OperationState, SyncStatus

START = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _ordered(cast, shop, count):
    lines = [
        services.OrderLine(offer=shop.world.basic, quantity=5, term="P1Y", billing_cycle="monthly")
        for _ in range(count)
    ]
    order = services.order_place(actor=cast.reseller_admin, customer=cast.customer, lines=lines)
    subscriptions = list(order.subscriptions.order_by("pk"))
    for subscription in subscriptions:
        assert shop.provision(subscription) == "done"
        subscription.refresh_from_db()
    return subscriptions


def test_an_outage_pauses_the_queue_with_one_notice_and_resumes_when_the_vendor_answers(
    cast, shop, mailoutbox, django_capture_on_commit_callbacks
):
    with clock.frozen(START) as frozen:
        subscriptions = _ordered(cast, shop, OUTAGE_THRESHOLD + 2)
        for subscription in subscriptions:
            services.subscription_change_quantity(
                actor=cast.reseller_admin, subscription=subscription, quantity=6
            )
        mailoutbox.clear()
        # The vendor stops answering (what reaches the worker after the connector's retries).
        shop.provider.failures = [
            errors.Unavailable("Partner Center did not answer", http_status=503)
        ] * 100
        with django_capture_on_commit_callbacks(execute=True):
            outcomes = [shop.provision(subscription) for subscription in subscriptions]
        assert outcomes == ["retrying"] * (OUTAGE_THRESHOLD - 1) + ["paused"] * 3

        account = ProviderAccount.objects.get(pk=cast_account(shop).pk)
        assert account.outage_paused_at == START
        assert len(mailoutbox) == 1  # one notice for the outage, to the cloud admins
        assert "not answering" in mailoutbox[0].subject
        assert ActivityRecord.objects.filter(operation="provider_account.outage").count() == 1
        assert not any(
            subscription.operations.filter(state=OperationState.FAILED).exists()
            for subscription in subscriptions
        )

        # Paused: an hour later only one operation probes the vendor.
        frozen.advance(hours=1)
        assert len(provisioning.due_subscription_ids(clock.now())) == 1
        with django_capture_on_commit_callbacks(execute=True):
            probe = provisioning.due_subscription_ids(clock.now())[0]
            assert shop.provision(type(subscriptions[0]).objects.get(pk=probe)) == "paused"
        waiting = subscriptions[-1].operations.get(kind="quantity")
        assert waiting.attempts == 0  # waiting out an outage spends no attempt

        # The vendor answers again: the probe succeeds, the queue resumes, everything is done.
        shop.provider.failures = []
        frozen.advance(hours=1)
        with django_capture_on_commit_callbacks(execute=True):
            probe = provisioning.due_subscription_ids(clock.now())[0]
            assert shop.provision(type(subscriptions[0]).objects.get(pk=probe)) == "done"
        assert ProviderAccount.objects.get(pk=account.pk).outage_since is None
        assert ActivityRecord.objects.filter(operation="provider_account.outage_over").count() == 1
        frozen.advance(hours=1)
        due = provisioning.due_subscription_ids(clock.now())
        assert len(due) == len(subscriptions) - 1
        for subscription in subscriptions:
            shop.provision(subscription)

    for subscription in subscriptions:
        subscription.refresh_from_db()
        assert subscription.sync_status == SyncStatus.SYNCHRONIZED
        assert shop.provider.subscriptions[subscription.vendor_subscription_id].quantity == 6
    assert len(mailoutbox) == 1  # and no failure e-mail per operation


def cast_account(shop):
    return shop.world.vendor.provider_account
