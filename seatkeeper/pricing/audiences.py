"""Whose price: the three tiers a price is shown to, and which of them a person may see.

The engine prices every tier; screens, exports and the catalog only need to name a tier and to
know which tiers their reader may see, so they import this module, not the engine.
"""

from __future__ import annotations

import enum

from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.core.wording import remembered_gettext as _


class Audience(enum.StrEnum):
    PARTNER_COST = "partner_cost"
    RESELLER_PRICE = "reseller_price"
    CUSTOMER_PRICE = "customer_price"

    @property
    def label(self) -> str:
        if self is Audience.PARTNER_COST:
            return _("Partner cost")
        if self is Audience.RESELLER_PRICE:
            return _("Reseller price")
        return _("Customer price")


def visible_audiences(user) -> set[Audience]:
    """Whose prices a person may see: partner staff all three; a reseller its own price and its
    customers'; a customer only its own."""
    kind = user.organisation.kind if user.organisation_id else None
    if kind == OrganisationKind.PARTNER:
        return set(Audience)
    if kind == OrganisationKind.RESELLER:
        return {Audience.RESELLER_PRICE, Audience.CUSTOMER_PRICE}
    return {Audience.CUSTOMER_PRICE}
