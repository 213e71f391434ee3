"""Incremental runs from Partner Center's audit records, and the schedule per account."""

from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.core import clock
from seatkeeper.discovery import services
from seatkeeper.discovery.models import DiscoveryRun, RunMode, RunState, Schedule, Trigger
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


def _change_quantity_at_the_vendor(connected, subscription: Subscription, quantity: int) -> None:
    with connected.provider() as provider:
        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(quantity=quantity),
        )


def test_an_incremental_run_reads_only_the_customers_that_changed(connected):
    full = connected.discover()
    total = services.run_figures(full).customers_total
    subscription = Subscription.objects.filter(status="active", parent__isnull=True).first()
    wanted = subscription.quantity + 3
    _change_quantity_at_the_vendor(connected, subscription, wanted)

    run = services.run_start(actor=None, account=connected.account, enqueue=False, incremental=True)
    assert run.mode == RunMode.INCREMENTAL and run.since == full.started_at
    with connected.provider() as provider:
        run = services.run_inline(run, provider=provider)

    assert run.state == RunState.COMPLETED
    figures = services.run_figures(run)
    assert list(run.customers.values_list("vendor_customer_id", flat=True)) == [
        subscription.tenant.vendor_customer_id
    ]
    assert figures.customers_total < total
    assert figures.counts["subscriptions"]["updated"] == 1
    subscription.refresh_from_db()
    assert subscription.quantity == wanted
    assert figures.calls < services.run_figures(full).calls


def test_without_an_earlier_run_an_incremental_run_is_a_full_one(connected):
    run = services.run_start(actor=None, account=connected.account, enqueue=False, incremental=True)
    assert run.mode == RunMode.FULL


def test_the_schedule_starts_incremental_runs_and_a_weekly_full_one(connected, monkeypatch):
    started = []
    monkeypatch.setattr(
        services,
        "_enqueue_listing",
        lambda run: started.append(run.pk),
    )
    connected.discover()
    schedule = services.schedule_for(connected.account)
    assert schedule.enabled and schedule.every_hours == 12

    # Not due yet: nothing starts.
    assert services.start_scheduled(clock.now()) == []

    later = clock.now() + dt.timedelta(hours=12, minutes=1)
    first = services.start_scheduled(later)
    assert [run.mode for run in first] == [RunMode.INCREMENTAL]
    assert first[0].trigger == Trigger.SCHEDULE
    # The slot is taken: a second scheduler at the same moment starts nothing.
    assert services.start_scheduled(later) == []
    DiscoveryRun.objects.filter(pk=first[0].pk).update(state=RunState.COMPLETED)

    week_later = clock.now() + dt.timedelta(days=7, hours=1)
    second = services.start_scheduled(week_later)
    assert [run.mode for run in second] == [RunMode.FULL]

    services.schedule_set(
        actor=connected.cast.cloud_admin, account=connected.account, enabled=False, every_hours=6
    )
    DiscoveryRun.objects.filter(pk=second[0].pk).update(state=RunState.COMPLETED)
    assert services.start_scheduled(week_later + dt.timedelta(days=30)) == []
    assert Schedule.objects.get().every_hours == 6
