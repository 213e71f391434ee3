"""Benchmark: importing a license-based price sheet of 100,000 lines.

Builds, in a fresh database, one partner with a connected vendor whose French catalog holds
`--offers` offers (6 terms each, as the sandbox's three-year products), then writes a zipped
price sheet of `--rows` lines in Microsoft's columns: one line per offer and term (the prices),
a second quantity tier for a tenth of them, and the rest for products the catalog does not
hold, as a real sheet holds far more products than a partner sells. It imports the sheet
(every price is new), then imports it again (nothing may be added), and reports the lines read
per second and the process's resident memory during each import: the reader streams the
file, so memory must not grow with the file.

    .venv/bin/python bench/pricesheet.py [--quick] [--rows 100000] [--offers 10000]
                                         [--database-url postgres://postgres@127.0.0.1:5432/bench]

(a PostgreSQL database must be new: the benchmark creates its partner from scratch.)

The last line holds the headline figures as key=value pairs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from decimal import Decimal
from pathlib import Path

from memory import PeakSampler, rss_mb  # bench/memory.py, beside this script

COLUMNS = [
    "ProductTitle", "ProductId", "SkuId", "AvailabilityId", "SkuTitle", "Publisher",
    "SkuDescription", "UnitOfMeasure", "TermDuration", "BillingPlan", "Market", "Currency",
    "UnitPrice", "PricingTierRangeMin", "PricingTierRangeMax", "EffectiveStartDate",
    "EffectiveEndDate", "Tags", "ERP Price", "Segment",
]  # fmt: skip
COMBOS = [
    ("P1M", "monthly", "Monthly"),
    ("P1Y", "monthly", "Monthly"),
    ("P1Y", "annual", "Annual"),
    ("P3Y", "monthly", "Monthly"),
    ("P3Y", "annual", "Annual"),
    ("P3Y", "triennial", "Triennial"),
]


def product_id(index: int) -> str:
    return f"CFQ7TTC{index:05d}"


def write_sheet(path: Path, *, rows: int, offers: int) -> int:
    """A zipped sheet of `rows` lines; answers how many lines price an offer of the catalog."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    written = matched = 0
    start = "2026-11-01T00:00:00Z"

    def row(product: str, term: str, plan: str, price: Decimal, tier: tuple[str, str]) -> None:
        nonlocal written
        writer.writerow([
            f"Product {product}", product, "0001", "CFQ7TTC0K5DP", f"Product {product}",
            "Microsoft Corporation", "", "1 License", term, plan, "FR", "EUR", str(price),
            tier[0], tier[1], start, "", "License", str((price / Decimal("0.9")).quantize(
                Decimal("0.01"))), "Commercial",
        ])  # fmt: skip
        written += 1

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("pricesheet_FR_updatedlicensebased.csv", "w") as member:
            member.write("\ufeff".encode())

            def flush() -> None:
                member.write(text.getvalue().encode())
                text.seek(0)
                text.truncate()

            writer.writerow(COLUMNS)
            for index in range(offers):
                for term, _cycle, plan in COMBOS:
                    if written >= rows:
                        break
                    price = Decimal(4 + index % 40) + Decimal("0.50")
                    row(product_id(index), term, plan, price, ("0", "" if index % 10 else "300"))
                    matched += 1
                    if index % 10 == 0 and written < rows:
                        row(product_id(index), term, plan, price - 1, ("301", ""))
                if index % 500 == 0:
                    flush()
            other = offers
            while written < rows:
                for term, _cycle, plan in COMBOS:
                    if written < rows:
                        row(product_id(other), term, plan, Decimal("9.90"), ("0", ""))
                other += 1
                if other % 500 == 0:
                    flush()
            flush()
    return matched


def build(offers: int):
    from django.db import transaction

    from seatkeeper.accounts.models import OrganisationKind
    from seatkeeper.accounts.services import organisation_create
    from seatkeeper.catalog.models import Offer, OfferKind, OfferTerm, Vendor, VendorKind

    with transaction.atomic():
        partner = organisation_create(
            actor=None, parent=None, kind=OrganisationKind.PARTNER, name="Bench Partner",
            legal_name="Bench Partner", address_line1="1 rue", city="Paris",
            postal_code="75001", country="FR", contact_name="A",
            contact_email="a@example.com", default_currency="EUR",
        )  # fmt: skip
        vendor = Vendor.objects.create(
            organisation=partner, name="Microsoft", kind=VendorKind.API, country="FR"
        )
        made = Offer.objects.bulk_create(
            [
                Offer(vendor=vendor, external_id=f"{product_id(i)}:0001",
                      product_id=product_id(i), sku_id="0001", title=f"Product {i}",
                      kind=OfferKind.SERVICE, item_code=product_id(i), currency="EUR",
                      country="FR", segment="commercial")
                for i in range(offers)
            ],
            batch_size=2000,
        )  # fmt: skip
        OfferTerm.objects.bulk_create(
            [
                OfferTerm(offer=offer, term=term, billing_cycle=cycle)
                for offer in made
                for term, cycle, _plan in COMBOS
            ],
            batch_size=5000,
        )
    return vendor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--offers", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="10,000 lines, 1,000 offers")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()
    if args.rows is None:
        args.rows = 10_000 if args.quick else 100_000
    if args.offers is None:
        args.offers = 1_000 if args.quick else 10_000

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from seatkeeper.core import clock
    from seatkeeper.pricing.models import VendorPrice
    from seatkeeper.pricing.pricesheets import price_sheet_import

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor} ({os.environ['DATABASE_URL'].split('://')[0]})")
    sheet = workdir / "pricesheet.zip"
    started = time.perf_counter()
    with clock.frozen(dt.datetime(2026, 11, 20, tzinfo=dt.UTC)):
        vendor = build(args.offers)
        matched = write_sheet(sheet, rows=args.rows, offers=args.offers)
    print(
        f"setup: {args.offers:,} offers, a sheet of {args.rows:,} lines "
        f"({sheet.stat().st_size / 1e6:.1f} MB zipped) in {time.perf_counter() - started:.1f} s"
    )

    def run():
        rss_before = rss_mb()
        with PeakSampler(interval=0.02) as sampler, sheet.open("rb") as source:
            began, cpu = time.perf_counter(), time.process_time()
            with clock.frozen(dt.datetime(2026, 11, 22, tzinfo=dt.UTC)):
                result = price_sheet_import(actor=None, vendor=vendor, source=source)
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        return result, seconds, cpu, rss_before, sampler.peak

    first, seconds, cpu, rss_before, peak = run()
    assert first.rows_read == args.rows, first.rows_read
    print(
        f"first import: {first.rows_read:,} lines in {seconds:.1f} s = "
        f"{first.rows_read / seconds:,.0f} lines/s (cpu {cpu:.1f} s); {first.prices_added:,} "
        f"prices added, {first.tier_rows:,} tier lines set aside, {first.rows_unmatched:,} "
        f"for other products; RSS {rss_before:.0f} MB before, peak {peak:.0f} MB"
    )
    again, again_seconds, _cpu, again_before, again_peak = run()
    print(
        f"second import: {again.prices_added} added, {again.prices_unchanged:,} unchanged in "
        f"{again_seconds:.1f} s; RSS {again_before:.0f} MB before, peak {again_peak:.0f} MB"
    )
    assert again.prices_added == 0
    assert VendorPrice.objects.count() == first.prices_added == matched
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"rows={args.rows} offers={args.offers} seconds={seconds:.1f} cpu_seconds={cpu:.1f} "
        f"rows_per_s={args.rows / seconds:.0f} prices_added={first.prices_added} "
        f"repeat_seconds={again_seconds:.1f} repeat_added={again.prices_added} "
        f"rss_before_mb={rss_before:.0f} peak_rss_mb={max(peak, again_peak):.0f} "
        f"process_peak_rss_mb={process_peak:.0f}"
    )
    shutil.rmtree(workdir, ignore_errors=True)  # the sheet and the SQLite file


if __name__ == "__main__":
    main()
