from __future__ import annotations

from urllib.parse import urlencode

from django import template

from seatkeeper.activity.wording import action_label, describe_record

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
def changes_text(record, viewer=None) -> str:
    """An activity record as a sentence with its details, in the reader's language
    (`{{ record|changes_text:request.user }}`: customers do not see sellers' internals)."""
    return str(describe_record(record, viewer=viewer))


@register.filter
def activity_label(record) -> str:
    """What the record's action is called ("Quantity changed"), never its code."""
    return action_label(record.operation)


@register.filter
def call_with(function, argument):
    return function(argument)
