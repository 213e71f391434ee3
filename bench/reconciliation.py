"""Benchmark: reconciling a period of vendor line items against our partner-cost charge lines.

Builds, in a fresh database, one partner with a Microsoft provider account, `--subscriptions`
subscriptions (each with a tenant-linked vendor id and one cycle-fee charge line for November
2026), and one vendor invoice for November with `--lines` current line items spread over those
subscriptions (plus an older import generation of the same size, which must not be read). Some
subscriptions differ on purpose: 2% a moved price, 1% a quantity, 1% only at the vendor, 1%
only here. Then it times `reconciliation.reconcile_period` (the median of `--runs`), and reports
the queries (which must not grow with the lines: the vendor's side is summed by the database),
this process's CPU seconds and resident memory peak while reconciling, and, in one more run
under tracemalloc (which slows a run several times, so it is not timed), the Python heap's peak.

    .venv/bin/python bench/reconciliation.py [--quick] [--runs 3] [--lines 1000000]
                    [--subscriptions 100000] [--database-url postgres://...]

With `--sandbox` (the issue's figure) the vendor's side is not written here: the Partner Center
sandbox runs in its own process (as in bench/invoices.py), issues one invoice of `--lines` lines
over `--subscriptions` subscriptions (10 per customer tenant), and the lines are imported the way
production reads them, from its Graph v2 billed reconciliation export (gzipped JSON-lines blobs,
streamed). Our side is then built from what was imported: a tenant per customer, a subscription
per vendor subscription id and one cycle-fee charge line with the vendor's seats and amount,
and the same share of differences on purpose. The import is timed and reported apart; the
reconciliation is the headline (PostgreSQL only: the import uses COPY).

    .venv/bin/python bench/reconciliation.py --sandbox [--quick] [--runs 3]
                    [--database-url postgres://postgres@127.0.0.1:5432/sk_recon_bench]

The last line holds the headline figures as key=value pairs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

NOV_1, NOV_30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=None)
    parser.add_argument("--subscriptions", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="100,000 lines, 10,000 subscriptions")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="read the vendor's lines from the sandbox's Graph v2 export blobs (PostgreSQL)",
    )
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the last run here")
    args = parser.parse_args()
    args.lines = args.lines or (100_000 if args.quick else 1_000_000)
    args.subscriptions = args.subscriptions or (10_000 if args.quick else 100_000)
    if args.sandbox:
        sandbox_main(args)
        return

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

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor}")
    started = time.perf_counter()
    with clock.frozen(dt.datetime(2026, 12, 8, tzinfo=dt.UTC)):
        account = build(args)
    print(f"setup: {time.perf_counter() - started:.1f} s")
    measure(args, account, NOV_1, NOV_30, dt.datetime(2026, 12, 9, tzinfo=dt.UTC))


def measure(args, account, start: dt.date, end: dt.date, when: dt.datetime, extra: str = ""):
    """Time `reconcile_period` `--runs` times and print the figures."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from seatkeeper.billing import reconciliation
    from seatkeeper.core import clock

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    from memory import PeakSampler  # bench/memory.py, beside this script

    def compare(traced: bool, profile: str | None = None):
        """One comparison: (result, seconds, CPU seconds, RSS peak MB, heap peak MB or None,
        queries). tracemalloc slows the run several times and grows the process by its own
        bookkeeping, so the timed runs go without it and one more run measures the heap."""
        if traced:
            tracemalloc.start()
        with (
            clock.frozen(when),
            CaptureQueriesContext(connection) as captured,
            PeakSampler() as sampler,
        ):
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            began, began_cpu = time.perf_counter(), time.process_time()
            result = reconciliation.reconcile_period(
                account=account, period_start=start, period_end=end
            )
            seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
        heap = None
        if traced:
            heap = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        return result, seconds, cpu, sampler.peak, heap, len(captured)

    timings, cpus, rss_peaks, queries = [], [], [], 0
    for attempt in range(args.runs):
        profile = args.profile if attempt == args.runs - 1 else None
        result, seconds, cpu, rss, _heap, queries = compare(False, profile)
        timings.append(seconds)
        cpus.append(cpu)
        rss_peaks.append(rss)
        print(
            f"run {attempt + 1}: {seconds:.1f} s ({cpu:.1f} s of CPU in this process, load "
            f"average {os.getloadavg()[0]:.1f}), process RSS peak {rss:.0f} MB"
        )
    _result, _seconds, _cpu, _rss, heap, _queries = compare(True)
    print(f"one more run under tracemalloc: Python heap peak {heap:.1f} MB")
    counts = reconciliation.outcome_counts(result)
    print(f"outcomes: {counts}")
    print(f"seats: {reconciliation.seat_totals(result)} over {result.seats_compared} compared")
    seconds = sorted(timings)[len(timings) // 2]
    print(
        f"vendor_lines={result.vendor_lines} charge_lines={result.charge_lines} "
        f"rows={sum(counts.values())} seat_rows={result.seat_rows.count()} "
        f"seconds={seconds:.2f} cpu_seconds={sorted(cpus)[len(cpus) // 2]:.2f} "
        f"lines_per_s={result.vendor_lines / seconds:.0f} "
        f"queries={queries} peak_rss_mb={max(rss_peaks):.0f} peak_python_mb={heap:.1f} "
        f"runs={args.runs}{extra}"
    )


def sandbox_main(args) -> None:
    """The vendor's side from the sandbox's v2 export blobs (see the module's docstring)."""
    from sandbox_process import recreate_postgres, start_sandbox, stop  # bench/, beside this

    url = args.database_url or "postgres://postgres@127.0.0.1:5432/sk_recon_bench"
    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-recon-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    recreate_postgres(url)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sandbox, info = start_sandbox(workdir, "--seed", "none", "--faults", "export_blob_lines=200000")
    try:
        sandbox_run(args, info)
    finally:
        stop([sandbox])
        shutil.rmtree(workdir, ignore_errors=True)  # the sandbox's files: 4 GB at full size


def sandbox_run(args, info: dict) -> None:
    import logging

    import django

    django.setup()
    from django.core.management import call_command

    logging.getLogger("seatkeeper").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0, interactive=False)
    from invoices import synthesize_invoice  # bench/invoices.py, beside this

    from seatkeeper.billing import invoices
    from seatkeeper.billing.models import LinesState, ProviderInvoice
    from seatkeeper.core import clock
    from seatkeeper.providers.registry import get_provider

    customers = max(1, args.subscriptions // 10)
    made, account, now = synthesize_invoice(info, lines=args.lines, customers=customers)
    with get_provider(account) as provider:
        invoices.invoices_import(account=account, provider=provider, documents=False)
        invoice = ProviderInvoice.objects.get(vendor_invoice_id=made["invoiceId"])
        started = time.perf_counter()
        progress = invoices.invoice_lines_step(invoice=invoice, provider=provider)
        while progress.state != LinesState.IMPORTED:
            if progress.state == LinesState.FAILED:
                raise RuntimeError(f"the import failed: {progress.message}")
            invoice.refresh_from_db()
            time.sleep(1)
            progress = invoices.invoice_lines_step(invoice=invoice, provider=provider)
        imported = time.perf_counter() - started
    invoice.refresh_from_db()
    print(
        f"import (export prepared, then {invoice.lines_count:,} lines streamed from "
        f"the v2 blobs): {imported:.1f} s"
    )
    started = time.perf_counter()
    with clock.frozen(now):
        build_from_invoice(account, invoice)
    print(f"our side built from the imported lines: {time.perf_counter() - started:.1f} s")
    measure(
        args,
        account,
        invoice.period_start,
        invoice.period_end,
        now,
        extra=f" source=sandbox_v2_blobs import_s={imported:.1f}",
    )


def build_from_invoice(account, invoice) -> None:
    """Tenants, subscriptions and one cycle-fee charge line each, from the imported lines, with
    differences on purpose: 2% a moved price, 1% a quantity, 1% only at the vendor; and 1% of
    our subscriptions the vendor does not know (only here)."""
    from django.db import transaction
    from django.db.models import CharField, Max, Sum, Value
    from django.db.models.functions import Cast, Concat

    from seatkeeper.accounts.models import Organisation, OrganisationKind
    from seatkeeper.billing.invoice_selectors import current_lines
    from seatkeeper.billing.models import BillingCycle, BillingRun, ChargeKind, ChargeLine, RunState
    from seatkeeper.catalog.models import Offer, OfferKind, Vendor, VendorKind
    from seatkeeper.subscriptions.models import Status, Subscription, SyncStatus, Tenant

    partner = account.organisation
    start, end = invoice.period_start, invoice.period_end
    sums = list(
        current_lines(invoice)
        .values("customer_tenant_id", "subscription_id", "product_id", "sku_id")
        .annotate(
            quantity=Sum("quantity"), amount=Sum("subtotal"), unit=Max("effective_unit_price")
        )
        .order_by("customer_tenant_id", "subscription_id")
    )
    tenants = sorted({row["customer_tenant_id"] for row in sums})
    products = sorted({f"{row['product_id']}:{row['sku_id']}" for row in sums})
    with transaction.atomic():
        Organisation.objects.bulk_create(
            [
                Organisation(
                    kind=OrganisationKind.CUSTOMER, parent=partner, path="", name=f"C{i}",
                    legal_name=f"C{i}", address_line1="1 rue", city="Paris",
                    postal_code="75001", country="FR", contact_name="A",
                    contact_email="a@example.com", default_currency="EUR",
                )
                for i in range(len(tenants))
            ],
            batch_size=2000,
        )  # fmt: skip
        Organisation.objects.filter(parent=partner).update(
            path=Concat(Value(partner.path), Cast("id", CharField()), Value("/"))
        )
        orgs = list(Organisation.objects.filter(parent=partner).order_by("pk"))
        Tenant.objects.bulk_create(
            [
                Tenant(customer=org, account=account, vendor_customer_id=tenant, domain=f"{i}.x")
                for i, (org, tenant) in enumerate(zip(orgs, tenants, strict=True))
            ],
            batch_size=2000,
        )
        tenant_of = {t.vendor_customer_id: t for t in Tenant.objects.filter(account=account)}
        vendor = Vendor.objects.create(organisation=partner, name="Microsoft", kind=VendorKind.API)
        offers = {
            key: Offer.objects.create(
                vendor=vendor, external_id=key, title=key, kind=OfferKind.SERVICE,
                category="Productivity", item_code=key[:20], currency="EUR",
            )
            for key in products
        }  # fmt: skip
        cycle = BillingCycle.objects.create(account=partner, start_date=start, end_date=end)
        run = BillingRun.objects.create(cycle=cycle, state=RunState.DONE, requested_by_name="b")
    period_days = (end - start).days + 1
    for first in range(0, len(sums), 5000):
        chunk = sums[first : first + 5000]
        with transaction.atomic():
            subs = []
            for i, row in enumerate(chunk, start=first):
                tenant = tenant_of[row["customer_tenant_id"]]
                subs.append(
                    Subscription(
                        customer_id=tenant.customer_id, tenant=tenant,
                        offer=offers[f"{row['product_id']}:{row['sku_id']}"],
                        friendly_name=f"S{i}", quantity=int(row["quantity"]), term="P1Y",
                        billing_cycle="monthly", status=Status.ACTIVE, start_date=start,
                        term_start=start, sync_status=SyncStatus.SYNCHRONIZED,
                        vendor_subscription_id=(
                            f"ours-only-{i}" if i % 100 == 3 else row["subscription_id"]
                        ),
                    )
                )  # fmt: skip
            subs = Subscription.objects.bulk_create(subs, batch_size=2000)
            lines = []
            for i, (row, sub) in enumerate(zip(chunk, subs, strict=True), start=first):
                if i % 100 == 1:
                    continue  # only at the vendor
                quantity = int(row["quantity"]) + (1 if i % 100 == 2 else 0)
                unit = row["unit"] + (Decimal("0.30") if i % 50 == 4 else 0)
                amount = row["amount"] if i % 50 != 4 else row["amount"] + quantity * Decimal("0.3")
                lines.append(
                    ChargeLine(
                        cycle=cycle, run=run, subscription=sub, customer_id=sub.customer_id,
                        offer=sub.offer, kind=ChargeKind.CYCLE_FEE, source_key=f"fee:{start}",
                        charged_on=start,
                        occurred_at=dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC),
                        period_start=start, period_end=end + dt.timedelta(days=1),
                        days=period_days, period_days=period_days, term="P1Y",
                        billing_cycle="monthly", quantity=quantity, currency="EUR",
                        partner_cost_unit=unit, partner_cost_amount=amount,
                        customer_price_unit=unit, customer_price_amount=amount,
                    )
                )  # fmt: skip
            ChargeLine.objects.bulk_create(lines, batch_size=2000)


def build(args):
    from django.db import transaction

    from seatkeeper.accounts.models import OrganisationKind
    from seatkeeper.accounts.services import organisation_create
    from seatkeeper.billing.models import (
        BillingCycle,
        BillingRun,
        ChargeKind,
        ChargeLine,
        InvoiceLineItem,
        LinesState,
        ProviderInvoice,
        RunState,
    )
    from seatkeeper.catalog.models import Offer, OfferKind, Vendor, VendorKind
    from seatkeeper.providers.tests.factories import provider_account
    from seatkeeper.subscriptions.models import Status, Subscription, SyncStatus, Tenant

    def company(name: str) -> dict:
        return {
            "name": name, "legal_name": name, "address_line1": "1 rue", "city": "Paris",
            "postal_code": "75001", "country": "FR", "contact_name": "A",
            "contact_email": "a@example.com", "default_currency": "EUR",
        }  # fmt: skip

    with transaction.atomic():
        partner = organisation_create(
            actor=None, parent=None, kind=OrganisationKind.PARTNER, **company("Bench Partner")
        )
        customer = organisation_create(
            actor=None, parent=partner, kind=OrganisationKind.CUSTOMER, **company("Customer")
        )
        account = provider_account(organisation=partner)
        tenant = Tenant.objects.create(
            customer=customer, account=account, vendor_customer_id="t-1", domain="c.example"
        )
        vendor = Vendor.objects.create(organisation=partner, name="Microsoft", kind=VendorKind.API)
        offer = Offer.objects.create(
            vendor=vendor, external_id="P0:0001", title="Offer", kind=OfferKind.SERVICE,
            category="Productivity", item_code="P0", currency="EUR",
        )  # fmt: skip
        cycle = BillingCycle.objects.create(account=partner, start_date=NOV_1, end_date=NOV_30)
        run = BillingRun.objects.create(cycle=cycle, state=RunState.DONE, requested_by_name="b")
        invoice = ProviderInvoice.objects.create(
            partner=partner, account=account, vendor_invoice_id="G1", document_type="invoice",
            period_start=NOV_1, period_end=NOV_30, currency="EUR", total=Decimal(0),
            vendor_fingerprint="x", lines_state=LinesState.IMPORTED, lines_generation=2,
        )  # fmt: skip

    n = args.subscriptions
    for first in range(0, n, 5000):
        with transaction.atomic():
            subs = Subscription.objects.bulk_create(
                [
                    Subscription(
                        customer=customer, offer=offer, tenant=tenant, friendly_name=f"S{i}",
                        quantity=10, term="P1Y", billing_cycle="monthly", status=Status.ACTIVE,
                        start_date=dt.date(2026, 1, 1), term_start=dt.date(2026, 1, 1),
                        vendor_subscription_id=f"vs-{i}", sync_status=SyncStatus.SYNCHRONIZED,
                    )
                    for i in range(first, min(first + 5000, n))
                ]
            )  # fmt: skip
            lines = []
            for sub in subs:
                i = int(sub.vendor_subscription_id[3:])
                if i % 100 == 1:
                    continue  # only at the vendor
                quantity = 11 if i % 100 == 2 else 10
                lines.append(
                    ChargeLine(
                        cycle=cycle, run=run, subscription=sub, customer=customer, offer=offer,
                        kind=ChargeKind.CYCLE_FEE, source_key=f"fee:{NOV_1}",
                        charged_on=NOV_1, occurred_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                        period_start=NOV_1, period_end=dt.date(2026, 12, 1), days=30,
                        period_days=30, term="P1Y", billing_cycle="monthly", quantity=quantity,
                        currency="EUR", partner_cost_unit=Decimal("4.5"),
                        partner_cost_amount=Decimal("4.5") * quantity,
                        customer_price_unit=Decimal(5), customer_price_amount=5 * quantity,
                    )
                )  # fmt: skip
            ChargeLine.objects.bulk_create(lines, batch_size=2000)

    per_sub = max(1, args.lines // n)
    position = 0
    for generation in (1, 2):  # 1 is an older import: never read
        batch = []
        for i in range(n):
            if i % 100 == 3 and generation == 2:
                continue  # only here
            unit = Decimal("4.8") if i % 50 == 4 else Decimal("4.5")
            for _part in range(per_sub):
                position += 1
                # the subscription's 10 seats split over its lines (the vendor's per-line rows)
                quantity = Decimal(10) / per_sub
                batch.append(
                    InvoiceLineItem(
                        invoice=invoice, generation=generation, position=position, period=NOV_1,
                        customer_tenant_id="t-1", subscription_id=f"vs-{i}",
                        product_name="Offer", charge_type="cycleCharge",
                        charge_kind="cycleCharge", charge_start=NOV_1, charge_end=NOV_30,
                        quantity=quantity, unit_price=unit, effective_unit_price=unit,
                        subtotal=unit * quantity, tax_total=Decimal(0), total=unit * quantity,
                        currency="EUR", pc_to_bc_exchange_rate=Decimal(1),
                    )
                )  # fmt: skip
                if len(batch) >= 10_000:
                    InvoiceLineItem.objects.bulk_create(batch)
                    batch = []
        if batch:
            InvoiceLineItem.objects.bulk_create(batch)
    return account


if __name__ == "__main__":
    main()
