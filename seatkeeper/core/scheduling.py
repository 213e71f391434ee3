"""Periodic work (discovery, renewals, provisioning retries…) run by the scheduler in the worker.

Apps register jobs in their AppConfig.ready(); `run_due` enqueues each job whose slot is due.
The claim is `UPDATE … SET next_run_at = … WHERE name = … AND next_run_at <= now`: of several
schedulers racing for one slot exactly one sees "1 row updated" and enqueues.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.tasks import Task

from seatkeeper.core import clock
from seatkeeper.core.models import ScheduleSlot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    every: dt.timedelta
    task: Task
    # Also run when a worker starts: work a crashed worker left is taken over at once.
    at_worker_start: bool = False


PERIODIC: dict[str, Periodic] = {}


def register_periodic(
    name: str, every: dt.timedelta, task: Task, *, at_worker_start: bool = False
) -> None:
    PERIODIC[name] = Periodic(name=name, every=every, task=task, at_worker_start=at_worker_start)


def run_at_worker_start() -> list[str]:
    """Enqueue the jobs that recover work (a worker starts, perhaps after a crash)."""
    started = []
    for job in PERIODIC.values():
        if job.at_worker_start:
            job.task.enqueue()
            started.append(job.name)
    return started


def run_due(now: dt.datetime | None = None) -> list[str]:
    """Enqueue every periodic job that is due; returns the names enqueued by this caller."""
    now = now or clock.now()
    enqueued = []
    for job in PERIODIC.values():
        try:
            with transaction.atomic():
                ScheduleSlot.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
        except IntegrityError:
            pass  # another scheduler created it a moment ago
        claimed = ScheduleSlot.objects.filter(name=job.name, next_run_at__lte=now).update(
            next_run_at=now + job.every, last_run_at=now
        )
        if claimed == 1:
            job.task.enqueue()
            enqueued.append(job.name)
            logger.info("scheduled %s", job.name)
    return enqueued
