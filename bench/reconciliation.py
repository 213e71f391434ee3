"""Benchmark: reconciling a period of vendor line items against our partner-cost charge lines.

Builds, in a fresh database, one partner with a Microsoft provider account, `--subscriptions`
subscriptions (each with a tenant-linked vendor id and one cycle-fee charge line for November
2026), and one vendor invoice for November with `--lines` current line items spread over those
subscriptions (plus an older import generation of the same size, which must not be read). Some
subscriptions differ on purpose: 2% a moved price, 1% a quantity, 1% only at the vendor, 1%
only here. Then it times `reconciliation.reconcile_period` (the median of `--runs`), and reports
the queries (which must not grow with the lines: the vendor's side is summed by the database)
and the peak memory the Python heap grew by while reconciling (tracemalloc).

    .venv/bin/python bench/reconciliation.py [--quick] [--runs 3] [--lines 1000000]
                    [--subscriptions 100000] [--database-url postgres://...]

The last line holds the headline figures as key=value pairs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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
    args = parser.parse_args()
    args.lines = args.lines or (100_000 if args.quick else 1_000_000)
    args.subscriptions = args.subscriptions or (10_000 if args.quick else 100_000)

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
    from django.test.utils import CaptureQueriesContext

    from seatkeeper.billing import reconciliation
    from seatkeeper.core import clock

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor}")
    started = time.perf_counter()
    with clock.frozen(dt.datetime(2026, 12, 8, tzinfo=dt.UTC)):
        account = build(args)
    print(f"setup: {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    timings, peaks, queries = [], [], 0
    for attempt in range(args.runs):
        tracemalloc.start()
        with (
            clock.frozen(dt.datetime(2026, 12, 9, tzinfo=dt.UTC)),
            CaptureQueriesContext(connection) as captured,
        ):
            began = time.perf_counter()
            result = reconciliation.reconcile_period(
                account=account, period_start=NOV_1, period_end=NOV_30
            )
            timings.append(time.perf_counter() - began)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        queries = len(captured)
        print(f"run {attempt + 1}: {timings[-1]:.1f} s, peak {peaks[-1] / 1e6:.1f} MB")
    counts = reconciliation.outcome_counts(result)
    print(f"outcomes: {counts}")
    seconds = sorted(timings)[len(timings) // 2]
    peak = max(peaks) / 1e6
    print(
        f"vendor_lines={result.vendor_lines} charge_lines={result.charge_lines} "
        f"rows={sum(counts.values())} seconds={seconds:.2f} "
        f"lines_per_s={result.vendor_lines / seconds:.0f} queries={queries} "
        f"peak_python_mb={peak:.1f} runs={args.runs}"
    )


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
