"""Billing runs in the background: one task per account and cycle, and a daily job that runs the
cycles that ended. Runs are idempotent, so the daily job also runs each account's previous cycle
again: a change the vendor accepted after its cycle was billed is billed then."""

from __future__ import annotations

import datetime as dt
import logging

from django.tasks import task

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.billing import charges, cycles

logger = logging.getLogger(__name__)
CYCLES_RUN_DAILY = 2  # the cycle that just ended and the one before it


@task()
def run_cycle(account_id: int, day: str) -> dict[str, int]:
    account = Organisation.objects.get(pk=account_id)
    run = charges.billing_run(account=account, day=dt.date.fromisoformat(day))
    return {
        "run": run.pk,
        "lines_created": run.lines_created,
        "corrections": run.corrections,
        "problems": len(run.problems),
    }


@task()
def run_ended_cycles() -> int:
    """Enqueue a run for the last ended cycles of every billing account."""
    accounts = Organisation.objects.filter(
        kind__in=[OrganisationKind.PARTNER, OrganisationKind.RESELLER], is_active=True
    )
    enqueued = 0
    for account in accounts:
        for cycle in reversed(cycles.last_ended_cycles(account, CYCLES_RUN_DAILY)):
            run_cycle.enqueue(account_id=account.pk, day=cycle.end.isoformat())
            enqueued += 1
    return enqueued


def register() -> None:
    from seatkeeper.core.scheduling import register_periodic

    register_periodic("billing.run_ended_cycles", dt.timedelta(days=1), run_ended_cycles)
