"""Bounds on what people, API clients and files may send: checked once, at the edge.

A value out of these bounds is refused with a message naming the field (a 400 on the API, a
form error on a page, a line error in a file); it never reaches the database or the pricing
engine, where it used to end as a 500 or, stored, break every price of its partner.

The bounds, written down once (models, forms, serializers and CSV importers all use these):

- **Amounts** (vendor cost and list price, price-list prices, fixed-price rules): zero or more,
  at most `MAX_AMOUNT` (999,999,999.999999) with at most `AMOUNT_DECIMAL_PLACES` (6)
  decimals. The columns are `numeric(18, 6)` (`AMOUNT_MAX_DIGITS`), so a bounded amount always
  fits, with three digits to spare; no licence costs a billion a unit.
- **Rule values** (markup, margin and discount percentages, or a fixed price): within
  ±`MAX_AMOUNT`, the same column shape.
- **Quantities** (seats ordered, changed, quoted or priced): zero or more, at most
  `MAX_QUANTITY` (100,000) seats on one subscription; the vendor's own limit for an offer
  (`Offer.maximum_quantity`) applies below it, checked by the services.
- **Exchange rates**: above zero, at most `MAX_RATE` (1,000,000), in a `numeric(20, 10)`.
- **Object ids** in paths and filters: 1 to `MAX_ID` (the largest bigint); anything else is
  "not found" or a bad filter, never an overflow in the database driver.
- **Dates** people give (order start, effective dates): up to `MAX_DATE` (year 2999), so that
  adding a term of years to them cannot pass the calendar's end.
- **API pages**: `limit` 1 to `MAX_PAGE_SIZE` (200, default 50), `offset` 0 to `MAX_OFFSET`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from django.core.exceptions import BadRequest
from django.core.validators import DecimalValidator, MaxValueValidator, MinValueValidator
from django.utils.translation import gettext as _

from seatkeeper.core.errors import ServiceError

AMOUNT_MAX_DIGITS = 18
AMOUNT_DECIMAL_PLACES = 6
MAX_AMOUNT = Decimal("999999999.999999")
MAX_QUANTITY = 100_000
MAX_RATE = Decimal("1000000")
MAX_ID = 2**63 - 1
MAX_DATE = dt.date(2999, 12, 31)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_OFFSET = 10_000_000

# For model fields and forms: the column shape plus the bounds.
AMOUNT_VALIDATORS = [
    MinValueValidator(Decimal(0)),
    MaxValueValidator(MAX_AMOUNT),
    DecimalValidator(AMOUNT_MAX_DIGITS, AMOUNT_DECIMAL_PLACES),
]
RULE_VALUE_VALIDATORS = [
    MinValueValidator(-MAX_AMOUNT),
    MaxValueValidator(MAX_AMOUNT),
    DecimalValidator(AMOUNT_MAX_DIGITS, AMOUNT_DECIMAL_PLACES),
]
RATE_VALIDATORS = [
    MinValueValidator(Decimal("0.0000000001")),
    MaxValueValidator(MAX_RATE),
    DecimalValidator(20, 10),
]
DATE_BOUNDS = [MaxValueValidator(MAX_DATE)]
_STORED_EXPONENT = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)


def amount_problem(value: Decimal) -> str | None:
    """Why `value` is not an acceptable amount, or None when it is."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return _("must be a number.")
    if value < 0:
        return _("must be zero or more.")
    if value > MAX_AMOUNT:
        return _("must be at most %(max)s.") % {"max": f"{MAX_AMOUNT:,}"}
    if value.normalize().as_tuple().exponent < -AMOUNT_DECIMAL_PLACES:  # type: ignore[operator]
        return _("has more than %(places)s decimal places.") % {"places": AMOUNT_DECIMAL_PLACES}
    return None


def require_amount(value: Decimal, *, field: str) -> Decimal:
    """For services: `value` if it is an acceptable amount, else a ServiceError naming `field`."""
    problem = amount_problem(value)
    if problem:
        raise ServiceError(f"{field} {problem}", field=field)
    return value


def parse_amount(text: str) -> Decimal:
    """An amount from a file: "12.50" or "12,50"; ValueError with a message otherwise."""
    text = (text or "").strip().replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("is not a number: %(text)s") % {"text": text[:40]}) from None
    problem = amount_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def read_stored_amount(text: str | None) -> tuple[Decimal | None, str]:
    """(amount, "") for an amount column read as text (`Cast(column, CharField())`), or
    (None, the text) when the stored value is out of bounds: a row written before these bounds,
    or by hand. Readers that must survive such a row (the pricing engine, the catalog import
    that corrects it) read the column this way; SQLite's own decimal converter would raise on
    it and take every price of the partner down with it."""
    if text is None:
        return None, ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, text
    if amount_problem(value):
        return None, text
    return value.quantize(_STORED_EXPONENT), ""


def quantity_problem(value: int, *, minimum: int = 0) -> str | None:
    if value < minimum:
        return _("must be at least %(min)s.") % {"min": minimum}
    if value > MAX_QUANTITY:
        return _("must be at most %(max)s.") % {"max": f"{MAX_QUANTITY:,}"}
    return None


def object_id(value: object) -> int:
    """An object id from a path or a query string; ValueError outside 1…MAX_ID (so selectors
    answer 404 instead of overflowing the database driver)."""
    number = int(value)  # type: ignore[call-overload]
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"{value!r} is not an object id")
    return number


class InvalidQuery(BadRequest):
    """A query string that cannot be read: a 400 naming the field (page or API)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(
            " ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        )


def clean_query(form_class, params) -> dict:
    """Validate a filter form against a query string; InvalidQuery (400) when it does not fit.
    One filter form serves the page, its export and the API."""
    form = form_class(params)
    if not form.is_valid():
        raise InvalidQuery({field: list(messages) for field, messages in form.errors.items()})
    return form.cleaned_data


def filter_or_400(filterset_class, request, queryset):
    """`queryset` filtered by a django-filter FilterSet from the query string (a page's, its
    export's or the API's: one definition serves the three); InvalidQuery (400) naming each
    unknown value."""
    params = getattr(request, "query_params", request.GET)
    filterset = filterset_class(params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise InvalidQuery({field: list(errors) for field, errors in filterset.errors.items()})
    return filterset.qs


def csv_rows(text: str) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and rows of an uploaded CSV file, whatever its line endings (LF, CRLF or the
    CR of old spreadsheets); a malformed file raises ValueError naming the line."""
    text = text.lstrip("\ufeff")
    # newline=None: universal newlines, so CR-only files split into lines too.
    reader = csv.DictReader(io.StringIO(text, newline=None))
    try:
        fieldnames = list(reader.fieldnames or [])
    except csv.Error as error:
        raise ValueError(_("Line 1 cannot be read: %(error)s") % {"error": error}) from None

    def rows() -> Iterator[dict[str, str]]:
        try:
            yield from reader
        except csv.Error as error:
            raise ValueError(
                _("Line %(number)s cannot be read: %(error)s")
                % {"number": reader.line_num, "error": error}
            ) from None

    return fieldnames, rows()
