"""Background work of pricing: the vendor's price sheets, one per market the partner sells in."""

from __future__ import annotations

import logging

from django.tasks import task

from seatkeeper.catalog.models import Vendor, VendorKind
from seatkeeper.core.errors import ServiceError
from seatkeeper.providers.errors import ProviderError

logger = logging.getLogger(__name__)


@task()
def import_vendor_price_sheets(vendor_id: int, month: str = "") -> None:
    """Import `vendor`'s price sheet for every market the partner's customers are in (run after
    each catalog refresh). Safe to run twice: the import adds only prices it does not know. One
    market failing (recorded on its import) does not stop the others."""
    from seatkeeper.pricing.pricesheets import price_sheet_download, price_sheet_markets

    vendor = Vendor.objects.select_related("organisation", "provider_account").get(pk=vendor_id)
    if not vendor.is_active or vendor.kind != VendorKind.API or vendor.provider_account is None:
        return
    if vendor.provider_account.kind != "microsoft":
        return  # the license-based price sheet is Microsoft's
    for market in price_sheet_markets(vendor):
        try:
            price_sheet_download(actor=None, vendor=vendor, market=market, month=month)
        except (ProviderError, ServiceError) as error:
            logger.warning("price sheet %s of vendor %s not imported: %s", market, vendor_id, error)
