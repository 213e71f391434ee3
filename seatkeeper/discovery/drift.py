"""Drift: where the vendor's state of a subscription (as discovery last read it) differs from
Seatkeeper's. A change made at the vendor is adopted by discovery, so what remains is a change
of ours still on its way (or refused), shown beside the vendor's until both agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from seatkeeper.discovery.models import VendorState
from seatkeeper.subscriptions.models import Subscription

FIELDS = (
    "quantity",
    "status",
    "auto_renew",
    "term",
    "billing_cycle",
    "renewal_quantity",
    "renewal_term",
    "renewal_billing_cycle",
)


@dataclass(frozen=True)
class Difference:
    field: str
    ours: Any
    vendor: Any


def states_of(subscription_ids) -> dict[int, VendorState]:
    """The vendor states of these subscriptions, by subscription id (one query)."""
    return {
        state.subscription_id: state
        for state in VendorState.objects.filter(subscription_id__in=list(subscription_ids))
    }


def remember(
    subscription: Subscription,
    values: dict[str, Any],
    *,
    run,
    now,
    states: dict[int, VendorState] | None = None,
) -> None:
    """Keep what the vendor said (written only when it changed, so a run that finds nothing new
    writes nothing). `states`: the states read beforehand (`states_of`), a missing one meaning
    there is none; without it, this subscription's is read."""
    if states is None:
        state = VendorState.objects.filter(subscription=subscription).first()
    else:
        state = states.get(subscription.pk)
    wanted = {field: values[field] for field in FIELDS}
    if state is None:
        _first_state(subscription, values, run=run, now=now).save()
        return
    if all(getattr(state, field) == value for field, value in wanted.items()):
        return
    for field, value in wanted.items():
        setattr(state, field, value)
    state.run, state.seen_at = run, now
    state.save()


def remember_new(entries: list[tuple[Subscription, dict[str, Any]]], *, run, now) -> None:
    """`remember` for subscriptions just created (none has a state yet): one statement for all."""
    VendorState.objects.bulk_create(
        _first_state(subscription, values, run=run, now=now) for subscription, values in entries
    )


def _first_state(subscription: Subscription, values: dict[str, Any], *, run, now) -> VendorState:
    return VendorState(
        subscription=subscription,
        run=run,
        seen_at=now,
        **{field: values[field] for field in FIELDS},
    )


def differences(subscription: Subscription) -> list[Difference]:
    state = VendorState.objects.filter(subscription=subscription).first()
    if state is None:
        return []
    return [
        Difference(field, getattr(subscription, field), getattr(state, field))
        for field in FIELDS
        if getattr(subscription, field) != getattr(state, field)
    ]


def drifting(subscriptions: QuerySet[Subscription]) -> QuerySet[VendorState]:
    """The vendor states that differ from their subscription, among `subscriptions`."""
    differs = Q()
    for field in FIELDS:
        if field == "renewal_quantity":
            differs |= ~Q(
                vendor_renewal=Coalesce(F("subscription__renewal_quantity"), 0),
            )
        else:
            differs |= ~Q(**{field: F(f"subscription__{field}")})
    return (
        VendorState.objects.filter(subscription__in=subscriptions)
        .annotate(vendor_renewal=Coalesce(F("renewal_quantity"), 0))
        .filter(differs)
        .select_related("subscription", "subscription__customer", "subscription__offer")
        .order_by("subscription__customer__name", "subscription__pk")
    )
