"""Money: a Decimal amount with an ISO 4217 currency.

Rounding rules (written down once, used everywhere):
- Amounts are carried at full precision through a calculation and rounded once, at the end,
  to the currency's minor unit (`MINOR_UNITS`, 2 unless listed) with ROUND_HALF_UP, the
  commercial rounding invoices use.
- Unit prices are kept at `UNIT_PRICE_PLACES` (4) decimals so that per-day pro-rata and
  margin percentages do not drift before the final rounding.
- Floats are refused: a float has already lost the value it meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MINOR_UNITS: dict[str, int] = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3}
UNIT_PRICE_PLACES = 4


class CurrencyMismatch(ValueError):
    pass


def to_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money is never a float; pass a Decimal, an int or a string")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency.upper(), 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def quantize_unit_price(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")
        object.__setattr__(self, "currency", self.currency.upper())

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def checked(cls, amount: Decimal, currency: str) -> Money:
        """For readers of millions of amounts that have already made `amount` a finite Decimal
        and checked `currency` (an upper-case ISO code) once: skips doing it again per value."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", currency)
        return money

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def rounded(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        """As people read it, in the active language ("€1,234.50", "1 234,50 €"): see
        `core.formatting`. Never stored: payloads keep the amount and the currency."""
        from seatkeeper.core.formatting import format_money

        return format_money(self)
