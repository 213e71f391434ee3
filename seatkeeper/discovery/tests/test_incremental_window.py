"""The window an incremental run reads (issue 9): a world served from the small hours, when its
day's business hours are still to come, and a run begun just after midnight."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from seatkeeper.core import clock
from seatkeeper.discovery import services
from seatkeeper.discovery.models import RunMode, RunState
from seatkeeper.discovery.tests.conftest import serve_world
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions.models import Subscription
from seatkeeper.testing import TEST_NOW

pytestmark = pytest.mark.django_db

# Two minutes past midnight: the demo world holds a subscription bought "today", and the
# previous day is two minutes away.
EARLY = TEST_NOW.replace(hour=0, minute=2, second=0, microsecond=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_world(tmp_path_factory, "discovery-early", start=EARLY)


def _incremental(connected):
    run = services.run_start(actor=None, account=connected.account, enqueue=False, incremental=True)
    assert run.mode == RunMode.INCREMENTAL
    with connected.provider() as provider:
        run = services.run_inline(run, provider=provider)
    assert run.state == RunState.COMPLETED
    return run


def test_with_no_change_at_the_vendor_an_incremental_run_reads_no_customer(connected):
    full = connected.discover()
    assert services.run_figures(full).customers_done > 4

    run = _incremental(connected)

    assert list(run.customers.values_list("vendor_customer_id", flat=True)) == []
    assert services.run_figures(run).customers_total == 0


def test_a_change_stamped_before_midnight_by_a_slower_vendor_clock_is_read(connected):
    """Our run starts at 00:02; the vendor's clock, three minutes behind, dates a change made
    during that run 23:59 the day before: the next run reads the previous day too."""
    connected.discover()
    subscription = Subscription.objects.filter(status="active", parent__isnull=True).first()
    wanted = subscription.quantity + 2
    behind = clock.now() - dt.timedelta(minutes=3)
    assert behind.date() < clock.now().date()
    connected.sandbox.admin.set_clock(behind)
    try:
        with connected.provider() as provider:
            provider.update_subscription(
                customer_id=subscription.tenant.vendor_customer_id,
                subscription_id=subscription.vendor_subscription_id,
                change=vendor.SubscriptionUpdate(quantity=wanted),
            )
    finally:
        connected.sandbox.admin.advance_clock(180)

    run = _incremental(connected)

    assert list(run.customers.values_list("vendor_customer_id", flat=True)) == [
        subscription.tenant.vendor_customer_id
    ]
    subscription.refresh_from_db()
    assert subscription.quantity == wanted
