from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from seatkeeper.core import clock
from seatkeeper.core.money import CurrencyMismatch, Money, quantize


def test_money_rounds_half_up_to_the_currency_minor_unit():
    assert Money(Decimal("10.005"), "EUR").rounded().amount == Decimal("10.01")
    assert Money(Decimal("10.5"), "JPY").rounded().amount == Decimal("11")
    assert Money(Decimal("1.0005"), "KWD").rounded().amount == Decimal("1.001")


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(TypeError):
        Money(0.1, "EUR")
    with pytest.raises(CurrencyMismatch):
        Money(Decimal(1), "EUR") + Money(Decimal(1), "USD")
    with pytest.raises(ValueError):
        Money(Decimal(1), "EURO")


def test_money_prints_with_its_symbol_in_the_active_language():
    assert str(Money(Decimal("1234.5"), "EUR")) == "€1,234.50"
    assert str(Money(Decimal("3"), "SEK")) == "SEK3.00"
    with translation.override("fr"):
        assert str(Money(Decimal("1234.5"), "EUR")) == "1\u202f234,50\xa0€"


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_rounding_never_moves_more_than_half_a_minor_unit(amount, currency):
    rounded = quantize(amount, currency)
    unit = {"EUR": Decimal("0.01"), "JPY": Decimal(1), "KWD": Decimal("0.001")}[currency]
    assert abs(rounded - amount) <= unit / 2


def test_the_clock_can_be_frozen_and_moved():
    moment = dt.datetime(2028, 2, 28, 23, 0, tzinfo=dt.UTC)
    with clock.frozen(moment) as frozen:
        assert clock.now() == moment
        frozen.advance(hours=2)
        assert clock.today() == dt.date(2028, 2, 29)
    assert clock.now() != moment
    with pytest.raises(ValueError):
        with clock.frozen(dt.datetime(2028, 1, 1)):
            pass


def test_a_frozen_clock_holds_in_every_thread_and_sleeping_moves_it():
    # given a frozen clock
    moment = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)
    seen: list[dt.datetime] = []
    with clock.frozen(moment):
        # when another thread (a live server, a worker) reads it, and code sleeps
        thread = threading.Thread(target=lambda: seen.append(clock.now()))
        thread.start()
        thread.join()
        clock.sleep(90)

        # then both threads agree, and the sleep passed at once on the frozen clock
        assert seen == [moment]
        assert clock.now() == moment + dt.timedelta(seconds=90)
