from __future__ import annotations

import datetime as dt

import pytest
from django.tasks import task

from seatkeeper.core import scheduling
from seatkeeper.core.models import ScheduleSlot

RUNS: list[str] = []


@task()
def remember() -> None:
    RUNS.append("ran")


@pytest.fixture
def periodic(monkeypatch):
    monkeypatch.setattr(scheduling, "PERIODIC", {})
    scheduling.register_periodic("test.remember", dt.timedelta(hours=1), remember)
    RUNS.clear()
    return scheduling


@pytest.mark.django_db
def test_a_due_job_runs_once_however_many_schedulers_ask(periodic):
    moment = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    assert periodic.run_due(moment) == ["test.remember"]
    assert periodic.run_due(moment) == []  # a second scheduler at the same moment gets nothing
    assert RUNS == ["ran"]
    assert ScheduleSlot.objects.get(name="test.remember").next_run_at == moment + dt.timedelta(
        hours=1
    )
    assert periodic.run_due(moment + dt.timedelta(minutes=59)) == []
    assert periodic.run_due(moment + dt.timedelta(hours=1)) == ["test.remember"]
    assert RUNS == ["ran", "ran"]
