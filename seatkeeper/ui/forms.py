from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from seatkeeper.core.errors import PermissionRefused, ServiceError


def run_service[T](form: forms.Form, call: Callable[[], T]) -> T | None:
    """Run a service for a valid form; put its validation errors on the form, refusals → 403."""
    try:
        return call()
    except PermissionRefused as refusal:
        raise PermissionDenied(refusal.message) from refusal
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                target = field if field in form.fields else None
                for message in messages:
                    form.add_error(target if target else NON_FIELD_ERRORS, message)
        else:
            for message in error.messages:
                form.add_error(None, message)
    return None
