"""Writing the activity log. Called by every service that changes state, inside its transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core import clock

SYSTEM = "system"


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def diff(instance: models.Model, values: dict[str, Any]) -> dict[str, list]:
    """The fields of `instance` that `values` would change, as {field: [old, new]}."""
    changes = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = [_plain(old), _plain(new)]
    return changes


def activity_record(
    *,
    actor,
    organisation,
    obj: models.Model,
    operation: str,
    changes: dict[str, list] | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> ActivityRecord:
    """Append one record, inside the caller's transaction: both commit or neither does."""
    (record,) = activity_records(
        [
            activity_row(
                actor=actor,
                organisation=organisation,
                obj=obj,
                operation=operation,
                changes=changes,
                details=details,
                actor_name=actor_name,
            )
        ]
    )
    return record


def activity_records(records: list[ActivityRecord]) -> list[ActivityRecord]:
    """Append the records `activity_row` built, in one statement, inside the caller's
    transaction (an import writing a record for each of the many objects it creates)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("activity records must be written inside the service's transaction")
    return ActivityRecord.objects.bulk_create(records)


def activity_row(
    *,
    actor,
    organisation,
    obj: models.Model,
    operation: str,
    changes: dict[str, list] | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> ActivityRecord:
    """One record, not yet written (`activity_record` and `activity_records` write it)."""
    payload = dict(details or {})
    if changes:
        payload["changes"] = {key: [_plain(a), _plain(b)] for key, (a, b) in changes.items()}
    user = actor if getattr(actor, "is_authenticated", False) else None
    return ActivityRecord(
        at=clock.now(),
        actor=user,
        actor_name=actor_name or (user.get_username() if user else SYSTEM),
        organisation=organisation,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        operation=operation,
        details=payload,
    )
