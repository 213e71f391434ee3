from __future__ import annotations

from django import template

from seatkeeper.billing import reports

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """An amount in the reader's locale, e.g. {{ amount|money:"EUR" }}."""
    return reports.money_text(amount, currency)


@register.filter
def unit_money(amount, currency: str) -> str:
    return reports.money_text(amount, currency, unit=True)


@register.filter
def short_date(day) -> str:
    return reports.date_text(day) if day else ""
