"""Real worker processes on PostgreSQL against the sandbox: a worker killed mid-batch, and a
worker stalled until its claim moved. Each ends with every operation done exactly once, nothing
ordered twice at the vendor, and both sides equal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

import seatkeeper.settings as configured
from seatkeeper.core import clock
from seatkeeper.core import workers as workers_module
from seatkeeper.core.models import WorkerProcess
from seatkeeper.subscriptions import provisioning, services, tasks
from seatkeeper.subscriptions.models import Operation, OperationState, Status, SyncStatus
from seatkeeper.subscriptions.tests import test_sandbox_path
from seatkeeper.subscriptions.tests.test_worker_faults import (
    _link_second_customer,
    _order,
    _vendor_count,
    _vendor_quantity,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="worker processes share a server database"
    ),
    pytest.mark.skipif(
        bool(configured.REDIS_URL), reason="these workers run the database queue (one machine)"
    ),
]

connected = test_sandbox_path.connected
LIVENESS_SECONDS = 3
PATIENCE_SECONDS = 120  # how long a condition may take before the test gives up


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "SEATKEEPER_WORKER_HEARTBEAT_SECONDS": "1",
            "SEATKEEPER_WORKER_LIVENESS_SECONDS": str(LIVENESS_SECONDS),
        }
        env.pop("REDIS_URL", None)
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own manage.py, no outside input
            [sys.executable, str(_manage_py()), "worker", "--no-scheduler"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def worker_id(self, process: subprocess.Popen) -> str:
        wait_for(lambda: WorkerProcess.objects.filter(pid=process.pid).exists())
        return WorkerProcess.objects.filter(pid=process.pid).latest("started_at").worker_id

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _manage_py() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "manage.py").exists():
            return parent / "manage.py"
    raise RuntimeError("manage.py not found")


def wait_for(condition: Callable[[], bool], *, what: str = "condition") -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def workers(connected, tmp_path, settings) -> Iterator[Workers]:
    # The worker processes live in real time: so does this test (the sandbox keeps its own clock).
    settings.WORKER_LIVENESS_SECONDS = LIVENESS_SECONDS
    previous = clock._fixed
    clock._set(None)
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        clock._set(previous)


def _all_done() -> bool:
    return not Operation.objects.exclude(state=OperationState.DONE).exists()


def test_a_worker_killed_mid_batch_and_restarted_loses_nothing_and_orders_nothing_twice(
    connected, workers
):
    other_customer_id = _link_second_customer(connected)
    before = (
        _vendor_count(connected, connected.customer_id),
        _vendor_count(connected, other_customer_id),
    )
    connected.sandbox.admin.set_faults(latency_ms=150)  # each call takes a moment
    first = workers.start("first")
    first_id = workers.worker_id(first)
    customers = [connected.cast.customer, connected.cast.customer_two]
    placed = [_order(connected, customers[n % 2], n + 1) for n in range(6)]
    wait_for(
        lambda: Operation.objects.filter(
            state=OperationState.RUNNING, claimed_by=first_id
        ).exists(),
        what="the first worker's claim",
    )
    second = workers.start("second")
    first.kill()  # SIGKILL, in the middle of an operation
    first.wait()
    workers.start("restarted")  # on the same machine: it sees the first one's process is gone
    wait_for(_all_done, what="every operation done")

    for number, subscription in enumerate(placed, start=1):
        subscription.refresh_from_db()
        assert (subscription.status, subscription.sync_status) == (
            Status.ACTIVE,
            SyncStatus.SYNCHRONIZED,
        )
        customer_id = connected.customer_id if number % 2 else other_customer_id
        assert _vendor_quantity(connected, customer_id, subscription) == number
    assert _vendor_count(connected, connected.customer_id) == before[0] + 3
    assert _vendor_count(connected, other_customer_id) == before[1] + 3
    # The killed worker's task row settled; nothing is left running.
    wait_for(lambda: not DBTaskResult.objects.running().exists(), what="task rows settled")
    assert WorkerProcess.objects.get(worker_id=first_id).stopped_at is not None
    assert second.poll() is None


def test_a_stalled_worker_resuming_after_its_claim_moved_changes_nothing(connected, workers):
    subscription = _order(connected, connected.cast.customer, 29)
    stalled = workers.start("stalled")
    stalled_id = workers.worker_id(stalled)
    wait_for(_all_done, what="the order")
    subscription.refresh_from_db()

    connected.sandbox.admin.set_faults(latency_ms=400)
    services.subscription_change_quantity(
        actor=connected.cast.reseller_admin, subscription=subscription, quantity=30
    )
    wait_for(
        lambda: Operation.objects.filter(
            state=OperationState.RUNNING, claimed_by=stalled_id
        ).exists(),
        what="the stalled worker's claim",
    )
    os.kill(stalled.pid, signal.SIGSTOP)  # stalled mid-operation: no heartbeat, no progress
    subscription.refresh_from_db()
    services.subscription_change_quantity(
        actor=connected.cast.reseller_admin, subscription=subscription, quantity=31
    )
    workers.start("taker")
    # Its lease lapses; the sweep hands the operation to the other worker.
    wait_for(
        lambda: not workers_module.living(clock.now()).filter(worker_id=stalled_id).exists(),
        what="the lease to lapse",
    )
    assert subscription.pk in provisioning.due_subscription_ids(clock.now())
    tasks.provisioning_sweep.call()
    wait_for(_all_done, what="both changes done by the other worker")
    os.kill(stalled.pid, signal.SIGCONT)  # it wakes up with its old claim, sees it gone, stops
    wait_for(
        lambda: DBTaskResult.objects.successful().filter(return_value="superseded").exists(),
        what="the stalled worker to give up its operation",
    )

    subscription.refresh_from_db()
    assert (subscription.quantity, subscription.sync_status) == (31, SyncStatus.SYNCHRONIZED)
    assert connected.vendor_subscription(subscription)["quantity"] == 31
    changes = list(
        subscription.operations.filter(kind="quantity")
        .order_by("sequence")
        .values_list("payload__quantity", "state")
    )
    assert changes == [(30, OperationState.DONE), (31, OperationState.DONE)]
    first_change = subscription.operations.get(kind="quantity", payload__quantity=30)
    assert first_change.attempts == 2  # claimed by the stalled worker, then by the other
    assert stalled.poll() is None  # alive again, and harmless
    wait_for(
        lambda: WorkerProcess.objects.get(worker_id=stalled_id).stopped_at is None,
        what="the stalled worker's lease renewed",
    )
