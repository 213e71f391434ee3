"""`seatkeeper worker`: run background tasks, with the periodic scheduler beside them.

On one machine tasks wait in the database (django-tasks-db); with REDIS_URL set the same tasks
go through RQ, and any number of these workers can run on any number of machines.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from seatkeeper.core import workers
from seatkeeper.core.scheduling import run_at_worker_start, run_due

logger = logging.getLogger(__name__)
SCHEDULER_INTERVAL_SECONDS = 15


def _scheduler_loop(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            close_old_connections()
            run_due()
        except Exception:  # the scheduler must outlive one bad round (a locked database, say)
            logger.exception("scheduler round failed")
        finally:
            close_old_connections()
        stop.wait(SCHEDULER_INTERVAL_SECONDS)


class Command(BaseCommand):
    help = "Run background tasks and the periodic scheduler."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--queue", default="default")
        parser.add_argument("--no-scheduler", action="store_true", help="Only run tasks.")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument(
            "--rq-worker-class",
            default=None,
            help="RQ worker class (default: RQ's forking Worker; rq.worker.SimpleWorker runs jobs "
            "in this process)",
        )

    def handle(
        self,
        *args,
        queue: str,
        no_scheduler: bool,
        batch: bool,
        rq_worker_class: str | None,
        **options,
    ) -> None:
        stop = threading.Event()
        # This worker's lease: claims carry its id, a heartbeat keeps it alive. Workers that
        # died (on this machine: whose process is gone) are reaped now, and the recovery jobs
        # run at once, so their operations do not wait for any timeout.
        worker_id = workers.register()
        threading.Thread(
            target=workers.heartbeat_loop, args=(worker_id, stop), daemon=True, name="heartbeat"
        ).start()
        workers.reap()
        if not batch:
            run_at_worker_start()
        if not no_scheduler and not batch:
            threading.Thread(
                target=_scheduler_loop, args=(stop,), daemon=True, name="scheduler"
            ).start()
        try:
            if settings.TASKS["default"]["BACKEND"].startswith("django_tasks_rq."):
                extra = {"worker_class": rq_worker_class} if rq_worker_class else {}
                call_command(
                    "rqworker", queue, job_class="django_tasks_rq.Job", burst=batch, **extra
                )
            else:
                call_command(
                    "db_worker",
                    queue_name=queue,
                    reload=False,
                    batch=batch,
                    startup_delay=False,
                    worker_id=worker_id,
                )
        finally:
            stop.set()
            workers.stop(worker_id)
