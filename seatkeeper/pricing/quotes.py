"""Quotes for subscription changes and the charges billing raises for them: one computation.

The subscriptions app describes a subscription with `SubscriptionFacts` and a change with
`ProposedChange`. `quote_change` is what a person sees before confirming; `change_charges` is
what the billing run calls afterwards. Both go through `_change_lines`, and prices are read as
they stood on the first day of the billing period the money belongs to, so a price or rule
written after the quote (which takes effect from the next period) cannot change the charge.

Rules (DESIGN.md "Charge", market.md §3):
- a billing period runs from `period_start` (included) to `period_end` (excluded); its length
  in days is counted on the calendar, so February 2028 has 29 days and 2028 has 366;
- an increase is charged pro rata by day for the rest of the current period, the day of the
  change included: unit price × added seats × remaining days ÷ period days;
- a decrease is allowed only for seats bought less than 168 hours ago (the vendor's window),
  newest first, and refunded pro rata the same way; other seats can be removed at renewal;
- a change of term or billing cycle takes effect at the end of the current period;
- a change at or after `period_end` belongs to the next period: nothing is due now;
- every amount is rounded once, per line, to the currency's minor unit.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation
from seatkeeper.accounts.selectors import partner_of
from seatkeeper.catalog.models import BillingCycle, Term, add_months, cycle_months
from seatkeeper.core.errors import Conflict, ServiceError
from seatkeeper.core.formatting import format_date, format_datetime, format_quantity
from seatkeeper.core.money import Money, quantize
from seatkeeper.core.validation import quantity_problem
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.engine import PriceRequest, PricingContext

REFUND_WINDOW = dt.timedelta(hours=168)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeatLot:
    """Seats bought together (a purchase, a renewal or a later increase)."""

    quantity: int
    purchased_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionFacts:
    offer_id: int
    customer_id: int
    quantity: int
    term: str
    billing_cycle: str
    period_start: dt.date  # the current billing period, included
    period_end: dt.date  # excluded: the first day of the next period
    purchased_at: dt.datetime  # purchase or last renewal
    seat_lots: tuple[SeatLot, ...] = ()  # empty: all seats bought at `purchased_at`
    subscription_ref: str = ""
    currency: str | None = None

    @property
    def lots(self) -> tuple[SeatLot, ...]:
        return self.seat_lots or (SeatLot(quantity=self.quantity, purchased_at=self.purchased_at),)

    @property
    def period_days(self) -> int:
        return (self.period_end - self.period_start).days


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedChange:
    quantity: int | None = None
    term: str | None = None
    billing_cycle: str | None = None


class ChargeKind(enum.StrEnum):
    CYCLE_FEE = "cycle_fee"
    PRORATA = "prorata"
    REFUND = "refund"


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    kind: ChargeKind
    audience: Audience
    offer_id: int
    quantity: int  # negative for a refund
    unit_price: Decimal
    period_start: dt.date
    period_end: dt.date
    days: int
    period_days: int
    amount: Money
    explanation: str
    # Which price list, rule or vendor price set `unit_price` (engine.Source and the row id), so
    # a billed line can link to it; `price_summary` says it in words, for the tier's own people.
    price_source: str = ""
    price_source_id: int | None = None
    price_summary: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    audience: Audience
    currency: str
    at: dt.datetime
    current_periodic_total: Money
    new_periodic_total: Money
    adjustment_now: Money
    lines: tuple[Charge, ...]
    notes: tuple[str, ...]
    takes_effect_on: dt.date


def _context(facts: SubscriptionFacts, context: PricingContext | None) -> PricingContext:
    if context is not None:
        return context
    customer = Organisation.objects.get(pk=facts.customer_id)
    return PricingContext.load(partner=partner_of(customer), offer_ids=[facts.offer_id])


def _unit_price(context, facts, audience, *, term, billing_cycle, on, quantity) -> tuple:
    breakdown = context.price(
        PriceRequest(
            offer_id=facts.offer_id,
            customer_id=facts.customer_id,
            term=term,
            billing_cycle=billing_cycle,
            on=on,
            quantity=quantity,
            subscription_ref=facts.subscription_ref,
            currency=facts.currency,
        )
    )
    tier = breakdown.tier(audience)
    if tier is None:
        raise ServiceError(_("This customer has no reseller, so there is no reseller price."))
    return breakdown, tier


def period_charge(
    *,
    facts: SubscriptionFacts,
    audience: Audience = Audience.CUSTOMER_PRICE,
    context: PricingContext | None = None,
    reveal_sources: bool = True,
) -> Charge:
    """The recurring fee for the period in `facts`, at the price in force on its first day.
    `reveal_sources=False` leaves out which rule or list made the price (the seller's internal
    working, never shown to customers)."""
    context = _context(facts, context)
    breakdown, tier = _unit_price(
        context,
        facts,
        audience,
        term=facts.term,
        billing_cycle=facts.billing_cycle,
        on=facts.period_start,
        quantity=facts.quantity,
    )
    return _period_charge(facts, breakdown, tier, reveal_sources=reveal_sources)


def period_charge_tiers(
    *,
    facts: SubscriptionFacts,
    audiences: Sequence[Audience],
    context: PricingContext,
    explained: bool = True,
) -> dict[Audience, Charge]:
    """`period_charge` at several audiences, priced once (the billing run needs all three).
    Without `explained` the charges carry no sentence: the billing run stores the figures and
    writes the sentence when someone reads the line, in their language."""
    breakdown, _tier = _unit_price(
        context,
        facts,
        audiences[0],
        term=facts.term,
        billing_cycle=facts.billing_cycle,
        on=facts.period_start,
        quantity=facts.quantity,
    )
    charges = {}
    for audience in audiences:
        tier = breakdown.tier(audience)
        if tier is None:
            raise ServiceError(_("This customer has no reseller, so there is no reseller price."))
        charges[audience] = _period_charge(facts, breakdown, tier, explained=explained)
    return charges


def _period_charge(
    facts: SubscriptionFacts,
    breakdown,
    tier,
    *,
    explained: bool = True,
    reveal_sources: bool = True,
) -> Charge:
    amount = quantize(tier.unit_price * facts.quantity, breakdown.currency)
    explanation = ""
    if explained:
        explanation = (
            _("%(quantity)s × %(price)s for %(start)s to %(end)s. %(why)s")
            % {
                "quantity": format_quantity(facts.quantity),
                "price": tier.money,
                "start": format_date(facts.period_start),
                "end": format_date(facts.period_end - dt.timedelta(days=1)),
                "why": tier.summary if reveal_sources else "",
            }
        ).strip()
    return Charge(
        kind=ChargeKind.CYCLE_FEE,
        audience=tier.audience,
        offer_id=facts.offer_id,
        quantity=facts.quantity,
        unit_price=tier.unit_price,
        period_start=facts.period_start,
        period_end=facts.period_end,
        days=facts.period_days,
        period_days=facts.period_days,
        amount=Money(amount, breakdown.currency),
        explanation=explanation,
        price_source=tier.source,
        price_source_id=tier.source_id,
        price_summary=tier.summary,
    )


def period_charges(
    *, facts: Sequence[SubscriptionFacts], audience: Audience = Audience.CUSTOMER_PRICE
) -> list[Charge]:
    """The recurring fees of many subscriptions, for the billing run: one pricing context per
    partner (a fixed handful of queries each), then no query per subscription. Charges come
    back in the order of `facts`."""
    customer_ids = {item.customer_id for item in facts}
    paths = dict(Organisation.objects.filter(pk__in=customer_ids).values_list("pk", "path"))
    contexts: dict[int, PricingContext] = {}
    charges = []
    for item in facts:
        partner_id = int(paths[item.customer_id].strip("/").split("/")[0])
        context = contexts.get(partner_id)
        if context is None:
            partner = Organisation.objects.get(pk=partner_id)
            context = contexts[partner_id] = PricingContext.load(partner=partner)
        charges.append(period_charge(facts=item, audience=audience, context=context))
    return charges


def _prorata(facts, tier, currency, *, kind, quantity, day) -> Charge:
    remaining = (facts.period_end - day).days
    amount = quantize(tier.unit_price * quantity * remaining / facts.period_days, currency)
    last_day = format_date(facts.period_end - dt.timedelta(days=1))
    return Charge(
        kind=kind,
        audience=tier.audience,
        offer_id=facts.offer_id,
        quantity=quantity,
        unit_price=tier.unit_price,
        period_start=day,
        period_end=facts.period_end,
        days=remaining,
        period_days=facts.period_days,
        amount=Money(amount, currency),
        explanation=_(
            "%(quantity)s × %(price)s × %(days)s/%(period_days)s days (%(start)s to %(end)s)"
            " = %(amount)s."
        )
        % {
            # A refund reads as what is given back: the line's kind says which way it goes.
            "quantity": format_quantity(abs(quantity)),
            "price": tier.money,
            "days": remaining,
            "period_days": facts.period_days,
            "start": format_date(day),
            "end": last_day,
            "amount": Money(abs(amount), currency),
        },
        price_source=tier.source,
        price_source_id=tier.source_id,
        price_summary=tier.summary,
    )


def _refundable(facts: SubscriptionFacts, at: dt.datetime) -> tuple[int, dt.datetime | None]:
    lots = [lot for lot in facts.lots if at < lot.purchased_at + REFUND_WINDOW]
    if not lots:
        return 0, None
    return sum(lot.quantity for lot in lots), min(lot.purchased_at for lot in lots) + REFUND_WINDOW


def _change_lines(context, facts, change, at, audience) -> tuple[list[Charge], list[str], dt.date]:
    day = at.astimezone(dt.UTC).date()
    new_quantity = facts.quantity if change.quantity is None else change.quantity
    if new_quantity < 0:
        raise ServiceError(_("A quantity cannot be negative."), field="quantity")
    notes: list[str] = []
    term_changes = (change.term or facts.term, change.billing_cycle or facts.billing_cycle) != (
        facts.term,
        facts.billing_cycle,
    )
    if term_changes:
        notes.append(
            _("The new term and billing cycle take effect at renewal on %(day)s.")
            % {"day": format_date(facts.period_end)}
        )
    if day >= facts.period_end or day < facts.period_start:
        if day < facts.period_start:
            raise ServiceError(_("The change is dated before the current billing period."))
        notes.append(
            _("The change falls in the next billing period (from %(day)s): nothing is due now.")
            % {"day": format_date(facts.period_end)}
        )
        return [], notes, facts.period_end
    delta = new_quantity - facts.quantity
    if delta == 0:
        return [], notes, facts.period_end if term_changes else day
    _breakdown, tier = _unit_price(
        context,
        facts,
        audience,
        term=facts.term,
        billing_cycle=facts.billing_cycle,
        on=facts.period_start,
        quantity=abs(delta),
    )
    currency = _breakdown.currency
    if delta > 0:
        line = _prorata(facts, tier, currency, kind=ChargeKind.PRORATA, quantity=delta, day=day)
        return [line], notes, day
    refundable, deadline = _refundable(facts, at)
    if -delta > refundable:
        if refundable:
            message = _(
                "Only %(count)s seat(s) can be removed now, until %(deadline)s (the vendor's "
                "168-hour window); the others can be removed at renewal on %(renewal)s."
            ) % {
                "count": refundable,
                "deadline": format_datetime(deadline),
                "renewal": format_date(facts.period_end),
            }
        else:
            message = _(
                "The vendor's 168-hour window for removing seats has closed; seats can be "
                "removed at renewal on %(renewal)s."
            ) % {"renewal": format_date(facts.period_end)}
        raise Conflict(message, code="outside_refund_window")
    line = _prorata(facts, tier, currency, kind=ChargeKind.REFUND, quantity=delta, day=day)
    notes.append(
        _("Removed within the vendor's 168-hour window (until %(deadline)s): refunded pro rata.")
        % {"deadline": format_datetime(deadline)}
    )
    return [line], notes, day


def change_charges(
    *,
    facts: SubscriptionFacts,
    change: ProposedChange,
    at: dt.datetime,
    audience: Audience = Audience.CUSTOMER_PRICE,
    context: PricingContext | None = None,
) -> list[Charge]:
    """The charges billing raises for `change` made at `at`: the lines of `quote_change`."""
    lines, _notes, _day = _change_lines(_context(facts, context), facts, change, at, audience)
    return lines


def _check_change(change: ProposedChange) -> None:
    """A proposed change from outside (a page, the API) names a known term, cycle and a
    quantity within bounds; anything else is refused naming the field."""
    if change.term is not None and change.term not in Term.values:
        raise ServiceError(_("Unknown term."), field="term")
    if change.billing_cycle is not None and change.billing_cycle not in BillingCycle.values:
        raise ServiceError(_("Unknown billing cycle."), field="billing_cycle")
    if change.quantity is not None:
        problem = quantity_problem(change.quantity)
        if problem:
            raise ServiceError(f"quantity {problem}", field="quantity")


def quote_change(
    *,
    facts: SubscriptionFacts,
    change: ProposedChange,
    at: dt.datetime,
    audience: Audience = Audience.CUSTOMER_PRICE,
    context: PricingContext | None = None,
    reveal_sources: bool = True,
) -> Quote:
    """New periodic total and what is due now for `change` at `at`, explained line by line."""
    _check_change(change)
    context = _context(facts, context)
    lines, notes, takes_effect_on = _change_lines(context, facts, change, at, audience)
    current = period_charge(
        facts=facts, audience=audience, context=context, reveal_sources=reveal_sources
    )
    new_quantity = facts.quantity if change.quantity is None else change.quantity
    next_start = facts.period_end
    next_facts = replace(
        facts,
        quantity=new_quantity,
        term=change.term or facts.term,
        billing_cycle=change.billing_cycle or facts.billing_cycle,
        period_start=next_start,
        period_end=add_months(
            next_start,
            cycle_months(change.term or facts.term, change.billing_cycle or facts.billing_cycle),
        ),
    )
    upcoming = period_charge(
        facts=next_facts, audience=audience, context=context, reveal_sources=reveal_sources
    )
    currency = current.amount.currency
    adjustment = sum((line.amount for line in lines), Money.zero(currency))
    notes.append(
        _("From %(day)s: %(explanation)s")
        % {"day": format_date(next_start), "explanation": upcoming.explanation}
    )
    return Quote(
        audience=audience,
        currency=currency,
        at=at,
        current_periodic_total=current.amount,
        new_periodic_total=upcoming.amount,
        adjustment_now=adjustment,
        lines=tuple(lines),
        notes=tuple(notes),
        takes_effect_on=takes_effect_on,
    )
