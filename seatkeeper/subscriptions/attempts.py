"""Every try of an operation, kept: the worker's calls to the vendor and people's decisions.

`Operation.attempts` is the worker's counter for its back-off and starts again at 0 when a person
retries; the `OperationAttempt` rows are the story and are never reset or rewritten.
"""

from __future__ import annotations

import datetime as dt

from seatkeeper.accounts.models import User
from seatkeeper.core import clock
from seatkeeper.subscriptions.models import (
    VENDOR_OUTCOMES,
    WORKER,
    AttemptOutcome,
    Operation,
    OperationAttempt,
)


def record_attempt(
    operation: Operation,
    outcome: str,
    *,
    actor: User | None = None,
    started_at: dt.datetime | None = None,
    vendor_status: str = "",
    error_code: str = "",
    error_message: str = "",
) -> OperationAttempt:
    """Append one row: the worker's try (no `actor`; it started when the worker claimed the
    operation) or a person's decision (now)."""
    now = clock.now()
    person = actor if actor is not None and actor.is_authenticated else None
    return OperationAttempt.objects.create(
        operation=operation,
        at=started_at or now,
        finished_at=now,
        by=person,
        by_name=person.get_username() if person is not None else WORKER,
        outcome=outcome,
        vendor_status=vendor_status[:40],
        error_code=error_code[:40],
        error_message=error_message,
    )


def vendor_tries(operation: Operation) -> int:
    """How many times the worker called the vendor for this operation, across retries."""
    return sum(1 for row in operation.attempt_log.all() if row.outcome in VENDOR_OUTCOMES)


def failed_before(operation: Operation) -> bool:
    return operation.attempt_log.filter(
        outcome__in=[AttemptOutcome.RETRYING, AttemptOutcome.FAILED]
    ).exists()
