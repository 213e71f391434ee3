"""Quotes before a change equal the charges billing raises for it afterwards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict
from seatkeeper.core.money import Money
from seatkeeper.pricing import services
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.models import Method, Tier
from seatkeeper.pricing.quotes import (
    ChargeKind,
    ProposedChange,
    SeatLot,
    SubscriptionFacts,
    change_charges,
    period_charge,
    quote_change,
)

UTC = dt.UTC


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture
def priced(cast, world):
    # Reseller pays cost + 10%, its customers pay cost + 25% on that; P1Y monthly cost £4.50.
    services.margin_rule_set(
        actor=None, owner=cast.partner, tier=Tier.RESELLER, method=Method.MARKUP_ON_COST,
        value=Decimal(10),
    )  # fmt: skip
    services.margin_rule_set(
        actor=None, owner=cast.reseller, tier=Tier.CUSTOMER, method=Method.DISCOUNT_OFF_LIST,
        value=Decimal(0),
    )  # fmt: skip
    return world


def facts(cast, world, **changes) -> SubscriptionFacts:
    values = dict(
        offer_id=world.basic.pk,
        customer_id=cast.customer.pk,
        quantity=10,
        term="P1Y",
        billing_cycle="monthly",
        period_start=dt.date(2027, 3, 1),
        period_end=dt.date(2027, 4, 1),
        purchased_at=at(2027, 1, 1, 9),
    )
    values.update(changes)
    return SubscriptionFacts(**values)


def test_an_increase_mid_period_is_charged_pro_rata_by_day(cast, priced):
    # given 10 seats at £5.00 per month (list price), period 1–31 March (31 days)
    subscription = facts(cast, priced)
    # when 4 seats are added on 22 March
    quote = quote_change(
        facts=subscription, change=ProposedChange(quantity=14), at=at(2027, 3, 22, 15)
    )
    # then 4 × £5 × 10/31 is due now and the next month costs 14 × £5
    assert [(line.kind, line.quantity, line.days, line.period_days) for line in quote.lines] == [
        (ChargeKind.PRORATA, 4, 10, 31)
    ]
    assert quote.adjustment_now == Money(Decimal("6.45"), "GBP")
    assert quote.current_periodic_total == Money(Decimal("50.00"), "GBP")
    assert quote.new_periodic_total == Money(Decimal("70.00"), "GBP")
    assert "4 × £5.00 × 10/31 days" in quote.lines[0].explanation


def test_billing_charges_what_was_quoted_even_after_prices_change(cast, priced):
    # given a quote for an increase on 10 March
    subscription = facts(cast, priced)
    change = ProposedChange(quantity=25)
    with clock.frozen(at(2027, 3, 10, 8)):
        quote = quote_change(facts=subscription, change=change, at=clock.now())
        # when the reseller raises its prices the same day (they apply from the next period)
        services.margin_rule_set(
            actor=None, owner=cast.reseller, tier=Tier.CUSTOMER, method=Method.FIXED_PRICE,
            value=Decimal("4.98"), target=cast.customer, offer=priced.basic, term="P1Y",
            billing_cycle="monthly",
        )  # fmt: skip
    # and billing runs weeks later
    with clock.frozen(at(2027, 4, 2, 3)):
        charges = change_charges(facts=subscription, change=change, at=at(2027, 3, 10, 8))
    # then billing charges exactly the quoted lines
    assert charges == list(quote.lines)
    assert sum((c.amount for c in charges), Money.zero("GBP")) == quote.adjustment_now
    # and the new rule applies from the next period
    next_period = facts(
        cast, priced, quantity=25, period_start=dt.date(2027, 4, 1), period_end=dt.date(2027, 5, 1)
    )
    assert period_charge(facts=next_period).unit_price == Decimal("4.9800")


@pytest.mark.parametrize(
    ("_case", "period_start", "period_end", "moment", "days", "period_days", "amount"),
    [
        ("february of a leap year", dt.date(2028, 2, 1), dt.date(2028, 3, 1),
         at(2028, 2, 15, 12), 15, 29, "12.93"),
        ("february of a common year", dt.date(2027, 2, 1), dt.date(2027, 3, 1),
         at(2027, 2, 15, 12), 14, 28, "12.50"),
        ("the leap day itself", dt.date(2028, 2, 1), dt.date(2028, 3, 1),
         at(2028, 2, 29, 23, 59), 1, 29, "0.86"),
        ("first day of the period", dt.date(2027, 3, 1), dt.date(2027, 4, 1),
         at(2027, 3, 1, 0, 0), 31, 31, "25.00"),
    ],
)  # fmt: skip
def test_pro_rata_counts_calendar_days(
    cast, priced, _case, period_start, period_end, moment, days, period_days, amount
):
    subscription = facts(cast, priced, period_start=period_start, period_end=period_end)
    quote = quote_change(facts=subscription, change=ProposedChange(quantity=15), at=moment)
    line = quote.lines[0]
    assert (line.days, line.period_days) == (days, period_days)
    assert line.amount == Money(Decimal(amount), "GBP")
    assert change_charges(facts=subscription, change=ProposedChange(quantity=15), at=moment) == [
        line
    ]


def test_an_annual_period_in_a_leap_year_has_366_days(cast, priced):
    subscription = facts(
        cast,
        priced,
        billing_cycle="annual",
        period_start=dt.date(2028, 1, 1),
        period_end=dt.date(2029, 1, 1),
    )
    quote = quote_change(
        facts=subscription, change=ProposedChange(quantity=11), at=at(2028, 12, 31, 10)
    )
    # 1 seat × £60.00 (annual list price) × 1/366
    assert (quote.lines[0].days, quote.lines[0].period_days) == (1, 366)
    assert quote.adjustment_now == Money(Decimal("0.16"), "GBP")


def test_a_decrease_inside_the_168_hour_window_is_refunded(cast, priced):
    subscription = facts(
        cast,
        priced,
        seat_lots=(
            SeatLot(quantity=8, purchased_at=at(2027, 1, 1, 9)),
            SeatLot(quantity=2, purchased_at=at(2027, 3, 20, 9)),
        ),
    )
    quote = quote_change(
        facts=subscription, change=ProposedChange(quantity=8), at=at(2027, 3, 27, 8)
    )
    assert [(line.kind, line.quantity, line.days) for line in quote.lines] == [
        (ChargeKind.REFUND, -2, 5)
    ]
    assert quote.adjustment_now == Money(Decimal("-1.61"), "GBP")
    assert change_charges(
        facts=subscription, change=ProposedChange(quantity=8), at=at(2027, 3, 27, 8)
    ) == list(quote.lines)


def test_a_decrease_after_the_window_is_refused_with_the_renewal_date(cast, priced):
    subscription = facts(
        cast, priced, seat_lots=(SeatLot(quantity=10, purchased_at=at(2027, 3, 1, 9)),)
    )
    with pytest.raises(Conflict) as refused:
        quote_change(facts=subscription, change=ProposedChange(quantity=9), at=at(2027, 3, 8, 9))
    assert "1 Apr 2027" in refused.value.message
    with pytest.raises(Conflict):
        change_charges(facts=subscription, change=ProposedChange(quantity=9), at=at(2027, 3, 8, 9))


def test_a_change_at_the_period_end_is_due_with_the_next_period(cast, priced):
    subscription = facts(cast, priced)
    quote = quote_change(
        facts=subscription, change=ProposedChange(quantity=20), at=at(2027, 4, 1, 0, 0)
    )
    assert quote.lines == ()
    assert quote.adjustment_now == Money.zero("GBP")
    assert quote.new_periodic_total == Money(Decimal("100.00"), "GBP")
    assert quote.takes_effect_on == dt.date(2027, 4, 1)


def test_a_term_change_takes_effect_at_renewal_and_prices_from_the_vendor(cast, priced):
    # monthly term costs more than annual because the vendor's P1M price is higher
    subscription = facts(cast, priced)
    quote = quote_change(
        facts=subscription, change=ProposedChange(term="P1M"), at=at(2027, 3, 5, 10)
    )
    assert quote.lines == ()
    assert quote.new_periodic_total == Money(Decimal("60.00"), "GBP")  # 10 × £6.00
    assert quote.current_periodic_total == Money(Decimal("50.00"), "GBP")


def test_the_reseller_quote_uses_the_reseller_price(cast, priced):
    subscription = facts(cast, priced)
    quote = quote_change(
        facts=subscription,
        change=ProposedChange(quantity=11),
        at=at(2027, 3, 1, 10),
        audience=Audience.RESELLER_PRICE,
    )
    assert quote.lines[0].unit_price == Decimal("4.9500")
    assert quote.adjustment_now == Money(Decimal("4.95"), "GBP")


def test_adding_then_removing_seats_the_same_day_nets_to_zero(cast, priced):
    # given 5 seats added at 10:00 on 12 March
    moment = at(2027, 3, 12, 10)
    before = facts(cast, priced)
    added = change_charges(facts=before, change=ProposedChange(quantity=15), at=moment)
    after = facts(
        cast,
        priced,
        quantity=15,
        seat_lots=(
            SeatLot(quantity=10, purchased_at=before.purchased_at),
            SeatLot(quantity=5, purchased_at=moment),
        ),
    )
    # when they are removed again the same afternoon
    removed = change_charges(
        facts=after, change=ProposedChange(quantity=10), at=at(2027, 3, 12, 16)
    )
    # then the refund cancels the charge exactly: no double billing
    assert added[0].amount == -removed[0].amount
    assert added[0].amount == Money(Decimal("16.13"), "GBP")  # 5 × £5 × 20/31


def test_the_billing_run_prices_many_subscriptions_with_a_fixed_number_of_queries(
    cast, priced, django_assert_max_num_queries
):
    from seatkeeper.pricing.quotes import period_charges

    subscriptions = [
        facts(cast, priced, customer_id=customer.pk, quantity=n + 1)
        for n, customer in enumerate([cast.customer, cast.customer_two, cast.direct_customer] * 40)
    ]
    with django_assert_max_num_queries(12):
        charges = period_charges(facts=subscriptions)
    assert len(charges) == 120
    assert charges[0] == period_charge(facts=subscriptions[0])
    assert charges[2].amount == period_charge(facts=subscriptions[2]).amount  # direct customer
