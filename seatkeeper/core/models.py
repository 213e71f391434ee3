from __future__ import annotations

from django.db import models

from seatkeeper.core import clock


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(default=clock.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        abstract = True


class ScheduleSlot(models.Model):
    """When a periodic job next falls due. Claimed by a conditional UPDATE, so several schedulers
    (one per worker machine) never enqueue the same run twice."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class WorkerProcess(models.Model):
    """A running `seatkeeper worker`: its lease on the work it claims. The worker renews
    `beat_at` every few seconds; a worker that stopped beating, or whose process is gone from
    its machine, is dead, and what it had claimed can be taken over at once."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
