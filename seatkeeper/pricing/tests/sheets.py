"""License-based price sheets written from the shape Microsoft documents for
`pricesheets(Market=..,PricesheetView='updatedlicensebased')/$value`, and a French catalog that
came from Partner Center without any price (as the real catalog does)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Offer, Vendor, VendorKind
from seatkeeper.catalog.tests.fakes import FakeCatalogProvider, offer, without_prices
from seatkeeper.providers.models import ProviderAccount, ProviderKind

COLUMNS = [
    "ProductTitle", "ProductId", "SkuId", "AvailabilityId", "SkuTitle", "Publisher",
    "SkuDescription", "UnitOfMeasure", "TermDuration", "BillingPlan", "Market", "Currency",
    "UnitPrice", "PricingTierRangeMin", "PricingTierRangeMax", "EffectiveStartDate",
    "EffectiveEndDate", "Tags", "ERP Price", "Segment",
]  # fmt: skip

BASIC, E3 = "CFQ7TTC0LH18", "CFQ7TTC0LFLX"
TITLES = {BASIC: "Microsoft 365 Business Basic", E3: "Microsoft 365 E3"}


def line(
    product: str,
    term: str,
    plan: str,
    price: str,
    *,
    erp: str = "",
    start: str = "2026-11-01T00:00:00Z",
    end: str = "",
    market: str = "FR",
    currency: str = "EUR",
    tier: tuple[str, str] = ("0", ""),
    segment: str = "Commercial",
) -> dict[str, str]:
    return {
        "ProductTitle": TITLES.get(product, product),
        "ProductId": product,
        "SkuId": "0001",
        "AvailabilityId": "CFQ7TTC0K5DP",
        "SkuTitle": TITLES.get(product, product),
        "Publisher": "Microsoft Corporation",
        "SkuDescription": "",
        "UnitOfMeasure": "1 License",
        "TermDuration": term,
        "BillingPlan": plan,
        "Market": market,
        "Currency": currency,
        "UnitPrice": price,
        "PricingTierRangeMin": tier[0],
        "PricingTierRangeMax": tier[1],
        "EffectiveStartDate": start,
        "EffectiveEndDate": end,
        "Tags": "License",
        "ERP Price": erp,
        "Segment": segment,
    }


def sheet_bytes(rows: list[dict[str, str]], *, bom: bool = False, zipped: bool = False) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    data = ("\ufeff" if bom else "") + text.getvalue()
    raw = data.encode("utf-8")
    if not zipped:
        return raw
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped_file:
        zipped_file.writestr("pricesheet_FR_updatedlicensebased.csv", raw)
    return archive.getvalue()


# The sheet for the November 2026 French market: Basic on three terms, E3 on two.
NOVEMBER = [
    line(BASIC, "P1M", "Monthly", "6.48", erp="7.20"),
    line(BASIC, "P1Y", "Monthly", "5.40", erp="6.00"),
    line(BASIC, "P1Y", "Annual", "64.80", erp="72.00"),
    line(E3, "P1Y", "Annual", "388.80", erp="432.00"),
    line(E3, "P1Y", "Monthly", "32.40", erp="36.00"),
    # A product Seatkeeper's catalog does not hold.
    line("CFQ7TTC0ZZZZ", "P1Y", "Annual", "10.00", erp="12.00"),
]


def french_vendor(cast) -> tuple[Vendor, Offer, Offer]:
    account = ProviderAccount(
        organisation=cast.partner,
        kind=ProviderKind.MICROSOFT,
        name="Partner Center FR",
        partner_tenant_id="33333333-3333-4333-8333-333333333333",
        application_id="44444444-4444-4444-8444-444444444444",
    )
    account.set_application_secret("secret")
    account.save()
    vendor = catalog_services.vendor_create(
        actor=None, partner=cast.partner, name="Microsoft FR", kind=VendorKind.API,
        provider_account=account, country="FR",
    )  # fmt: skip
    offers = []
    for product in (BASIC, E3):
        item = without_prices(offer(product, TITLES[product], currency="EUR"))
        # The fake availability is British; this catalog is the French one.
        french = replace(item.availabilities[0], country="FR")
        offers.append(replace(item, availabilities=(french,)))
    catalog_services.catalog_refresh(vendor=vendor, provider=FakeCatalogProvider(offers=offers))
    return (
        vendor,
        Offer.objects.get(vendor=vendor, product_id=BASIC),
        Offer.objects.get(vendor=vendor, product_id=E3),
    )
