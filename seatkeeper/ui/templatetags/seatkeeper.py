from __future__ import annotations

from urllib.parse import urlencode

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with `changes` applied (None removes a key); for sort/page links."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + urlencode(sorted(params.items()), doseq=False) if params else "?"


@register.filter
def changes_text(record) -> str:
    parts = [f"{field}: {old!s} → {new!s}" for field, (old, new) in record.changes.items()]
    return "; ".join(parts)


@register.filter
def call_with(function, argument):
    return function(argument)
