"""End to end over HTTPS: a catalog from a sandbox that, like Partner Center, sends no prices;
its price sheets downloaded (zipped, streamed to a file) and imported for every market the
partner's customers are in; the sandbox's sheet in its CSV and history variants."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Offer, VendorKind
from seatkeeper.catalog.tasks import refresh_vendor_catalog
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.pricing.engine import price_one
from seatkeeper.pricing.models import (
    PriceSheetImport,
    PriceSheetOrigin,
    PriceSheetStatus,
    VendorPrice,
)
from seatkeeper.pricing.pricesheets import (
    open_sheet,
    price_sheet_download,
    price_sheet_markets,
    read_rows,
)
from seatkeeper.providers.errors import ProviderError, ValidationFailed
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.models import ProviderAccount, ProviderKind

BASIC = "CFQ7TTC0LH18:0001"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp("pricesheet"), customers=1, dialect="no_catalog_prices"
    ) as info:
        yield info
        from seatkeeper.providers.microsoft.auth import forget_token_sources

        forget_token_sources()


@pytest.fixture
def vendor(cast, sandbox):
    account = ProviderAccount(
        organisation=cast.partner, kind=ProviderKind.MICROSOFT, name="Sandbox",
        partner_tenant_id=sandbox.partner_tenant_id, application_id=sandbox.client_id,
        authority_url=sandbox.authority_url, api_base_url=sandbox.base_url,
        ca_bundle_path=str(sandbox.ca_cert),
    )  # fmt: skip
    account.set_application_secret(sandbox.client_secret)
    account.set_refresh_token(sandbox.admin.mint_refresh_token())
    account.save()
    return catalog_services.vendor_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Microsoft", kind=VendorKind.API,
        provider_account=account, country="FR",
    )  # fmt: skip


def test_a_catalog_refresh_imports_the_price_sheet_of_every_customer_market(cast, vendor):
    # when the daily catalog task runs (tasks run inline in tests)
    refresh_vendor_catalog.call(vendor_id=vendor.pk)
    # then the French catalog came without prices and the sheets priced it
    assert price_sheet_markets(vendor) == ["FR", "GB"]  # the catalog's, the customers'
    runs = {run.markets: run for run in PriceSheetImport.objects.filter(vendor=vendor)}
    assert set(runs) == {"FR", "GB"}
    assert all(run.status == PriceSheetStatus.COMPLETED for run in runs.values())
    assert all(run.origin == PriceSheetOrigin.VENDOR for run in runs.values())
    french = runs["FR"]
    offers = Offer.objects.filter(vendor=vendor, status="active")
    assert french.offers_priced == offers.count() > 10
    assert french.offers_without_price == 0 and french.rows_unmatched == 0
    assert runs["GB"].prices_added == 0  # no British offers in this catalog
    basic = offers.get(external_id=BASIC)
    annual = VendorPrice.objects.get(offer=basic, term="P1Y", billing_cycle="annual")
    # The sandbox's Basic: 6 USD a month ERP, 0.95 EUR a dollar, partner price 90% of ERP.
    assert (annual.currency, annual.list_price, annual.cost) == (
        "EUR",
        Decimal("68.40"),
        Decimal("61.56"),
    )
    assert annual.effective_from == clock.today().replace(day=1)
    # A subscription that started long before the first import still prices.
    priced = price_one(partner=cast.partner, offer_id=basic.pk, customer_id=cast.customer.pk,
                       term="P1Y", billing_cycle="annual", on=dt.date(2024, 2, 1),
                       currency="EUR")  # fmt: skip
    assert priced.partner_cost.unit_price == Decimal("61.56")
    # and running it again adds nothing
    count = VendorPrice.objects.count()
    refresh_vendor_catalog.call(vendor_id=vendor.pk)
    assert VendorPrice.objects.count() == count
    latest = PriceSheetImport.objects.filter(vendor=vendor, markets="FR").first()
    assert latest.prices_added == 0 and latest.prices_unchanged == french.prices_added


def test_a_past_months_sheet_is_dated_from_that_month(cast, vendor, sandbox):
    catalog_services.catalog_refresh(vendor=vendor, actor=cast.cloud_admin)
    run = price_sheet_download(actor=cast.cloud_admin, vendor=vendor, market="FR", month="202601")
    assert run.month == "202601" and run.prices_added > 10
    days = set(VendorPrice.objects.filter(offer__vendor=vendor).values_list("effective_from",
                                                                            flat=True))  # fmt: skip
    assert days == {dt.date(2026, 1, 1)}


def test_the_sandbox_serves_the_csv_and_refuses_a_bad_month(vendor):
    connector = MicrosoftProvider.from_account(vendor.provider_account)
    with connector:
        plain = io.BytesIO()
        connector.client.send(
            "GET",
            "/v1.0/sales/pricesheets(Market='GB',PricesheetView='updatedlicensebased')/$value",
            params={"timeline": "history", "month": "202605"},
            headers={"Accept": "*/*", "Accept-Encoding": "identity"},
            token_kind="user",
            into=plain,
        )
        zipped = io.BytesIO()
        connector.download_price_sheet(market="GB", month="202605", into=zipped)
        with pytest.raises(ValidationFailed):
            connector.download_price_sheet(market="GB", month="209913", into=io.BytesIO())
    assert plain.getvalue().startswith(b"\xef\xbb\xbfProductTitle,ProductId,SkuId")
    assert zipped.getvalue().startswith(b"PK\x03\x04")
    plain.seek(0), zipped.seek(0)
    with open_sheet(plain) as text:
        rows = list(read_rows(text))
    with open_sheet(zipped) as text:
        assert list(read_rows(text)) == rows
    assert {(row.market, row.currency) for row in rows} == {("GB", "GBP")}
    assert {(row.start, row.end) for row in rows} == {(dt.date(2026, 5, 1), dt.date(2026, 5, 31))}


def test_a_failed_download_is_recorded(cast, vendor, sandbox):
    sandbox.admin.set_faults(error_rate=1.0, path_prefix="/v1.0/sales")
    try:
        with pytest.raises(ProviderError):  # 5xx on every attempt: Unavailable, after retries
            price_sheet_download(actor=None, vendor=vendor, market="FR")
    finally:
        sandbox.admin.reset_faults()
    run = PriceSheetImport.objects.get(vendor=vendor)
    assert run.status == PriceSheetStatus.FAILED and run.error


def test_history_is_backfilled_oldest_first_and_adds_a_price_once(cast, vendor, sandbox):
    from django.core.management import call_command

    catalog_services.catalog_refresh(vendor=vendor, actor=cast.cloud_admin)
    out = io.StringIO()
    call_command("import_price_sheets", "--months", "2", stdout=out)
    runs = PriceSheetImport.objects.filter(vendor=vendor, markets="FR").order_by("pk")
    this_month = clock.today().replace(day=1)
    assert [run.month for run in runs] == ["202609", "202610", ""]  # TEST_NOW is in November
    assert all(run.status == PriceSheetStatus.COMPLETED for run in runs)
    # The sandbox's prices did not change: the oldest month brought them, the others nothing.
    assert runs[0].prices_added > 10 and runs[1].prices_added == runs[2].prices_added == 0
    days = set(
        VendorPrice.objects.filter(offer__vendor=vendor).values_list("effective_from", flat=True)
    )
    assert days == {dt.date(2026, 9, 1)} and this_month == dt.date(2026, 11, 1)
    assert "FR 202609:" in out.getvalue()
    # A bad month is refused before anything is asked of the vendor.
    with pytest.raises(ServiceError):
        price_sheet_download(actor=None, vendor=vendor, market="FR", month="202613")
