"""Template filters that format money, numbers and dates in the reader's language.

Available in every template without `{% load %}` (settings: `TEMPLATES["OPTIONS"]["builtins"]`),
so no page formats on its own: `{{ price|money }}`, `{{ lot.unit_money|unit_price }}`,
`{{ price.total|plan_price }}` ("Free"), `{{ quote.adjustment_now|adjustment }}` ("Refund
41,38 €"), `{{ n|quantity }}`, `{{ value|number }}`, `{{ margin|percent }}`,
`{{ day|format_date }}`, `{{ month|format_month }}`, `{{ moment|format_datetime }}`, and
`{{ value|cell }}` for a table cell of any type. Each takes a `Money`, or an amount with its
currency as argument (`{{ entry.unit_price|unit_price:price_list.currency }}`). See
`core.formatting`.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone

from seatkeeper.core import formatting

register = template.Library()


def _quiet(function):
    """A filter never breaks a page: a value it cannot read shows as it is."""

    def wrapped(value, argument=None):
        try:
            return function(value, argument)
        except (TypeError, ValueError, ArithmeticError):
            return "" if value is None else value

    wrapped.__name__ = function.__name__
    return wrapped


@register.filter
@_quiet
def money(value, currency=None):
    return formatting.format_money(value, currency)


@register.filter
@_quiet
def unit_price(value, currency=None):
    return formatting.format_unit_price(value, currency)


@register.filter
@_quiet
def plan_price(value, currency=None):
    return formatting.format_plan_price(value, currency)


@register.filter
@_quiet
def adjustment(value, currency=None):
    return formatting.format_adjustment(value, currency)


@register.filter
@_quiet
def number(value, decimals=None):
    return formatting.format_number(value, decimals=None if decimals is None else int(decimals))


@register.filter
@_quiet
def quantity(value, _argument=None):
    return formatting.format_quantity(value)


@register.filter
@_quiet
def percent(value, _argument=None):
    return formatting.format_percent(value)


@register.filter
@_quiet
def format_date(value, _argument=None):
    return formatting.format_date(value)


@register.filter
@_quiet
def format_month(value, _argument=None):
    return formatting.format_month(value)


@register.filter
@_quiet
def format_datetime(value, zone=None):
    """`{{ moment|format_datetime }}`; `{{ moment|format_datetime:"UTC" }}` where the text
    itself says UTC (e-mails)."""
    if zone == "UTC":
        with timezone.override(dt.UTC):
            return formatting.format_datetime(value)
    return formatting.format_datetime(value)


@register.filter
@_quiet
def cell(value, _argument=None):
    return formatting.format_value(value)


@register.filter
def category(value, _argument=None):
    """A vendor's category code as words in the reader's language ("Online services")."""
    from seatkeeper.catalog.labels import category_label

    return category_label(value)
