"""The license-based price sheet: reading it (CSV, zipped, BOM, tiers, bad lines) and importing
it into dated vendor prices that the engine uses, once and only once."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.catalog.models import CatalogChange, ChangeKind
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.pricing.engine import price_one
from seatkeeper.pricing.models import (
    PriceSheetImport,
    PriceSheetStatus,
    PriceSource,
    VendorPrice,
)
from seatkeeper.pricing.pricesheets import open_sheet, price_sheet_import, read_rows
from seatkeeper.pricing.tests.sheets import BASIC, E3, NOVEMBER, french_vendor, line, sheet_bytes


def rows_of(data: bytes):
    with open_sheet(io.BytesIO(data)) as text:
        return list(read_rows(text))


# --- reading ------------------------------------------------------------------------------------


def test_documented_lines_read_with_their_dates_prices_and_plans():
    rows = rows_of(sheet_bytes(NOVEMBER))
    assert len(rows) == 6
    first = rows[0]
    assert (first.product_id, first.sku_id, first.term, first.billing_plan) == (
        BASIC,
        "0001",
        "P1M",
        "monthly",
    )
    assert (first.market, first.currency, first.segment) == ("FR", "EUR", "commercial")
    assert first.unit_price == Decimal("6.48") and first.erp_price == Decimal("7.20")
    assert first.start == dt.date(2026, 11, 1)
    assert first.end is None  # a blank end date: the price still holds
    assert rows[2].billing_plan == "annual"


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("zipped", [False, True])
def test_a_zipped_sheet_or_one_with_a_byte_order_mark_reads_the_same(bom, zipped):
    assert rows_of(sheet_bytes(NOVEMBER, bom=bom, zipped=zipped)) == rows_of(sheet_bytes(NOVEMBER))


def test_us_dates_and_end_dates_read():
    rows = rows_of(
        sheet_bytes([line(BASIC, "P1Y", "Annual", "60", start="10/1/2026 12:00:00 AM",
                          end="10/31/2026 11:59:59 PM")])
    )  # fmt: skip
    assert (rows[0].start, rows[0].end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def test_a_bad_line_is_refused_alone_with_its_line_number():
    rows = rows_of(
        sheet_bytes(
            [
                line(BASIC, "P1Y", "Annual", "abc"),
                line(BASIC, "P1Y", "Annual", "60", start=""),
                line(BASIC, "P1Y", "Annual", "60", currency="EURO"),
                line(E3, "P1Y", "Annual", "388.80"),
            ]
        )
    )
    assert [row.line for row in rows if row.problem] == [2, 3, 4]
    assert "UnitPrice" in rows[0].problem and "EffectiveStartDate" in rows[1].problem
    assert not rows[3].problem


def test_a_file_that_is_not_a_price_sheet_is_refused():
    with pytest.raises(ServiceError, match="UnitPrice".lower()):
        rows_of(b"ProductId,SkuId,TermDuration,BillingPlan,Market,Currency\r\n")
    with pytest.raises(ServiceError):
        rows_of(b"")
    with pytest.raises(ServiceError):
        rows_of(b"PK\x03\x04 not really a zip")


# --- importing ----------------------------------------------------------------------------------


@pytest.fixture
def french(cast):
    return french_vendor(cast)


def _import(vendor, rows, **options):
    return price_sheet_import(
        actor=options.pop("actor", None),
        vendor=vendor,
        source=io.BytesIO(sheet_bytes(rows, **options)),
        file_name="sheet.csv",
    )


def test_the_catalog_import_already_reports_each_offer_it_found_no_price_for(french):
    """Issue 8 §6: Partner Center's catalog has no prices; the refresh says so per offer."""
    vendor, basic, e3 = french
    notices = CatalogChange.objects.filter(offer__vendor=vendor, kind=ChangeKind.NO_PRICE)
    assert {change.offer_id for change in notices} == {basic.pk, e3.pk}
    assert not VendorPrice.objects.filter(offer__vendor=vendor).exists()


def test_a_sheet_prices_the_catalog_from_its_effective_dates(cast, french):
    vendor, basic, e3 = french
    run = _import(vendor, NOVEMBER, zipped=True)
    assert run.status == PriceSheetStatus.COMPLETED
    assert (run.rows_read, run.rows_matched, run.rows_unmatched) == (6, 5, 1)
    assert run.prices_added == 5 and run.markets == "FR"
    annual = VendorPrice.objects.get(offer=basic, term="P1Y", billing_cycle="annual")
    assert (annual.cost, annual.list_price, annual.currency) == (
        Decimal("64.80"),
        Decimal("72.00"),
        "EUR",
    )
    assert annual.effective_from == dt.date(2026, 11, 1)
    assert annual.source == PriceSource.PRICE_SHEET
    # E3 for one month is for sale but the sheet has no price for it: reported, per offer.
    assert run.offers_without_price == 1
    assert run.unpriced == [
        {"offer": e3.pk, "title": e3.title, "country": "FR", "terms": [["P1M", "monthly"]]}
    ]
    record = ActivityRecord.objects.get(operation="pricesheet.import")
    assert record.details["added"] == 5 and record.organisation_id == cast.partner.pk


def test_importing_the_same_sheet_twice_changes_nothing(french):
    vendor, _basic, _e3 = french
    _import(vendor, NOVEMBER)
    before = list(VendorPrice.objects.order_by("id").values_list("id", flat=True))
    again = _import(vendor, NOVEMBER, bom=True, zipped=True)
    assert again.prices_added == 0 and again.prices_unchanged == 5
    assert list(VendorPrice.objects.order_by("id").values_list("id", flat=True)) == before


def test_of_quantity_tiers_the_first_units_price_is_kept(french):
    vendor, basic, _e3 = french
    run = _import(
        vendor,
        [
            line(BASIC, "P1Y", "Annual", "50.00", tier=("301", "")),
            line(BASIC, "P1Y", "Annual", "64.80", tier=("0", "300")),
        ],
    )
    assert run.tier_rows == 1 and run.prices_added == 1
    assert VendorPrice.objects.get(offer=basic, billing_cycle="annual").cost == Decimal("64.80")


def test_a_price_change_mid_history_prices_each_day_and_earlier_days_at_the_first(cast, french):
    vendor, basic, _e3 = french
    october = [line(BASIC, "P1Y", "Annual", "60.00", start="2026-10-01T00:00:00Z",
                    end="2026-11-14T23:59:59Z")]  # fmt: skip
    changed = [line(BASIC, "P1Y", "Annual", "64.80", start="2026-11-15T00:00:00Z")]
    # The later month first, then the history: the order of imports does not matter.
    _import(vendor, changed)
    _import(vendor, october)
    _import(vendor, october + changed)  # an overlapping sheet adds nothing

    def cost(day):
        priced = price_one(partner=cast.partner, offer_id=basic.pk, customer_id=cast.customer.pk,
                           term="P1Y", billing_cycle="annual", on=day, currency="EUR")  # fmt: skip
        return priced.partner_cost.unit_price

    assert VendorPrice.objects.filter(offer=basic).count() == 2
    assert cost(dt.date(2026, 10, 20)) == Decimal("60.00")
    assert cost(dt.date(2026, 11, 20)) == Decimal("64.80")
    # A subscription that started before any price was imported prices at the first one.
    assert cost(dt.date(2025, 3, 1)) == Decimal("60.00")


def test_lines_of_another_market_or_segment_do_not_price_the_french_offers(french):
    vendor, _basic, _e3 = french
    run = _import(
        vendor,
        [
            line(BASIC, "P1Y", "Annual", "54.00", market="GB", currency="GBP"),
            line(BASIC, "P1Y", "Annual", "30.00", segment="Education"),
        ],
    )
    assert run.prices_added == 0 and run.rows_unmatched == 2


def test_only_the_partners_cloud_admins_import_prices(cast, french):
    vendor, _basic, _e3 = french
    for person in (cast.operator, cast.outsider, cast.reseller_admin):
        with pytest.raises(PermissionRefused):
            _import(vendor, NOVEMBER, actor=person)
    assert not PriceSheetImport.objects.exists()
    assert _import(vendor, NOVEMBER, actor=cast.cloud_admin).prices_added == 5


def test_a_failed_import_is_recorded_and_adds_no_price(french):
    vendor, _basic, _e3 = french
    with pytest.raises(ServiceError):
        price_sheet_import(actor=None, vendor=vendor, source=io.BytesIO(b"a,b\r\n1,2\r\n"))
    run = PriceSheetImport.objects.get()
    assert run.status == PriceSheetStatus.FAILED and "price sheet" in run.error
    assert not VendorPrice.objects.exists()


def test_optional_columns_may_be_absent_and_extra_columns_are_ignored():
    text = (
        "ProductId,SkuId,TermDuration,BillingPlan,Market,Currency,UnitPrice,EffectiveStartDate,"
        "NewColumn\r\n"
        f"{BASIC},0001,P1Y,Annual,FR,EUR,64.80,2026-11-01,extra\r\n"
    )
    (row,) = rows_of(text.encode())
    assert not row.problem
    assert (row.erp_price, row.tier_min, row.end, row.segment) == (None, Decimal(0), None, "")
