from __future__ import annotations

from django import template

from seatkeeper.subscriptions import display
from seatkeeper.subscriptions.forms import term_cycle_label

register = template.Library()


@register.filter
def term_cycle(subscription) -> str:
    """ "1 year · Monthly": the term and billing cycle as people read them."""
    return term_cycle_label(subscription.term, subscription.billing_cycle)


@register.filter
def operation_details(operation) -> str:
    return display.operation_details(operation)


@register.filter
def operation_tries(operation) -> int:
    return display.operation_tries(operation)


@register.filter
def attempt_lines(operation) -> list[str]:
    return display.attempt_lines(operation)


@register.filter
def vendor_error(operation) -> str:
    return display.vendor_error(operation.error_code, operation.error_message)
