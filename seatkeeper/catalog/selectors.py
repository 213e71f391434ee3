"""Scoped reads of the catalog: everyone sees the catalog of the partner at the root of their
tree, nobody sees another partner's. Anything else answers 404, like a missing object."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from seatkeeper.accounts.models import User
from seatkeeper.catalog.models import CatalogRefresh, Offer, Vendor
from seatkeeper.core.validation import object_id


def partner_id_of(user: User) -> int | None:
    if not user.is_authenticated or not user.is_active or user.organisation_id is None:
        return None
    return int(user.organisation.path.strip("/").split("/")[0])


def vendors_visible_to(user: User) -> QuerySet[Vendor]:
    partner_id = partner_id_of(user)
    if partner_id is None:
        return Vendor.objects.none()
    return Vendor.objects.filter(organisation_id=partner_id)


def get_vendor_for_user(user: User, pk: object) -> Vendor:
    try:
        return vendors_visible_to(user).get(pk=object_id(pk))
    except (Vendor.DoesNotExist, TypeError, ValueError):
        raise Http404("No such vendor") from None


def offers_visible_to(user: User) -> QuerySet[Offer]:
    partner_id = partner_id_of(user)
    if partner_id is None:
        return Offer.objects.none()
    return Offer.objects.filter(vendor__organisation_id=partner_id).select_related("vendor")


def get_offer_for_user(user: User, pk: object) -> Offer:
    try:
        return offers_visible_to(user).get(pk=object_id(pk))
    except (Offer.DoesNotExist, TypeError, ValueError):
        raise Http404("No such offer") from None


def search_offers(
    queryset: QuerySet[Offer],
    *,
    text: str = "",
    vendor: int | None = None,
    category: str = "",
    kind: str = "",
    term: str = "",
    status: str = "",
) -> QuerySet[Offer]:
    """Offers matching the filters (validated by catalog.forms.OfferFilterForm)."""
    text = text.strip()
    if text:
        queryset = queryset.filter(
            Q(title__icontains=text)
            | Q(product_title__icontains=text)
            | Q(item_code__icontains=text)
            | Q(description__icontains=text)
            | Q(external_id__icontains=text)
        )
    if vendor:
        queryset = queryset.filter(vendor_id=vendor)
    if category:
        queryset = queryset.filter(category=category)
    if kind:
        queryset = queryset.filter(kind=kind)
    if term:
        queryset = queryset.filter(terms__term=term, terms__is_available=True).distinct()
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def categories_of(queryset: QuerySet[Offer]) -> list[str]:
    return list(
        queryset.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def refreshes_visible_to(user: User) -> QuerySet[CatalogRefresh]:
    return CatalogRefresh.objects.filter(vendor__in=vendors_visible_to(user)).select_related(
        "vendor"
    )
