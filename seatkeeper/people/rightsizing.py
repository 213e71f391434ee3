"""Right-sizing: per subscription, the seats paid for but held by nobody, and what giving them up
at the next renewal would save.

Seats held come from `selectors.seats_in_bulk` (the pool rule written down there); the seats
that could go are those the subscription will still have after renewal (a quantity scheduled
for renewal counts) minus those held. The saving is priced by the pricing engine at the
viewer's audience (partner staff: the partner cost; a reseller: its reseller price; a customer:
its own price), at the term and billing cycle the subscription renews on, today's prices: per
billing period, and over the renewed term. A subscription that does not renew saves nothing by
being reduced at renewal: it is listed with its idle seats and no saving.

Reads only, a fixed number of queries whatever the number of subscriptions (the pricing context
is loaded once and prices in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from seatkeeper.accounts.models import User
from seatkeeper.catalog.models import TERM_MONTHS, cycle_months
from seatkeeper.core.money import Money
from seatkeeper.people.selectors import seats_in_bulk
from seatkeeper.pricing.engine import Audience
from seatkeeper.subscriptions.display import RowPricer, viewer_audience
from seatkeeper.subscriptions.models import Subscription
from seatkeeper.subscriptions.selectors import subscriptions_visible_to


@dataclass(frozen=True)
class IdleSeats:
    subscription: Subscription
    quantity: int  # paid today
    quantity_at_renewal: int
    assigned: int
    unassigned: int  # seats that could go at renewal
    renews: bool
    unit: Money | None  # per seat per billing period at renewal
    saving_per_period: Money | None
    saving_over_term: Money | None
    term: str
    billing_cycle: str
    error: str = ""


@dataclass
class RightSizing:
    audience: Audience
    rows: list[IdleSeats]
    # per currency: the saving over the renewed terms of every row
    totals: dict[str, Money] = field(default_factory=dict)

    @property
    def unassigned(self) -> int:
        return sum(row.unassigned for row in self.rows)


def _renewal(subscription: Subscription) -> tuple[int, str, str]:
    following = subscription.next_term()
    if following is None:
        return subscription.quantity, subscription.term, subscription.billing_cycle
    return following["quantity"], following["term"], following["billing_cycle"]


def idle_seats(
    user: User, *, subscriptions: QuerySet[Subscription] | None = None, audience: str | None = None
) -> RightSizing:
    """The subscriptions of `subscriptions` (default: all the viewer sees) with seats nobody
    holds, largest saving first."""
    queryset = subscriptions_visible_to(user) if subscriptions is None else subscriptions
    shown_audience = viewer_audience(user, audience)
    seats = {row["pk"]: row["assigned"] for row in seats_in_bulk(queryset) if row["quantity"] > 0}
    candidates = list(
        Subscription.objects.filter(pk__in=list(seats))
        .select_related("offer", "customer")
        .order_by("pk")
    )
    pricer = RowPricer(user, shown_audience, offer_ids=[row.offer_id for row in candidates])
    rows = []
    for subscription in candidates:
        assigned = seats[subscription.pk]
        quantity, term, cycle = _renewal(subscription)
        unassigned = quantity - assigned
        if unassigned <= 0:
            continue
        renews = subscription.auto_renew
        unit = per_period = over_term = None
        error = ""
        if renews:
            price = pricer.price_of(
                offer_id=subscription.offer_id,
                customer_id=subscription.customer_id,
                term=term,
                billing_cycle=cycle,
                quantity=unassigned,
                subscription_id=subscription.pk,
            )
            error = price.error
            if price.total is not None:
                unit, per_period = price.unit, price.total
                periods = Decimal(TERM_MONTHS[term]) / Decimal(cycle_months(term, cycle))
                over_term = Money(per_period.amount * periods, per_period.currency)
        rows.append(
            IdleSeats(
                subscription=subscription,
                quantity=subscription.quantity,
                quantity_at_renewal=quantity,
                assigned=assigned,
                unassigned=unassigned,
                renews=renews,
                unit=unit,
                saving_per_period=per_period,
                saving_over_term=over_term,
                term=term,
                billing_cycle=cycle,
                error=error,
            )
        )
    rows.sort(
        key=lambda row: (
            -(row.saving_over_term.amount if row.saving_over_term else Decimal(-1)),
            -row.unassigned,
            row.subscription.pk,
        )
    )
    totals: dict[str, Money] = {}
    for row in rows:
        if row.saving_over_term is not None:
            currency = row.saving_over_term.currency
            totals[currency] = totals.get(currency, Money.zero(currency)) + row.saving_over_term
    return RightSizing(audience=shown_audience, rows=rows, totals=totals)
