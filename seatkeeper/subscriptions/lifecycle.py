"""What happens at the end of a term.

A subscription whose commitment ended yesterday renews when auto-renew is on: the changes
scheduled for renewal apply (quantity, term, billing cycle; "convert to monthly" renews on a
monthly term), a new term starts the day after the old one ended, and its seats form a new lot
with a fresh 168-hour window. "Renew once" renews and then turns auto-renew off. A trial converts
to paid only with auto-renew on. With auto-renew off the subscription expires.
Microsoft renews on its side by itself; the records here follow the same rule, and the next
vendor refresh brings its dates.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from seatkeeper.subscriptions import rules
from seatkeeper.subscriptions.models import (
    LotKind,
    OperationKind,
    RenewalOption,
    SeatLot,
    Status,
    Subscription,
)
from seatkeeper.subscriptions.operations import record_operation, unit_price
from seatkeeper.subscriptions.transitions import transition

BATCH = 500


def run(now: dt.datetime) -> dict[str, int]:
    counts = {"renewed": 0, "expired": 0}
    today = now.date()
    ended = Subscription.objects.filter(
        status__in=[Status.ACTIVE, Status.SUSPENDED], commitment_end_date__lt=today
    ).values_list("pk", flat=True)[:BATCH]
    for pk in list(ended):
        outcome = end_of_term(pk, now)
        if outcome:
            counts[outcome] += 1
    return counts


@transaction.atomic
def end_of_term(pk: int, now: dt.datetime) -> str | None:
    subscription = Subscription.objects.select_for_update().select_related("customer").get(pk=pk)
    if subscription.commitment_end_date is None or subscription.commitment_end_date >= now.date():
        return None  # another scheduler got here first
    if subscription.status == Status.SUSPENDED or not subscription.auto_renew:
        _expire(subscription)
        return "expired"
    _renew(subscription, now)
    return "renewed"


def _append(
    subscription: Subscription, kind: str, payload: dict, changes: dict | None = None
) -> None:
    """What the job did, in the history and the activity log, as the services record it."""
    record_operation(subscription, kind, actor=None, payload=payload, changes=changes, local=True)


def _expire(subscription: Subscription) -> None:
    changes = transition(
        subscription, Status.EXPIRED, actor=None, cause=OperationKind.EXPIRE, record=False
    )
    subscription.lots.filter(quantity__gt=0).update(quantity=0)
    subscription.version += 1
    subscription.save(update_fields=["status", "version"])
    _append(
        subscription,
        OperationKind.EXPIRE,
        {"ended": subscription.commitment_end_date.isoformat()},
        changes,
    )


def _renew(subscription: Subscription, now: dt.datetime) -> None:
    old_end = subscription.commitment_end_date
    start = old_end + dt.timedelta(days=1)
    next_term = subscription.next_term() or {
        "quantity": subscription.quantity,
        "term": subscription.term,
        "billing_cycle": subscription.billing_cycle,
    }
    quantity, term, cycle = next_term["quantity"], next_term["term"], next_term["billing_cycle"]
    payload = {
        "from": start.isoformat(),
        "quantity": quantity,
        "term": term,
        "billing_cycle": cycle,
        "trial_converted": subscription.is_trial,
    }
    # A renewal is a new purchase at the prices in force on its first day.
    price = unit_price(
        offer=subscription.offer,
        customer=subscription.customer,
        term=term,
        billing_cycle=cycle,
        on=start,
        quantity=quantity,
        subscription_ref=str(subscription.pk),
    )
    renewed_at = max(now, dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    subscription.lots.filter(quantity__gt=0).update(quantity=0)
    SeatLot.objects.create(
        subscription=subscription,
        kind=LotKind.RENEWAL,
        quantity=quantity,
        original_quantity=quantity,
        unit_price=price.amount,
        currency=price.currency,
        purchased_at=renewed_at,
        cancellable_until=rules.window_end(renewed_at),
    )
    subscription.quantity, subscription.term, subscription.billing_cycle = quantity, term, cycle
    subscription.term_start = start
    subscription.commitment_end_date = rules.commitment_end(start, term)
    subscription.cancellation_allowed_until = rules.window_end(renewed_at)
    subscription.renewal_quantity, subscription.renewal_term, subscription.renewal_billing_cycle = (
        None,
        "",
        "",
    )
    subscription.is_trial = False
    renew_once = subscription.renewal_option == RenewalOption.ONCE
    if renew_once:
        subscription.renewal_option, subscription.auto_renew = RenewalOption.NONE, False
    subscription.version += 1
    subscription.save()
    _append(subscription, OperationKind.RENEW, payload)
    if renew_once:
        # The vendor renewed with auto-renew on; turn it off there once its new term shows.
        record_operation(
            subscription,
            OperationKind.AUTO_RENEW,
            actor=None,
            changes={
                "auto_renew": [True, False],
                "renewal_option": [RenewalOption.ONCE, RenewalOption.NONE],
            },
            payload={
                "auto_renew": False,
                "renewal_option": RenewalOption.NONE,
                "next_term": None,
                "after_term_ends": old_end.isoformat(),
            },
            local=subscription.is_manual,
        )
        subscription.save(update_fields=["sync_status"])
    from seatkeeper.subscriptions import notifications

    transaction.on_commit(lambda: notifications.renewed(subscription_id=subscription.pk))
