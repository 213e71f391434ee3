"""What every change to a subscription shares: the lock, the price of new seats and the record.

`lock` takes the subscription row for a change (and refuses one made from a stale page),
`unit_price` is what new seats cost the customer, and `record_operation` appends the operation
(the subscription's history and the worker's to-do) with its activity row. The services, the
provisioning worker, the end-of-term job and discovery all write through here, so none of them
needs another's module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.accounts.selectors import partner_of
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.activity.services import activity_records, activity_row
from seatkeeper.catalog.models import Offer
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict
from seatkeeper.core.formatting import format_datetime
from seatkeeper.core.money import Money
from seatkeeper.pricing.engine import PriceRequest, PricingContext
from seatkeeper.subscriptions.models import (
    Operation,
    OperationKind,
    OperationState,
    Subscription,
    SyncStatus,
)

# Operations the vendor must carry out; the others are recorded here only.
VENDOR_KINDS = {
    OperationKind.CREATE,
    OperationKind.QUANTITY,
    OperationKind.SUSPEND,
    OperationKind.REACTIVATE,
    OperationKind.CANCEL,
    OperationKind.AUTO_RENEW,
    OperationKind.RENAME,
    OperationKind.SCHEDULE_RENEWAL,
}


# Desired fields the vendor holds too: what a refused operation rolls back.
VENDOR_FIELDS = {
    "quantity",
    "status",
    "auto_renew",
    "renewal_option",
    "renewal_quantity",
    "renewal_term",
    "renewal_billing_cycle",
    "friendly_name",
}


def unit_price(
    *,
    offer: Offer,
    customer: Organisation,
    term: str,
    billing_cycle: str,
    on: dt.date,
    quantity: int,
    subscription_ref: str = "",
) -> Money:
    context = PricingContext.load(partner=partner_of(customer), offer_ids=[offer.pk])
    breakdown = context.price(
        PriceRequest(
            offer_id=offer.pk,
            customer_id=customer.pk,
            term=term,
            billing_cycle=billing_cycle,
            on=on,
            quantity=quantity,
            subscription_ref=subscription_ref,
        )
    )
    return breakdown.customer_price.money


def lock(subscription: Subscription, expected_version: int | None) -> Subscription:
    locked = (
        Subscription.objects.select_for_update()
        .select_related("offer", "customer")
        .get(pk=subscription.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        last = locked.operations.order_by("-sequence").first()
        who = last.requested_by_name if last else _("someone")
        raise Conflict(
            _(
                "%(who)s changed this subscription at %(when)s while you were looking at "
                "it. Reload the page to see their change, then try again."
            )
            % {"who": who, "when": format_datetime(last.requested_at) if last else "?"}
        )
    return locked


def record_operation(
    subscription: Subscription,
    kind: str,
    *,
    actor: User | None,
    payload: dict[str, Any],
    changes: dict[str, list] | None = None,
    local: bool = False,
    actor_name: str | None = None,
) -> Operation:
    """Append the operation and the activity record; mark the subscription out of sync when the
    vendor has something to do. `actor_name`: who did it when that is nobody of ours (a
    person at the vendor, as its audit records name them)."""
    sequence = (subscription.operations.aggregate(top=Max("sequence"))["top"] or 0) + 1
    operation, record = _operation_rows(
        subscription,
        kind,
        sequence=sequence,
        actor=actor,
        payload=payload,
        changes=changes,
        local=local,
        actor_name=actor_name,
    )
    operation.save()
    state = operation.state
    if state != OperationState.DONE:
        subscription.sync_status = SyncStatus.PENDING
    activity_records([record])
    if state == OperationState.PENDING:
        # The one import kept inside a function: the provisioning task runs code that records
        # through this module, so the queue is reached only when there is work for it.
        from seatkeeper.subscriptions.tasks import provision

        transaction.on_commit(partial(provision.enqueue, subscription_id=subscription.pk))
    return operation


def record_imported(entries: Sequence[tuple[Subscription, dict[str, Any]]]) -> None:
    """`record_operation` for subscriptions an import has just created, two statements for all:
    each one's first operation, a refresh done here (with its payload), and its activity
    record. Called inside the import's transaction."""
    rows = [
        _operation_rows(
            subscription,
            OperationKind.REFRESH,
            sequence=1,
            actor=None,
            payload=payload,
            changes=None,
            local=True,
            actor_name=None,
        )
        for subscription, payload in entries
    ]
    Operation.objects.bulk_create([operation for operation, _record in rows])
    activity_records([record for _operation, record in rows])


def _operation_rows(
    subscription: Subscription,
    kind: str,
    *,
    sequence: int,
    actor: User | None,
    payload: dict[str, Any],
    changes: dict[str, list] | None,
    local: bool,
    actor_name: str | None,
) -> tuple[Operation, ActivityRecord]:
    """The operation and its activity record, not yet written."""
    if local or kind not in VENDOR_KINDS:
        state = OperationState.DONE
    elif subscription.is_manual:
        state = OperationState.AWAITING_FULFILMENT
    else:
        state = OperationState.PENDING
    now = clock.now()
    before = {
        field: old for field, (old, _new) in (changes or {}).items() if field in VENDOR_FIELDS
    }
    if before:
        # Hidden from the wording ("_"): what a rollback restores if the vendor refuses.
        payload = {**payload, "_before": before}
    operation = Operation(
        subscription=subscription,
        sequence=sequence,
        kind=kind,
        payload=payload,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        requested_by_name=actor_name or (actor.get_username() if actor is not None else "system"),
        requested_at=now,
        state=state,
        next_attempt_at=now,
        done_at=now if state == OperationState.DONE else None,
    )
    record = activity_row(
        actor=actor,
        organisation=subscription.customer,
        obj=subscription,
        operation=f"subscription.{kind}",
        changes=changes,
        details={key: value for key, value in payload.items() if not key.startswith("_")},
        actor_name=actor_name,
    )
    return operation, record
