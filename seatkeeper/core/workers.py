"""Which worker processes are alive, so that the work of a dead one is taken over at once.

Each `seatkeeper worker` registers a row (`WorkerProcess`) and renews its lease (`beat_at`) from
a heartbeat thread every HEARTBEAT seconds. A worker is dead when it says it stopped, when it has
not renewed its lease for WORKER_LIVENESS, or, seen from another worker on the same machine, when
its process is gone (a restarted worker recovers a crashed one's work without waiting at all).
Work claimed by a worker records its id (`claimed_by`), so claims can be matched against the
living; the database task queue's rows of a dead worker are settled as failed.

This is bookkeeping on top of the queue, not a queue: Django's tasks framework (database or RQ)
still carries the tasks, and claims stay conditional UPDATEs that a fencing token protects.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.crypto import get_random_string

from seatkeeper.core import clock
from seatkeeper.core.models import WorkerProcess

logger = logging.getLogger(__name__)

_current: str | None = None


class WorkerDied(Exception):
    """Recorded on the task rows a dead worker left running."""


def heartbeat_seconds() -> float:
    return float(getattr(settings, "WORKER_HEARTBEAT_SECONDS", 10))


def liveness() -> dt.timedelta:
    """How long a worker may go without renewing its lease before it counts as dead."""
    return dt.timedelta(seconds=float(getattr(settings, "WORKER_LIVENESS_SECONDS", 60)))


def current_worker_id() -> str:
    """The id of the worker running in this process ("" outside a worker, e.g. in tests)."""
    return _current or ""


def register(worker_id: str | None = None) -> str:
    """Record this process as a living worker; its id is what its claims carry."""
    global _current
    worker_id = worker_id or get_random_string(32)
    now = clock.now()
    WorkerProcess.objects.create(
        worker_id=worker_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        started_at=now,
        beat_at=now,
    )
    _current = worker_id
    return worker_id


def beat(worker_id: str) -> None:
    """Renew the lease. A worker that was only stalled (declared dead meanwhile) comes back to
    life; whatever it had claimed may be another's by now, which the claims' fencing handles."""
    if _current != worker_id:
        return  # stopped (or never started) in this process: no lease to renew
    WorkerProcess.objects.filter(worker_id=worker_id).update(beat_at=clock.now(), stopped_at=None)


def stop(worker_id: str) -> None:
    global _current
    WorkerProcess.objects.filter(worker_id=worker_id).update(stopped_at=clock.now())
    if _current == worker_id:
        _current = None


def living(now: dt.datetime) -> QuerySet[WorkerProcess]:
    return WorkerProcess.objects.filter(stopped_at__isnull=True, beat_at__gte=now - liveness())


def claimed_by_the_dead(now: dt.datetime, field: str = "claimed_by") -> Q:
    """Rows whose `field` names a worker that is not alive (claims outside a worker carry "")."""
    alive = living(now).filter(worker_id=OuterRef(field))
    return ~Q(**{field: ""}) & ~Exists(alive)


def _process_gone(pid: int) -> bool:
    if pid == os.getpid():
        return True  # our pid, another worker id: that worker was an earlier life of this pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap(now: dt.datetime | None = None) -> list[str]:
    """Mark dead workers stopped and settle the task rows they left running; returns their ids."""
    now = now or clock.now()
    me = current_worker_id()
    hostname = socket.gethostname()
    dead = []
    for worker in WorkerProcess.objects.filter(stopped_at__isnull=True).exclude(worker_id=me):
        if worker.beat_at < now - liveness() or (
            worker.hostname == hostname and _process_gone(worker.pid)
        ):
            dead.append(worker.worker_id)
    if dead:
        WorkerProcess.objects.filter(worker_id__in=dead, stopped_at__isnull=True).update(
            stopped_at=now
        )
        logger.warning("workers %s are gone; their work is taken over", ", ".join(dead))
    _settle_task_rows(now)
    # Rows of workers long gone are of no use to anybody.
    WorkerProcess.objects.filter(stopped_at__lt=now - dt.timedelta(days=7)).delete()
    return dead


def _settle_task_rows(now: dt.datetime) -> int:
    """The database queue's rows still RUNNING under a worker that is not alive: failed."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - RQ deployments settle their own jobs
        return 0
    alive = set(living(now).values_list("worker_id", flat=True))
    settled = 0
    for row in DBTaskResult.objects.running():
        last = row.worker_ids[-1] if row.worker_ids else None
        if last is None or last in alive:
            continue
        if not WorkerProcess.objects.filter(worker_id=last).exists():
            continue  # a worker that never registered (db_worker run directly): not ours to judge
        row.set_failed(WorkerDied(f"worker {last} died while running this task"))
        settled += 1
    return settled


def heartbeat_loop(worker_id: str, stop_event: threading.Event) -> None:
    while not stop_event.wait(heartbeat_seconds()):
        try:
            close_old_connections()
            beat(worker_id)
        except Exception:  # the heartbeat must outlive a database hiccup
            logger.exception("worker heartbeat failed")
        finally:
            close_old_connections()
