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
