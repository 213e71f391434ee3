"""Readable, translated labels for the vendor's own codes shown in the catalog and the store.

Partner Center names a product's type (our offer category) with an identifier such as
`OnlineServices` or `OnlineServicesNCE` and sends the same text as its display name. People read
"Online services", "Services en ligne": known codes get a translated label; any other code is
split into words ("SoftwareSubscriptions" → "Software subscriptions"), never shown glued.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

KNOWN_CATEGORIES = {
    "onlineservices": _("Online services"),
    "onlineservicesnce": _("Online services (New Commerce)"),
    "azure": _("Azure"),
    "software": _("Software"),
    "softwaresubscriptions": _("Software subscriptions"),
    "saas": _("Software as a service"),
    "perpetualsoftware": _("Perpetual software"),
    "reservedinstances": _("Azure reservations"),
    "azurereservations": _("Azure reservations"),
}

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def category_label(code: str) -> str:
    """The label for a category code; an empty code is "Other"."""
    code = (code or "").strip()
    if not code:
        return str(_("Other"))
    known = KNOWN_CATEGORIES.get(code.replace(" ", "").replace("_", "").lower())
    if known is not None:
        return str(known)
    if " " in code:
        return code  # already words (a manual vendor's own category)
    words = _WORD.findall(code)
    if not words:
        return code
    first, *rest = words
    return " ".join([first, *(word if word.isupper() else word.lower() for word in rest)])
