"""Background work of the catalog: refreshing connected vendors' catalogs."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.tasks import task

from seatkeeper.catalog.models import Vendor, VendorKind

logger = logging.getLogger(__name__)

# A refresh of the whole Microsoft catalog is a few hundred requests; once a day is what peers do
# ("marketplace price lists refreshed overnight").
REFRESH_EVERY_HOURS = 24


@task()
def refresh_vendor_catalog(vendor_id: int, actor_id: int | None = None) -> None:
    """Import one vendor's catalog. Safe to run twice: the import is an idempotent upsert.
    `actor_id`: who pressed the button (their rights are checked again by the service)."""
    from seatkeeper.accounts.models import User
    from seatkeeper.catalog.services import catalog_refresh

    vendor = Vendor.objects.select_related("organisation", "provider_account").get(pk=vendor_id)
    if not vendor.is_active or vendor.kind != VendorKind.API:
        return
    actor = User.objects.get(pk=actor_id) if actor_id else None
    catalog_refresh(vendor=vendor, actor=actor)
    # Partner Center's catalog carries no prices: its price sheets follow every refresh.
    from seatkeeper.pricing.tasks import import_vendor_price_sheets

    import_vendor_price_sheets.enqueue(vendor_id=vendor_id)


@task()
def refresh_all_catalogs() -> None:
    """The periodic job: one task per connected vendor, so one failure does not stop the rest."""
    vendor_ids = Vendor.objects.filter(
        kind=VendorKind.API, is_active=True, provider_account__is_active=True
    ).values_list("pk", flat=True)
    for vendor_id in vendor_ids:
        transaction.on_commit(partial(refresh_vendor_catalog.enqueue, vendor_id=vendor_id))
