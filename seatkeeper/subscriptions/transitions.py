"""The one way a subscription's status changes.

Lifecycles are data (`ALLOWED_TRANSITIONS`); `transition` checks a move against it, makes it and
records it. A change that a person or the end-of-term job asked for is recorded by the operation
that carries it (its activity row holds the `status` change, `record=False` here, and the caller
passes the returned change on); a change nobody asked for in so many words (the vendor finished
setting a subscription up) gets its own `subscription.status` activity row. Either way, no status
moves without a row saying so. Callers lock the subscription and save it.

A status adopted from the vendor (discovery finds it changed or gone at Microsoft) is a fact
already true there, not a request: `adopted=True` takes it whatever the map says, and the
discovery operation that carries it records it (`record=False`, cause `ADOPTED`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from seatkeeper.accounts.models import User
from seatkeeper.activity.services import activity_record
from seatkeeper.core.errors import ServiceError
from seatkeeper.subscriptions.models import Status, Subscription

# The statuses each status may move to.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Status.PENDING: {Status.ACTIVE, Status.CANCELLED},
    Status.ACTIVE: {Status.SUSPENDED, Status.CANCELLED, Status.EXPIRED},
    Status.SUSPENDED: {Status.ACTIVE, Status.CANCELLED, Status.EXPIRED},
    Status.EXPIRED: set(),
    Status.CANCELLED: set(),
}

# Why a status changed without an operation of its own: the `cause` of a `subscription.status`
# activity row (worded in `wording.py`).
PROVISIONED = "provisioned"
ADOPTED = "adopted"


def transition(
    subscription: Subscription,
    to: str,
    *,
    actor: User | None,
    cause: str,
    record: bool = True,
    changes: dict[str, list] | None = None,
    undoing: bool = False,
    adopted: bool = False,
) -> dict[str, list[Any]]:
    """Move `subscription` to `to` if the map allows it; returns the change as
    `{"status": [old, new]}`. With `record` (the default) it writes the activity row itself,
    with any other `changes` that came with it (dates the vendor sent). `undoing` takes back a
    move the vendor refused (cancelled back to active): allowed when the move undone was.
    `adopted` takes the vendor's status as it is (see above)."""
    old = subscription.status
    if adopted:
        allowed = True
    elif undoing:
        allowed = old in ALLOWED_TRANSITIONS[to]
    else:
        allowed = to in ALLOWED_TRANSITIONS[old]
    if not allowed:
        raise ServiceError(
            _("A %(status)s subscription cannot become %(to)s.")
            % {"status": Status(old).label.lower(), "to": Status(to).label.lower()},
            code="invalid_state",
        )
    subscription.status = to
    change = {"status": [old, to]}
    if record:
        activity_record(
            actor=actor,
            organisation=subscription.customer,
            obj=subscription,
            operation="subscription.status",
            changes={**change, **(changes or {})},
            details={"status": to, "cause": cause},
        )
    return change
