"""Money, numbers and dates as people read them, in their language: the one place that formats.

Decisions, written down once:
- **Locale.** The active language (the person's, set by `accounts.middleware`) picks a Babel
  locale from `LOCALES`. The product sells in France and the United Kingdom, so English is
  `en_GB` ("£1,234.50", "29 Nov 2026") and French `fr_FR` ("1 234,50 €", "29 nov. 2026").
- **Time zone.** Seatkeeper has no per-person time zone yet: datetimes are shown in Django's
  current time zone, which is `settings.TIME_ZONE` (UTC). Activating a person's zone with
  `django.utils.timezone.activate` is all it would take to show theirs.
- **One date format and one date-and-time format** everywhere on pages and in e-mails: the
  locale's medium date ("29 Nov 2026"), and that date with the short time ("29 Nov 2026, 14:05").
- **Money** is rounded to its currency's minor unit (`core.money.quantize`); unit prices keep up
  to `UNIT_PRICE_PLACES` decimals. A negative zero never shows ("-€0.00"). Where an amount means
  money back, it reads as words ("Refund 41,38 €", `format_adjustment`); a plan that costs
  nothing reads "Free" (`format_plan_price`).
- **Machines get plain values, never these strings.** CSV/XLSX exports, the API and stored
  payloads (operation payloads, activity details, history) keep numbers with a dot ("Decimal as
  string" where JSON needs text: `"41.38"`), ISO 8601 dates and codes; formatting happens only
  when a page, an e-mail or a message is shown to a person.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from seatkeeper.core.money import UNIT_PRICE_PLACES, Money, minor_units, quantize, to_decimal

# The active language → the locale its people read (France and the UK are the market).
LOCALES = {"en": "en_GB", "fr": "fr_FR"}
DEFAULT_LOCALE = "en_GB"


@functools.lru_cache(maxsize=16)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def current_locale(language: str | None = None) -> Locale:
    """The Babel locale of `language`, or of the active language."""
    language = (language or translation.get_language() or "en").lower()
    name = LOCALES.get(language) or LOCALES.get(language.split("-")[0], DEFAULT_LOCALE)
    return _locale(name)


def _as_money(value: Money | Decimal | int | str, currency: str | None) -> Money:
    if isinstance(value, Money):
        return value
    if currency is None:
        raise ValueError("an amount without a Money needs its currency")
    return Money(to_decimal(value), currency)


def _without_negative_zero(amount: Decimal) -> Decimal:
    return abs(amount) if amount == 0 else amount


# Pages and exports format the same few amounts thousands of times (price explanations): the
# result depends only on these arguments, so it is remembered.
@functools.lru_cache(maxsize=8192)
def _money_text(amount: Decimal, currency: str, locale_name: str, places: int | None) -> str:
    if places is None:
        amount = _without_negative_zero(quantize(amount, currency))
        return babel_numbers.format_currency(amount, currency, locale=_locale(locale_name))
    digits = minor_units(currency)
    exponent = Decimal(1).scaleb(-places)
    amount = _without_negative_zero(amount.quantize(exponent))
    # Trailing zeros past the currency's own digits say nothing: 4.5000 reads 4.50.
    amount = amount.normalize()
    if -amount.as_tuple().exponent < digits:
        amount = amount.quantize(Decimal(1).scaleb(-digits))
    return babel_numbers.format_currency(
        amount, currency, locale=_locale(locale_name), decimal_quantization=False
    )


def format_money(
    value: Money | Decimal | int | str | None,
    currency: str | None = None,
    *,
    locale: Locale | None = None,
) -> str:
    """ "41,38 €" / "€41.38": rounded to the currency's minor unit. Empty for None."""
    if value is None or value == "":
        return ""
    money = _as_money(value, currency)
    locale = locale or current_locale()
    return _money_text(money.amount, money.currency, str(locale), None)


def format_unit_price(
    value: Money | Decimal | int | str | None,
    currency: str | None = None,
    *,
    locale: Locale | None = None,
) -> str:
    """A unit price: the currency's digits, and up to four when the price has them
    ("10,1234 €", "4,50 €")."""
    if value is None or value == "":
        return ""
    money = _as_money(value, currency)
    locale = locale or current_locale()
    return _money_text(money.amount, money.currency, str(locale), UNIT_PRICE_PLACES)


def format_plan_price(
    value: Money | Decimal | int | str | None, currency: str | None = None
) -> str:
    """The price of a plan or a subscription: "Free" when it costs nothing."""
    if value is None or value == "":
        return ""
    money = _as_money(value, currency)
    if quantize(money.amount, money.currency) == 0:
        return _("Free")
    return format_money(money)


def format_adjustment(
    value: Money | Decimal | int | str | None, currency: str | None = None
) -> str:
    """What a change costs or gives back, in words: "Charge 12,00 €", "Refund 41,38 €",
    "No charge"."""
    if value is None or value == "":
        return ""
    money = _as_money(value, currency)
    amount = quantize(money.amount, money.currency)
    if amount == 0:
        return _("No charge")
    text = format_money(Money(abs(amount), money.currency))
    if amount < 0:
        return _("Refund %(amount)s") % {"amount": text}
    return _("Charge %(amount)s") % {"amount": text}


def _number(value: Any) -> Decimal | int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return value
    try:
        return to_decimal(value)
    except (TypeError, ValueError, InvalidOperation):
        return None


def format_number(
    value: Decimal | int | str | None, *, decimals: int | None = None, locale: Locale | None = None
) -> str:
    """A number with the locale's separators ("1 234,5"); no trailing zeros unless `decimals`
    asks for exactly that many ("10" rather than "10,000000")."""
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    locale = locale or current_locale()
    if isinstance(number, Decimal) and not number.is_finite():
        return _number_text.__wrapped__(number, str(locale), decimals)  # NaN does not hash
    return _number_text(number, str(locale), decimals)


# Like `_money_text`: billing explains thousands of lines with the same few quantities. Equal
# numbers (1, 1.0, Decimal("1.00")) give the same text here, so one key serves them all.
@functools.lru_cache(maxsize=8192)
def _number_text(number: Decimal | int, locale_name: str, decimals: int | None) -> str:
    locale = _locale(locale_name)
    if decimals is not None:
        number = Decimal(number).quantize(Decimal(1).scaleb(-decimals))
        pattern = "#,##0." + "0" * decimals if decimals > 0 else "#,##0"
        return babel_numbers.format_decimal(
            _without_negative_zero(number), format=pattern, locale=locale
        )
    if isinstance(number, Decimal):
        number = _without_negative_zero(number.normalize())
    return babel_numbers.format_decimal(number, locale=locale, decimal_quantization=False)


def format_quantity(value: int | str | None, *, locale: Locale | None = None) -> str:
    """A count of seats, licences, rows: a whole number with grouping ("1 000")."""
    return format_number(value, decimals=0, locale=locale)


def format_percent(value: Decimal | int | str | None, *, locale: Locale | None = None) -> str:
    """`value` is already in percent (a margin of 25 → "25 %" / "25%"); up to two decimals."""
    number = _number(value)
    if number is None:
        return ""
    locale = locale or current_locale()
    fraction = Decimal(number).quantize(Decimal("0.01")).normalize() / 100
    return babel_numbers.format_percent(
        _without_negative_zero(fraction), locale=locale, decimal_quantization=False
    )


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return _localtime(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            if _ISO_DATETIME.match(value):
                return _localtime(dt.datetime.fromisoformat(value)).date()
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _localtime(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return timezone.localtime(value)


def format_date(value: dt.date | dt.datetime | str | None, *, locale: Locale | None = None) -> str:
    """ "29 Nov 2026" / "29 nov. 2026". Takes a date, a datetime (its day in the current time
    zone) or an ISO 8601 text as stored in payloads. Empty for None."""
    day = _as_date(value)
    if day is None:
        return "" if value is None else str(value)
    return babel_dates.format_date(day, "medium", locale=locale or current_locale())


def format_month(day: dt.date, *, short: bool = False, locale: Locale | None = None) -> str:
    """ "Nov 2026" / "nov. 2026"; `short`: the month alone ("Nov" / "nov.")."""
    skeleton = "MMM" if short else "yMMM"
    return babel_dates.format_skeleton(skeleton, day, locale=locale or current_locale())


def format_datetime(value: dt.datetime | str | None, *, locale: Locale | None = None) -> str:
    """ "29 Nov 2026, 14:05" / "29 nov. 2026, 14:05", in the current time zone (UTC: see the
    module's docstring). A date alone formats as a date."""
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value) if _ISO_DATETIME.match(value) else value
        except ValueError:
            return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return format_date(value, locale=locale)
    if not isinstance(value, dt.datetime):
        return "" if value is None else str(value)
    locale = locale or current_locale()
    moment = _localtime(value)
    day = babel_dates.format_date(moment.date(), "medium", locale=locale)
    time = babel_dates.format_time(moment.time(), "short", locale=locale)
    return str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", time)


def format_value(value: Any) -> str:
    """Any value a table cell or a detail may hold, formatted by its type."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Money):
        return format_money(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, int):
        return format_quantity(value)
    if isinstance(value, Decimal):
        return format_number(value)
    return str(value)


# --- reading stored amounts -------------------------------------------------------------------

# Payloads written before amounts were stored as numbers hold what `Money.__str__` printed then:
# "€-41.38", "£1,234.50", "12.00 CHF". They are read back, never rewritten (history is
# append-only).
_LEGACY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "CHF": "CHF"}
_LEGACY_MONEY = re.compile(
    r"^(?P<symbol>€|\$|£|¥|CHF ?)?(?P<amount>-?[\d,]+(?:\.\d+)?)(?: (?P<code>[A-Z]{3}))?$"
)


def stored_money(value: Any, currency: str | None) -> Money | None:
    """An amount read from a payload: a number ("Decimal as string") with the payload's
    currency, or a legacy formatted text. None when it is not an amount."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal) or (
        isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value)
    ):
        return Money(to_decimal(value), currency) if currency else None
    if not isinstance(value, str):
        return None
    found = _LEGACY_MONEY.match(value.strip())
    if found is None:
        return None
    code = found["code"] or _LEGACY_SYMBOLS.get((found["symbol"] or "").strip()) or currency
    if not code:
        return None
    return Money(Decimal(found["amount"].replace(",", "")), code)
