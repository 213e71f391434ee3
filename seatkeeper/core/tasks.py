"""Background work of the core: keeping the list of living workers true."""

from __future__ import annotations

from django.tasks import task

from seatkeeper.core import workers


@task()
def reap_workers() -> int:
    """Workers that stopped renewing their lease are dead: their task rows are settled (and
    their claims, being theirs, are free for the others)."""
    return len(workers.reap())
