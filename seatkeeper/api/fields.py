"""Serializer fields bounded by core.validation: the API refuses what the columns and the
pricing engine cannot hold, with a 400 naming the field."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from seatkeeper.core.validation import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    MAX_AMOUNT,
    MAX_DATE,
    MAX_ID,
    MAX_QUANTITY,
    MAX_RATE,
)


def amount_field(**kwargs) -> serializers.DecimalField:
    """A price per unit: 0 … MAX_AMOUNT, at most six decimals."""
    return serializers.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        min_value=0,
        max_value=MAX_AMOUNT,
        **kwargs,
    )


def rule_value_field(**kwargs) -> serializers.DecimalField:
    """A margin rule's percentage or fixed price: ±MAX_AMOUNT, at most six decimals."""
    return serializers.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        min_value=-MAX_AMOUNT,
        max_value=MAX_AMOUNT,
        **kwargs,
    )


def rate_field(**kwargs) -> serializers.DecimalField:
    """An exchange rate: above zero, at most MAX_RATE, ten decimals."""
    return serializers.DecimalField(
        max_digits=20,
        decimal_places=10,
        min_value=Decimal("0.0000000001"),
        max_value=MAX_RATE,
        **kwargs,
    )


def quantity_field(*, minimum: int = 0, **kwargs) -> serializers.IntegerField:
    """Seats: `minimum` … MAX_QUANTITY (the offer's own limit is the services' to check)."""
    return serializers.IntegerField(min_value=minimum, max_value=MAX_QUANTITY, **kwargs)


def id_field(**kwargs) -> serializers.IntegerField:
    """An object's id: 1 … MAX_ID (a larger number is no id at all, not a database overflow)."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class BoundedDateField(serializers.DateField):
    """A date up to MAX_DATE, so that adding a term to it stays within the calendar."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if day > MAX_DATE:
            raise serializers.ValidationError(
                self.error_messages["max_date"].format(max=MAX_DATE.isoformat()),
                code="max_date",
            )
        return day

    default_error_messages = {"max_date": _("Use a date no later than {max}.")}
