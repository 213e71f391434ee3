"""One rule for every free-text field that holds a single line: names, PO numbers, labels.

Control characters have no business in them and do harm downstream: a line break splits a CSV
row or an e-mail header, a NUL ends a C string at the vendor, a bidirectional override makes
"Invoice‮fdp.exe" read differently from what it is. They are refused with the field named.
Joiners used by some scripts (U+200C, U+200D) stay allowed.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# C0 and C1 controls (tab and line breaks included), DEL, the line and paragraph separators,
# and the bidirectional embedding, override and isolate controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MESSAGE = _("Control characters (line breaks, tabs, direction marks…) are not allowed here.")


def single_line(value: object) -> None:
    """Validator for model and form fields."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ValidationError(MESSAGE, code="control_characters")


def check_single_line(**fields: object) -> None:
    """For services that write without `full_clean`: one ValidationError naming every field."""
    errors = {}
    for name, value in fields.items():
        try:
            single_line(value)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
