"""Term and billing-cycle arithmetic for New Commerce subscriptions.

Facts used (reference §4.1, §6.3): terms are P1M/P1Y/P3Y; billing cycles monthly/annual/
triennial and may not be longer than the term (900270/800122). A term ends the day before the
same date one term later (2021-06-18 + P1M -> 2021-07-17); commitmentEndDateTime is 23:59:59 of
that day. Cancellation and seat reduction are allowed for 168 hours after purchase/renewal/add.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
CYCLE_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36}
CANCEL_WINDOW = dt.timedelta(hours=168)
FULL_REFUND_WINDOW = dt.timedelta(hours=24)
TERM_DESCRIPTIONS = {
    ("P1M", "monthly"): "One-Month commitment for monthly billing",
    ("P1Y", "monthly"): "One-Year commitment for monthly billing",
    ("P1Y", "annual"): "One-Year commitment for yearly billing",
    ("P3Y", "monthly"): "Three-Year commitment for monthly billing",
    ("P3Y", "annual"): "Three-Year commitment for yearly billing",
    ("P3Y", "triennial"): "Three-Year commitment for triennial billing",
}
CURRENCIES = {
    "USD": ("$", Decimal("1")),
    "EUR": ("€", Decimal("0.95")),
    "GBP": ("£", Decimal("0.80")),
}
EURO_COUNTRIES = {
    "FR",
    "DE",
    "ES",
    "IT",
    "NL",
    "BE",
    "IE",
    "AT",
    "PT",
    "FI",
    "LU",
    "GR",
    "SK",
    "SI",
    "EE",
    "LV",
    "LT",
}
PARTNER_DISCOUNT = Decimal("0.90")  # partner unit price = ERP x 0.9 in this sandbox


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_end(start: dt.date, duration: str) -> dt.date:
    return add_months(start, TERM_MONTHS[duration]) - dt.timedelta(days=1)


def cycle_end(start: dt.date, cycle: str, today: dt.date) -> dt.date:
    """End of the billing cycle containing ``today`` (or the first one if not started)."""
    months = CYCLE_MONTHS.get(cycle, 1)
    n = 1
    end = add_months(start, months) - dt.timedelta(days=1)
    while end < today and n < 1000:
        n += 1
        end = add_months(start, months * n) - dt.timedelta(days=1)
    return end


def currency_for(country: str) -> str:
    country = (country or "US").upper()
    if country == "GB":
        return "GBP"
    if country in EURO_COUNTRIES:
        return "EUR"
    return "USD"


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def term_price(
    monthly_erp_usd: Decimal, duration: str, cycle: str, currency: str
) -> tuple[Decimal, Decimal]:
    """(partner unit price, ERP) per licence per billing cycle, in ``currency``.

    Monthly-term (P1M) prices carry the NCE 20% premium over annual-commitment prices.
    """
    monthly = monthly_erp_usd * (Decimal("1.2") if duration == "P1M" else Decimal("1"))
    erp = money(monthly * CURRENCIES[currency][1]) * CYCLE_MONTHS[cycle]
    return money(erp * PARTNER_DISCOUNT), money(erp)


def valid_term(duration: str, cycle: str) -> bool:
    return (duration, cycle) in TERM_DESCRIPTIONS
