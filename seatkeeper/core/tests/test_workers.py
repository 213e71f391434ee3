"""Worker leases: a dead worker is recognised at once on its own machine, or when its lease
lapses elsewhere, and the task rows it left running are settled."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

import pytest
from django_tasks_db.models import DBTaskResult

from seatkeeper.core import clock, workers
from seatkeeper.core.models import WorkerProcess

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


def _gone_pid() -> int:
    """The pid of a process that has exited (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _worker(worker_id: str, *, hostname: str, pid: int, beat_at: dt.datetime) -> WorkerProcess:
    return WorkerProcess.objects.create(
        worker_id=worker_id, hostname=hostname, pid=pid, started_at=beat_at, beat_at=beat_at
    )


def _task_row() -> DBTaskResult:
    """A row of the database queue, as the worker command's db_worker claims them."""
    return DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="seatkeeper.core.tasks.reap_workers",
        backend_name="default",
        run_after=NOW,
    )


@pytest.mark.django_db
def test_a_crashed_worker_on_this_machine_is_reaped_at_once_and_its_task_rows_settle():
    here = socket.gethostname()
    crashed = _worker("crashed", hostname=here, pid=_gone_pid(), beat_at=NOW)
    alive_elsewhere = _worker("elsewhere", hostname="other-host", pid=1, beat_at=NOW)
    silent_elsewhere = _worker(
        "silent", hostname="other-host", pid=2, beat_at=NOW - 2 * workers.liveness()
    )
    left_running = _task_row()
    left_running.claim("crashed")
    still_running = _task_row()
    still_running.claim("elsewhere")

    with clock.frozen(NOW):
        assert sorted(workers.reap()) == ["crashed", "silent"]
        alive = set(workers.living(clock.now()).values_list("worker_id", flat=True))

    assert alive == {"elsewhere"}
    left_running.refresh_from_db()
    still_running.refresh_from_db()
    assert left_running.status == "FAILED"
    assert left_running.exception_class_path == "seatkeeper.core.workers.WorkerDied"
    assert still_running.status == "RUNNING"
    for worker in (crashed, alive_elsewhere, silent_elsewhere):
        worker.refresh_from_db()
    assert (crashed.stopped_at, silent_elsewhere.stopped_at, alive_elsewhere.stopped_at) == (
        NOW,
        NOW,
        None,
    )


@pytest.mark.django_db
def test_a_registered_worker_renews_its_lease_and_leaves_it_when_it_stops():
    with clock.frozen(NOW) as frozen:
        worker_id = workers.register()
        assert workers.current_worker_id() == worker_id
        frozen.advance(seconds=workers.liveness().total_seconds() - 1)
        workers.beat(worker_id)
        frozen.advance(seconds=workers.liveness().total_seconds() - 1)
        assert workers.living(clock.now()).filter(worker_id=worker_id).exists()
        workers.stop(worker_id)
        assert not workers.living(clock.now()).filter(worker_id=worker_id).exists()
    assert workers.current_worker_id() == ""
