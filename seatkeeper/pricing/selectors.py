"""Scoped reads of prices, and what of a price a given person may see.

Price lists, vendor prices and exchange rates are the partner's own business: only people of
the partner see them. Margin rules are seen by the organisation that set them and those above
it. A price shows the tiers the viewer may see (engine.visible_audiences), and its working only
when the viewer may also see the tier it was made from, so a customer never learns its
reseller's cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from seatkeeper.accounts.models import OrganisationKind, User
from seatkeeper.activity.wording import is_customer_viewer
from seatkeeper.catalog.selectors import partner_id_of
from seatkeeper.core.money import Money
from seatkeeper.core.validation import object_id
from seatkeeper.pricing.audiences import Audience, visible_audiences
from seatkeeper.pricing.engine import PriceBreakdown
from seatkeeper.pricing.models import ExchangeRate, MarginRule, Method, PriceList, PriceListEntry


def _is_partner_person(user: User) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.organisation_id is not None
        and user.organisation.kind == OrganisationKind.PARTNER
    )


def price_lists_visible_to(user: User) -> QuerySet[PriceList]:
    if not _is_partner_person(user):
        return PriceList.objects.none()
    return PriceList.objects.filter(organisation_id=user.organisation_id).select_related("customer")


def get_price_list_for_user(user: User, pk: object) -> PriceList:
    try:
        return price_lists_visible_to(user).get(pk=object_id(pk))
    except (PriceList.DoesNotExist, TypeError, ValueError):
        raise Http404("No such price list") from None


def current_entries(price_list: PriceList, on: dt.date) -> list[PriceListEntry]:
    """The entry in force on `on` for each offer, term and cycle of the list (removals left out)."""
    latest: dict[tuple, PriceListEntry] = {}
    entries = (
        PriceListEntry.objects.filter(price_list=price_list, effective_from__lte=on)
        .select_related("offer", "offer__vendor")
        .order_by("effective_from", "id")
    )
    for entry in entries:
        latest[(entry.offer_id, entry.term, entry.billing_cycle)] = entry
    rows = [entry for entry in latest.values() if entry.unit_price is not None]
    return sorted(rows, key=lambda e: (e.offer.title, e.term, e.billing_cycle))


def scheduled_entries(price_list: PriceList, after: dt.date) -> QuerySet[PriceListEntry]:
    return PriceListEntry.objects.filter(price_list=price_list, effective_from__gt=after)


def rules_visible_to(user: User) -> QuerySet[MarginRule]:
    if not user.is_authenticated or not user.is_active or user.organisation_id is None:
        return MarginRule.objects.none()
    return MarginRule.objects.filter(owner__path__startswith=user.organisation.path).select_related(
        "owner", "target", "vendor", "offer"
    )


def get_rule_for_user(user: User, pk: object) -> MarginRule:
    try:
        return rules_visible_to(user).get(pk=object_id(pk))
    except (MarginRule.DoesNotExist, TypeError, ValueError):
        raise Http404("No such rule") from None


def current_rules(queryset: QuerySet[MarginRule], on: dt.date) -> list[MarginRule]:
    """The version of each rule in force on `on`, plus versions that start later."""
    latest: dict[str, MarginRule] = {}
    upcoming: list[MarginRule] = []
    for rule in queryset.order_by("scope_key", "effective_from", "id"):
        if rule.effective_from <= on:
            latest[rule.scope_key] = rule
        else:
            upcoming.append(rule)
    rules = [rule for rule in latest.values() if rule.method != Method.REMOVED]
    return rules + upcoming


def exchange_rates_visible_to(user: User) -> QuerySet[ExchangeRate]:
    if not _is_partner_person(user):
        return ExchangeRate.objects.none()
    return ExchangeRate.objects.filter(organisation_id=partner_id_of(user))


@dataclass(frozen=True)
class ShownTier:
    audience: Audience
    label: str
    unit_price: Money
    total: Money
    monthly: Money
    whole_term: Money
    source: str
    summary: str
    explanation: str


def tiers_for(breakdown: PriceBreakdown, user: User) -> list[ShownTier]:
    """The tiers of `breakdown` that `user` may see, each saying whose price it is and why."""
    allowed = visible_audiences(user)
    customer = is_customer_viewer(user)
    below = {
        Audience.PARTNER_COST: None,
        Audience.RESELLER_PRICE: Audience.PARTNER_COST,
        Audience.CUSTOMER_PRICE: Audience.RESELLER_PRICE
        if breakdown.reseller_price
        else Audience.PARTNER_COST,
    }
    shown = []
    for tier in breakdown.tiers:
        if tier.audience not in allowed:
            continue
        reveals = below[tier.audience] is None or below[tier.audience] in allowed
        # Which rule or list priced a customer is its seller's internal working.
        summary = "" if customer else tier.summary
        shown.append(
            ShownTier(
                audience=tier.audience,
                label=tier.audience.label,
                unit_price=tier.money,
                total=breakdown.total(tier.audience),
                monthly=breakdown.monthly(tier.audience),
                whole_term=breakdown.whole_term(tier.audience),
                source=tier.source,
                summary=summary,
                explanation=tier.explanation if reveals else summary,
            )
        )
    return shown


def margins_for(breakdown: PriceBreakdown, user: User) -> list[tuple]:
    """Margins the viewer may see: the partner's to partner people, the reseller's to both."""
    allowed = visible_audiences(user)
    rows = breakdown.margins()
    if Audience.PARTNER_COST not in allowed:
        rows = rows[1:] if breakdown.reseller_price and Audience.RESELLER_PRICE in allowed else []
    return rows


# --- price sheets: the partner's own business ---------------------------------------------------


def price_sheet_vendors_for(user: User) -> QuerySet:
    """The connected vendors whose price sheets `user` may see: partner staff only."""
    from seatkeeper.catalog.models import Vendor, VendorKind

    if not _is_partner_person(user):
        return Vendor.objects.none()
    return Vendor.objects.filter(organisation_id=user.organisation_id, kind=VendorKind.API)


def get_price_sheet_vendor_for_user(user: User, pk: object):
    from seatkeeper.catalog.models import Vendor

    try:
        return price_sheet_vendors_for(user).get(pk=object_id(pk))
    except (Vendor.DoesNotExist, TypeError, ValueError):
        raise Http404("No such vendor") from None


def price_sheet_imports_visible_to(user: User) -> QuerySet:
    from seatkeeper.pricing.models import PriceSheetImport

    if not _is_partner_person(user):
        return PriceSheetImport.objects.none()
    return PriceSheetImport.objects.filter(
        vendor__organisation_id=user.organisation_id
    ).select_related("vendor")


def get_price_sheet_import_for_user(user: User, pk: object):
    from seatkeeper.pricing.models import PriceSheetImport

    try:
        return price_sheet_imports_visible_to(user).get(pk=object_id(pk))
    except (PriceSheetImport.DoesNotExist, TypeError, ValueError):
        raise Http404("No such price sheet import") from None
