"""Money, numbers and dates read the way each language writes them (`core.formatting`)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from seatkeeper.core.formatting import (
    format_adjustment,
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_percent,
    format_plan_price,
    format_quantity,
    format_unit_price,
    stored_money,
)
from seatkeeper.core.money import Money

NBSP, NNBSP = "\xa0", "\u202f"  # French puts a no-break space before €, a narrow one in 1 234
MOMENT = dt.datetime(2026, 11, 29, 14, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("_case", "language", "money", "expected"),
    [
        ("english euro", "en", Money(Decimal("41.38"), "EUR"), "€41.38"),
        ("french euro", "fr", Money(Decimal("41.38"), "EUR"), f"41,38{NBSP}€"),
        ("english thousands", "en", Money(Decimal("1234.5"), "GBP"), "£1,234.50"),
        ("french thousands", "fr", Money(Decimal("1234.5"), "EUR"), f"1{NNBSP}234,50{NBSP}€"),
        ("rounded to the cent", "en", Money(Decimal("10.125"), "EUR"), "€10.13"),
        ("no minor unit", "en", Money(Decimal("1000"), "JPY"), "JP¥1,000"),
    ],
)
def test_money_follows_the_language(_case, language, money, expected):
    with translation.override(language):
        assert format_money(money) == expected
        assert str(money) == expected


def test_a_negative_zero_never_shows_its_sign():
    # given an amount that rounds to zero from below
    tiny = Money(Decimal("-0.001"), "EUR")
    # then neither language shows "-€0.00"
    assert format_money(tiny) == "€0.00"
    with translation.override("fr"):
        assert format_money(Decimal("-0.00"), "EUR") == f"0,00{NBSP}€"


def test_unit_prices_keep_their_decimals_but_not_trailing_zeros():
    assert format_unit_price(Decimal("10.1234"), "EUR") == "€10.1234"
    assert format_unit_price(Decimal("4.5000"), "GBP") == "£4.50"
    with translation.override("fr"):
        assert format_unit_price(Decimal("10.1200"), "EUR") == f"10,12{NBSP}€"


def test_refunds_and_charges_read_as_words():
    assert format_adjustment(Money(Decimal("-41.38"), "EUR")) == "Refund €41.38"
    assert format_adjustment(Decimal("15"), "GBP") == "Charge £15.00"
    assert format_adjustment(Decimal("-0.00"), "EUR") == "No charge"
    with translation.override("fr"):
        assert format_adjustment(Decimal("-41.38"), "EUR") == f"Remboursement de 41,38{NBSP}€"
        assert format_adjustment(Decimal("15"), "EUR") == f"À payer 15,00{NBSP}€"
        assert "-" not in format_adjustment(Decimal("-41.38"), "EUR")


def test_a_plan_that_costs_nothing_is_free():
    assert format_plan_price(Money(Decimal("-0.00"), "EUR")) == "Free"
    assert format_plan_price(Money(Decimal("0.004"), "EUR")) == "Free"
    assert format_plan_price(Money(Decimal("12"), "EUR")) == "€12.00"
    with translation.override("fr"):
        assert format_plan_price(Money(Decimal("0"), "EUR")) == "Gratuit"


def test_numbers_carry_no_meaningless_zeros():
    assert format_number(Decimal("10.000000")) == "10"
    assert format_number(Decimal("1234567.125")) == "1,234,567.125"
    assert format_number(Decimal("2.5"), decimals=2) == "2.50"
    assert format_quantity(1000) == "1,000"
    assert format_percent(Decimal("25")) == "25%"
    with translation.override("fr"):
        assert format_number(Decimal("10.000000")) == "10"
        assert format_number(Decimal("2.5")) == "2,5"
        assert format_quantity(1000) == f"1{NNBSP}000"
        assert format_percent(Decimal("12.5")) == f"12,5{NBSP}%"


def test_one_date_format_and_one_date_and_time_format_per_language():
    assert format_date(MOMENT.date()) == "29 Nov 2026"
    assert format_datetime(MOMENT) == "29 Nov 2026, 14:05"
    # stored payloads hold ISO 8601 text: it reads the same
    assert format_date("2026-11-29") == "29 Nov 2026"
    assert format_datetime(MOMENT.isoformat()) == "29 Nov 2026, 14:05"
    with translation.override("fr"):
        assert format_date(MOMENT.date()) == "29 nov. 2026"
        assert format_datetime(MOMENT) == "29 nov. 2026, 14:05"
    assert format_date(None) == "" and format_datetime(None) == ""


def test_times_are_shown_in_the_current_time_zone_which_is_utc_by_default():
    assert timezone.get_current_timezone_name() == "UTC"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        assert format_datetime(MOMENT) == "29 Nov 2026, 15:05"
        # a late evening in UTC is already the next day in Paris
        assert format_date(dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)) == "30 Nov 2026"


def test_stored_amounts_are_read_in_both_shapes():
    # the shape written now: a Decimal as string with the payload's currency
    assert stored_money("-41.38", "EUR") == Money(Decimal("-41.38"), "EUR")
    # the shape older records hold: what Money printed then
    assert stored_money("€-41.38", None) == Money(Decimal("-41.38"), "EUR")
    assert stored_money("£1,234.50", None) == Money(Decimal("1234.50"), "GBP")
    assert stored_money("12.00 SEK", None) == Money(Decimal("12.00"), "SEK")
    assert stored_money("not money", "EUR") is None
    assert stored_money("12.00", None) is None


def test_template_filters_format_in_the_active_language():
    template = Template(
        "{{ price|money }}|{{ refund|adjustment }}|{{ free|plan_price }}|{{ day|format_date }}"
        "|{{ unit|unit_price:'EUR' }}|{{ moment|format_datetime }}|{{ flag|cell }}"
    )
    context = Context(
        {
            "price": Money(Decimal("41.38"), "EUR"),
            "refund": Money(Decimal("-41.38"), "EUR"),
            "free": Money(Decimal("-0.00"), "EUR"),
            "day": MOMENT.date(),
            "unit": Decimal("4.5000"),
            "moment": MOMENT,
            "flag": True,
        }
    )
    with translation.override("fr"):
        rendered = template.render(context)
    assert rendered == (
        f"41,38{NBSP}€|Remboursement de 41,38{NBSP}€|Gratuit|29 nov. 2026"
        f"|4,50{NBSP}€|29 nov. 2026, 14:05|Oui"
    )
