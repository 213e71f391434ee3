"""The vendor rules every order, change and renewal shares (`subscriptions.rules`)."""

from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.catalog.models import Offer
from seatkeeper.core.errors import ServiceError
from seatkeeper.subscriptions import rules


@pytest.mark.parametrize(
    ("_case", "start", "term", "end"),
    [
        ("a year", dt.date(2026, 3, 15), "P1Y", dt.date(2027, 3, 14)),
        ("a month", dt.date(2026, 3, 15), "P1M", dt.date(2026, 4, 14)),
        ("from a month's last day", dt.date(2026, 1, 31), "P1M", dt.date(2026, 2, 27)),
        ("three years from 29 February", dt.date(2028, 2, 29), "P3Y", dt.date(2031, 2, 27)),
    ],
)
def test_a_commitment_ends_the_day_before_the_term_comes_round(_case, start, term, end):
    assert rules.commitment_end(start, term) == end


@pytest.mark.parametrize(
    ("_case", "minimum", "maximum", "quantity", "allowed"),
    [
        ("the minimum", 5, 10, 5, True),
        ("the maximum", 5, 10, 10, True),
        ("below the minimum", 5, 10, 4, False),
        ("above the maximum", 5, 10, 11, False),
        ("no maximum", 1, None, 100_000, True),
        ("zero seats when the vendor allows zero", 0, None, 0, False),
    ],
)
def test_a_quantity_must_be_in_the_offers_range(_case, minimum, maximum, quantity, allowed):
    offer = Offer(title="Office suite", minimum_quantity=minimum, maximum_quantity=maximum)
    if allowed:
        rules.check_quantity(offer, quantity)
        return
    with pytest.raises(ServiceError) as refused:
        rules.check_quantity(offer, quantity)
    assert refused.value.field == "quantity"
    assert str(max(minimum, 1)) in str(refused.value)


def test_the_fewest_seats_is_the_vendors_minimum_and_at_least_one():
    assert rules.fewest_seats(Offer(minimum_quantity=5)) == 5
    assert rules.fewest_seats(Offer(minimum_quantity=0)) == 1
