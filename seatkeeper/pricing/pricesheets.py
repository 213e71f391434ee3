"""Vendor prices from Microsoft's New Commerce license-based price sheet.

Real Partner Center catalogs carry no prices; Microsoft publishes them in a price sheet instead
(`GET https://api.partner.microsoft.com/v1.0/sales/pricesheets(Market='FR',
PricesheetView='updatedlicensebased')/$value`, App+User token only). Facts relied on, from
Microsoft's "Get a price sheet" reference:

- the answer is a file stream: a CSV, or the same CSV zipped when the caller asks for a
  compressed answer; `timeline=history&month=YYYYMM` gives a past month's sheet, the default
  (`current`) the month so far;
- one line per product, SKU, availability, term, billing plan, market and price tier, with the
  columns ProductTitle, ProductId, SkuId, AvailabilityId, SkuTitle, Publisher, SkuDescription,
  UnitOfMeasure, TermDuration (P1M, P1Y, P3Y), BillingPlan (Monthly, Annual, Triennial,
  OneTime), Market (two letters), Currency, UnitPrice (the partner's price per unit per billing
  period), PricingTierRangeMin/Max (quantity tiers; most products have one open tier),
  EffectiveStartDate, EffectiveEndDate (blank while the price holds), Tags, ERP Price (the
  estimated retail price) and Segment (Commercial, Education, Government, Nonprofit);
- license-based prices are in the market's local currency.

The files are tens of megabytes: they are read as a stream, one line at a time, and only the
lines that match an offer of the catalog are kept. Headers are matched without regard to case
or spaces, and a UTF-8 byte-order mark (Excel adds one) is tolerated.

Import rules (`price_sheet_import`):
- a line is matched to an offer by product id, SKU id and market (and segment when both say
  one), then to one of the offer's terms by term duration and billing plan;
- a line's price applies from its EffectiveStartDate; a VendorPrice row is written only when
  the price in force on that day is not already the same, so importing a sheet twice, or
  overlapping months, changes nothing the second time. The end date is not stored: the next
  price (a later start) replaces a price, as everywhere in the pricing engine;
- the pricing engine prices days before the first known price at that first price
  (`engine._Dated.at_or_first`), so a subscription that started before the first import still
  prices;
- of quantity tiers, the lowest tier (the price of the first units) is the offer's price: the
  engine prices one unit price per offer, term and cycle; higher tiers are counted as set aside;
- every offer for sale in the sheet's markets whose terms found no line is reported, per offer.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import re
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.db import transaction
from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import User
from seatkeeper.activity.services import activity_record
from seatkeeper.catalog import permissions
from seatkeeper.catalog.models import (
    BillingCycle,
    Offer,
    OfferStatus,
    OfferTerm,
    Term,
    Vendor,
    VendorKind,
)
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.validation import MAX_DATE, amount_problem, read_stored_amount
from seatkeeper.pricing.models import (
    PriceSheetImport,
    PriceSheetOrigin,
    PriceSheetStatus,
    PriceSource,
    VendorPrice,
)
from seatkeeper.providers.errors import ProviderError

logger = logging.getLogger(__name__)

# BillingPlan values (compared without case or spaces) -> our billing cycles.
PLANS = {
    "monthly": BillingCycle.MONTHLY,
    "annual": BillingCycle.ANNUAL,
    "triennial": BillingCycle.TRIENNIAL,
    "onetime": BillingCycle.PREPAID,
}
REQUIRED = (
    "productid",
    "skuid",
    "termduration",
    "billingplan",
    "market",
    "currency",
    "unitprice",
    "effectivestartdate",
)
OPTIONAL = ("erpprice", "pricingtierrangemin", "effectiveenddate", "segment")
TERMS = frozenset(Term.values)
ZERO = Decimal(0)
MAX_PROBLEMS = 50
BATCH = 1000
ZIP_MAGIC = b"PK\x03\x04"


def _key(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").casefold())


@dataclass(frozen=True, slots=True)
class SheetRow:
    line: int
    product_id: str = ""
    sku_id: str = ""
    term: str = ""  # as in the sheet, upper case (P1Y)
    billing_plan: str = ""  # our billing cycle, or "" for a plan we do not sell
    market: str = ""
    segment: str = ""
    currency: str = ""
    unit_price: Decimal = Decimal(0)
    erp_price: Decimal | None = None
    tier_min: Decimal = Decimal(0)
    start: dt.date | None = None
    end: dt.date | None = None
    problem: str = ""


@contextlib.contextmanager
def open_sheet(source: IO[bytes]) -> Iterator[IO[str]]:
    """The sheet's text, zipped or not; `source` is a seekable binary file."""
    head = source.read(4)
    source.seek(0)
    if head == ZIP_MAGIC:
        try:
            archive = zipfile.ZipFile(source)
        except zipfile.BadZipFile:
            raise ServiceError(_("The file is not a readable zip archive."), field="file") from None
        with archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            csvs = [n for n in names if n.lower().endswith(".csv")] or names
            if not csvs:
                raise ServiceError(_("The zip archive holds no price sheet."), field="file")
            with archive.open(csvs[0]) as member:
                yield io.TextIOWrapper(member, encoding="utf-8-sig", newline="")
        return
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        yield text
    finally:
        text.detach()  # the caller's file stays open


def _date(text: str) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) >= 10 and text[4] == "-":
            day = dt.date.fromisoformat(text[:10])
        else:  # 11/1/2026 12:00:00 AM: the US form Excel writes back
            day = dt.datetime.strptime(text.split()[0], "%m/%d/%Y").date()
    except ValueError:
        raise ValueError(_("is not a date: %(text)s") % {"text": text[:40]}) from None
    if day > MAX_DATE:
        raise ValueError(_("is not a date: %(text)s") % {"text": text[:40]})
    return day


def _amount(text: str, *, required: bool) -> Decimal | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise ValueError(_("is missing"))
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("is not a number: %(text)s") % {"text": text[:40]}) from None
    problem = amount_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def read_rows(text: IO[str]) -> Iterator[SheetRow]:
    """The sheet's lines one by one; a line that cannot be read comes back with `problem`."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ServiceError(_("The price sheet is empty."), field="file") from None
    except (csv.Error, UnicodeDecodeError):
        raise ServiceError(_("The file is not a UTF-8 CSV price sheet."), field="file") from None
    columns = {_key(name): index for index, name in enumerate(header)}
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ServiceError(
            _("This is not a license-based price sheet: it has no column %(columns)s.")
            % {"columns": ", ".join(missing)},
            field="file",
        )
    width = len(header)
    # Each column's place; an absent optional column reads the empty cell appended to every line.
    at = {name: columns.get(name, -1) for name in (*REQUIRED, *OPTIONAL)}
    product_at, sku_at, term_at, plan_at = (
        at["productid"], at["skuid"], at["termduration"], at["billingplan"]
    )  # fmt: skip
    market_at, segment_at, currency_at, price_at = (
        at["market"], at["segment"], at["currency"], at["unitprice"]
    )  # fmt: skip
    erp_at, tier_at, start_at, end_at = (
        at["erpprice"], at["pricingtierrangemin"], at["effectivestartdate"], at["effectiveenddate"]
    )  # fmt: skip
    plans: dict[str, str] = {}  # BillingPlan as written -> our cycle ("" for one we do not sell)

    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as error:
            line += 1
            yield SheetRow(line=line, problem=str(error)[:200])
            continue
        line = reader.line_num
        cells = [value.strip() for value in values]
        if not any(cells):
            continue
        if len(cells) < width - 1:
            yield SheetRow(line=line, problem=_("has too few columns"))
            continue
        cells.extend([""] * (width - len(cells)))  # a line short of its last cell
        cells.append("")  # what an absent optional column (index -1) reads
        column = ""
        try:
            column = "UnitPrice"
            unit_price = _amount(cells[price_at], required=True)
            column = "ERP Price"
            erp_price = _amount(cells[erp_at], required=False)
            column = "PricingTierRangeMin"
            tier_min = _amount(cells[tier_at], required=False) or ZERO
            column = "EffectiveStartDate"
            start = _date(cells[start_at])
            if start is None:
                raise ValueError(_("is missing"))
            column = "EffectiveEndDate"
            end = _date(cells[end_at])
        except ValueError as problem:
            yield SheetRow(line=line, problem=f"{column} {problem}")
            continue
        currency = cells[currency_at].upper()
        if len(currency) != 3 or not currency.isalpha():
            yield SheetRow(line=line, problem=_("Currency must be a three-letter code."))
            continue
        plan = cells[plan_at]
        cycle = plans.get(plan)
        if cycle is None:
            cycle = plans[plan] = PLANS.get(_key(plan), "")
        yield SheetRow(
            line=line,
            product_id=cells[product_at].upper(),
            sku_id=cells[sku_at],
            term=cells[term_at].upper(),
            billing_plan=cycle,
            market=cells[market_at].upper()[:2],
            segment=cells[segment_at].casefold(),
            currency=currency,
            unit_price=unit_price,
            erp_price=erp_price,
            tier_min=tier_min,
            start=start,
            end=end,
        )


# --- the import ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    tier_min: Decimal
    currency: str
    cost: Decimal
    list_price: Decimal | None


def _require_rights(actor: User | None, vendor: Vendor) -> None:
    if actor is not None and not permissions.can_manage_prices(actor, vendor.organisation):
        raise PermissionRefused(_("Only the partner's cloud admins import vendor prices."))


def price_sheet_import(
    *,
    actor: User | None,
    vendor: Vendor,
    source: IO[bytes],
    origin: str = PriceSheetOrigin.UPLOAD,
    file_name: str = "",
    market: str = "",
    month: str = "",
) -> PriceSheetImport:
    """Import a license-based price sheet (CSV or zipped CSV, a seekable binary file) into
    `vendor`'s prices. `market` names the market asked for (a download): its offers are
    reported as without price even when the sheet is empty.

    The import row is committed first so a failure is recorded; the prices are written in one
    transaction, so a failed import adds none."""
    _require_rights(actor, vendor)
    if vendor.kind != VendorKind.API:
        raise ServiceError(_("A price sheet prices the offers of a connected vendor."))
    run = PriceSheetImport.objects.create(
        vendor=vendor,
        origin=origin,
        started_by=actor.get_username() if actor else "system",
        file_name=file_name[:255],
        markets=market.upper(),
        month=month,
    )
    try:
        with transaction.atomic():
            # One import of a vendor's prices at a time (the task and an upload may meet):
            # each then sees what the other added, and adds nothing twice.
            Vendor.objects.select_for_update().filter(pk=vendor.pk).first()
            _import(run, vendor, source, market.upper())
            run.status = PriceSheetStatus.COMPLETED
            run.finished_at = clock.now()
            run.save()
            activity_record(
                actor=actor,
                organisation=vendor.organisation,
                obj=vendor,
                operation="pricesheet.import",
                details=import_counts(run),
            )
    except Exception as error:  # recorded on the run, then raised for the caller or the task
        message = error.message if isinstance(error, ServiceError) else str(error)
        PriceSheetImport.objects.filter(pk=run.pk).update(
            status=PriceSheetStatus.FAILED, finished_at=clock.now(), error=message[:2000]
        )
        run.refresh_from_db()
        raise
    return run


def import_counts(run: PriceSheetImport) -> dict:
    return {
        "import": run.pk,
        "markets": run.markets,
        "month": run.month,
        "rows": run.rows_read,
        "added": run.prices_added,
        "unchanged": run.prices_unchanged,
        "unmatched": run.rows_unmatched,
        "rejected": run.rows_rejected,
        "no_price": run.offers_without_price,
    }


def _import(run: PriceSheetImport, vendor: Vendor, source: IO[bytes], market: str) -> None:
    # The catalog, indexed by what a sheet line names.
    offers: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for offer_id, product_id, sku_id, country, segment in Offer.objects.filter(
        vendor=vendor
    ).values_list("id", "product_id", "sku_id", "country", "segment"):
        offers[(product_id.upper(), sku_id, country.upper())].append((offer_id, segment.casefold()))
    terms = set(
        OfferTerm.objects.filter(offer__vendor=vendor).values_list(
            "offer_id", "term", "billing_cycle"
        )
    )
    candidates: dict[tuple[int, str, str, dt.date], _Candidate] = {}
    markets: set[str] = {market} if market else set()
    with open_sheet(source) as text:
        for row in read_rows(text):
            run.rows_read += 1
            if row.problem:
                run.rows_rejected += 1
                if len(run.problems) < MAX_PROBLEMS:
                    run.problems.append({"line": row.line, "problem": row.problem})
                continue
            markets.add(row.market)
            matched = False
            if row.term in TERMS and row.billing_plan:
                for offer_id, segment in offers.get((row.product_id, row.sku_id, row.market), ()):
                    if segment and row.segment and segment != row.segment:
                        continue
                    if (offer_id, row.term, row.billing_plan) not in terms:
                        continue
                    matched = True
                    key = (offer_id, row.term, row.billing_plan, row.start)
                    known = candidates.get(key)
                    if known is not None:
                        # Another tier of the same price: the lowest tier is the offer's price.
                        run.tier_rows += 1
                        if row.tier_min >= known.tier_min:
                            continue
                    candidates[key] = _Candidate(
                        row.tier_min, row.currency, row.unit_price, row.erp_price
                    )
            if matched:
                run.rows_matched += 1
            else:
                run.rows_unmatched += 1
    run.markets = ",".join(sorted(markets))[:200]
    _write_prices(run, vendor, markets, candidates)
    _report_unpriced(run, vendor, markets, {key[:3] for key in candidates})


def _write_prices(run: PriceSheetImport, vendor: Vendor, markets: set[str], candidates) -> None:
    if not candidates:
        return
    # What is already known, per offer, term and cycle: (day, order, currency, cost, list price).
    # Read by vendor and market, not by a list of offer ids that could pass SQLite's bound.
    known: dict[tuple, list[tuple]] = defaultdict(list)
    rows = (
        VendorPrice.objects.filter(offer__vendor=vendor, offer__country__in=sorted(markets))
        .annotate(cost_text=Cast("cost", CharField()), list_text=Cast("list_price", CharField()))
        .order_by("effective_from", "id")
        .values_list(
            "offer_id", "term", "billing_cycle", "effective_from", "id", "currency",
            "cost_text", "list_text",
        )
    )  # fmt: skip
    for offer_id, term, cycle, day, pk, currency, cost, list_price in rows:
        known[(offer_id, term, cycle)].append(
            (day, pk, currency, read_stored_amount(cost)[0], read_stored_amount(list_price)[0])
        )
    new_rows: list[VendorPrice] = []
    added = 0
    order = 2**62  # rows of this import come after every stored row of the same day
    for (offer_id, term, cycle, day), price in sorted(candidates.items(), key=lambda i: i[0][3]):
        versions = known[(offer_id, term, cycle)]
        in_force = None
        for version in versions:  # sorted by (day, order): the last one not after `day`
            if version[0] > day:
                break
            in_force = version
        same = in_force is not None and (in_force[2], in_force[3], in_force[4]) == (
            price.currency,
            price.cost,
            price.list_price,
        )
        if same:
            run.prices_unchanged += 1
            continue
        order += 1
        versions.append((day, order, price.currency, price.cost, price.list_price))
        versions.sort(key=lambda version: (version[0], version[1]))
        new_rows.append(
            VendorPrice(
                offer_id=offer_id,
                term=term,
                billing_cycle=cycle,
                currency=price.currency,
                cost=price.cost,
                list_price=price.list_price,
                effective_from=day,
                source=PriceSource.PRICE_SHEET,
            )
        )
        if len(new_rows) >= BATCH:  # written as they come: memory stays flat
            VendorPrice.objects.bulk_create(new_rows)
            added += len(new_rows)
            new_rows = []
    VendorPrice.objects.bulk_create(new_rows)
    run.prices_added = added + len(new_rows)
    run.offers_priced = len({key[0] for key in candidates})


def _report_unpriced(run: PriceSheetImport, vendor: Vendor, markets: set[str], priced) -> None:
    """Every offer for sale in the sheet's markets with a term the sheet gave no price for."""
    if not markets:
        return
    missing: dict[int, list[list[str]]] = defaultdict(list)
    for offer_id, term, cycle in (
        OfferTerm.objects.filter(
            offer__vendor=vendor,
            offer__status=OfferStatus.ACTIVE,
            offer__country__in=markets,
            is_available=True,
        )
        .order_by("offer_id", "term", "billing_cycle")
        .values_list("offer_id", "term", "billing_cycle")
    ):
        if (offer_id, term, cycle) not in priced:
            missing[offer_id].append([term, cycle])
    titles, countries = {}, {}
    for pk, title, country in Offer.objects.filter(
        vendor=vendor, country__in=sorted(markets)
    ).values_list("id", "title", "country"):
        if pk in missing:
            titles[pk], countries[pk] = title, country
    run.unpriced = [
        {"offer": pk, "title": titles[pk], "country": countries[pk], "terms": missing[pk]}
        for pk in sorted(missing, key=lambda pk: (titles[pk], countries[pk], pk))
    ]
    run.offers_without_price = len(missing)


# --- from the vendor -----------------------------------------------------------------------------


def price_sheet_markets(vendor: Vendor) -> list[str]:
    """The markets whose sheets price `vendor`'s catalog: every country the partner's customers
    are in, and the catalog's own country."""
    from seatkeeper.accounts.models import Organisation, OrganisationKind

    partner = vendor.organisation
    countries = set(
        Organisation.objects.filter(path__startswith=partner.path, kind=OrganisationKind.CUSTOMER)
        .exclude(country="")
        .values_list("country", flat=True)
        .distinct()
    )
    countries.add(vendor.country or partner.country)
    return sorted(country.upper() for country in countries if country)


def price_sheet_download(
    *,
    actor: User | None,
    vendor: Vendor,
    market: str,
    month: str = "",
    provider: Any = None,
) -> PriceSheetImport:
    """Download `market`'s license-based price sheet from `vendor`'s provider account (to a
    temporary file, streamed: never whole in memory) and import it. `provider` lets tests pass a
    connector. A download that fails is recorded as a failed import, then raised."""
    _require_rights(actor, vendor)
    if vendor.kind != VendorKind.API or vendor.provider_account_id is None:
        raise ServiceError(_("A price sheet prices the offers of a connected vendor."))
    market = market.upper()
    if not re.fullmatch(r"[A-Z]{2}", market):
        raise ServiceError(_("A market is a two-letter country code."), field="market")
    if month and not re.fullmatch(r"\d{4}(0[1-9]|1[0-2])", month):
        raise ServiceError(_("A month is written YYYYMM."), field="month")
    with tempfile.TemporaryFile(prefix="pricesheet-") as download:
        try:
            connector = provider
            if connector is None:
                from seatkeeper.providers.registry import get_provider

                connector = get_provider(vendor.provider_account)
            try:
                connector.download_price_sheet(market=market, month=month, into=download)
            finally:
                if provider is None and hasattr(connector, "close"):
                    connector.close()
        except ProviderError as error:
            PriceSheetImport.objects.create(
                vendor=vendor,
                origin=PriceSheetOrigin.VENDOR,
                started_by=actor.get_username() if actor else "system",
                markets=market,
                month=month,
                status=PriceSheetStatus.FAILED,
                finished_at=clock.now(),
                error=str(error)[:2000],
            )
            raise
        download.seek(0)
        return price_sheet_import(
            actor=actor,
            vendor=vendor,
            source=download,
            origin=PriceSheetOrigin.VENDOR,
            market=market,
            month=month,
            file_name=f"pricesheet_{market}_updatedlicensebased{'_' + month if month else ''}",
        )
