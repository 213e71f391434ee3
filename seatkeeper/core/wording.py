"""Helpers for sentences put together from translated messages and names."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext

_remembered: dict[tuple[str | None, str], str] = {}


def remembered_gettext(message: str) -> str:
    """gettext, remembered per language: for code that builds the same phrases thousands of times
    (the pricing engine explains every price), where looking each up in the catalog again was
    most of its time."""
    key = (translation.get_language(), message)
    try:
        return _remembered[key]
    except KeyError:
        _remembered[key] = value = gettext(message)
        return value
