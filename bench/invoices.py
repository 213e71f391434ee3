"""Benchmark: one vendor invoice of 1,000,000 reconciliation lines, read from the sandbox's
Graph v2 export files into the database.

Starts the Partner Center sandbox in its own process (so its memory is not counted here), makes
it issue one invoice of N lines over C customers (admin API, load-test data), imports the
invoice, lets the sandbox prepare the export (its operation runs until the gzipped JSON-lines
files are written, 200,000 lines per file by default: several files), then times the import of
the lines: the manifest, every file streamed, decompressed and parsed, every line written (COPY
on PostgreSQL) with the per-customer sums, and the switch to the new lines. Then checks that the
lines in the database add up to the invoice's total, exactly.

Targets (ISSUE-11): under 60 s and under 500 MB peak memory for 1,000,000 lines.

    .venv/bin/python bench/invoices.py [--quick] [--lines 1000000] [--customers 5000]
        [--blob-lines 200000] [--database-url postgres://postgres@127.0.0.1:5432/sk_invoices]

The last line holds the headline figures as key=value pairs.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from memory import PeakSampler, rss_mb  # bench/memory.py, beside this script
from sandbox_process import recreate_postgres, start_sandbox, stop  # bench/sandbox_process.py

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/sk_invoices"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--blob-lines", type=int, default=200_000, help="lines per export file")
    parser.add_argument("--quick", action="store_true", help="20,000 lines: a smoke run")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="'sqlite' for a file")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the import here")
    args = parser.parse_args()
    if args.quick:
        args.lines, args.customers, args.blob_lines = 20_000, 200, 5_000

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-invoices-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    if args.database_url == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        recreate_postgres(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    sandbox, info = start_sandbox(
        workdir, "--seed", "none", "--faults", f"export_blob_lines={args.blob_lines}"
    )
    try:
        run(args, info)
    finally:
        stop([sandbox])


def synthesize_invoice(info: dict, *, lines: int, customers: int):
    """Ask the sandbox for an invoice of the last closed period with `lines` line items over
    `customers` customers, and register a provider account on it (Django set up). Returns the
    sandbox's answer, the account and the sandbox's now."""
    import datetime as dt

    import httpx

    from seatkeeper.providers.tests.factories import partner_organisation, provider_account

    admin = httpx.Client(
        base_url=info["base_url"],
        verify=info["ca_cert"],
        headers={"X-Sandbox-Key": info["admin_key"]},
        timeout=3600,
    )
    now = dt.datetime.fromisoformat(admin.get("/_sandbox/clock").json()["now"])
    year, month = now.year, now.month
    period = f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
    started = time.perf_counter()
    body = {"period": period, "currency": "EUR", "lines": lines, "customers": customers}
    made = admin.post("/_sandbox/billing/synthesize", json=body).json()
    print(
        f"sandbox: invoice {made['invoiceId']} of {made['lines']:,} lines over "
        f"{made['customers']:,} customers made in {time.perf_counter() - started:.1f} s"
    )
    account = provider_account(
        organisation=partner_organisation(name="Bench Partner"),
        api_base_url=info["base_url"],
        authority_url=info["authority_url"],
        partner_tenant_id=info["partner_tenant_id"],
        application_id=info["client_id"],
        application_secret=info["client_secret"],
        ca_bundle_path=info["ca_cert"],
        graph_base_url=info["graph_base_url"],
    )
    return made, account, now


def run(args: argparse.Namespace, info: dict) -> None:
    import logging

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    # One log line per request or skipped line would be noise here.
    logging.getLogger("seatkeeper").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0, interactive=False)
    from seatkeeper.billing import invoices
    from seatkeeper.billing.invoice_selectors import current_lines
    from seatkeeper.billing.models import InvoiceCustomerTotal, LinesState, ProviderInvoice
    from seatkeeper.providers import interface as i
    from seatkeeper.providers.registry import get_provider

    print(f"database: {connection.vendor}; sandbox at {info['base_url']} (its own process)")
    made, account, _now = synthesize_invoice(info, lines=args.lines, customers=args.customers)

    with get_provider(account) as provider:
        invoices.invoices_import(account=account, provider=provider, documents=False)
        invoice = ProviderInvoice.objects.get(vendor_invoice_id=made["invoiceId"])
        assert invoice.total == Decimal(made["totalCharges"]), (invoice.total, made)

        # The vendor's side: start the export and wait until its files are written.
        started = time.perf_counter()
        first = invoices.invoice_lines_step(invoice=invoice, provider=provider)
        invoice.refresh_from_db()
        while True:
            operation = provider.export_operation(location=invoice.export_location)
            if operation.is_done:
                break
            time.sleep(min(operation.retry_after or 1, 2))
        export_wait = time.perf_counter() - started
        assert first.state == LinesState.EXPORTING and operation.status is i.ExportStatus.SUCCEEDED
        manifest = provider.export_manifest(location=operation.manifest_location or "")
        print(
            f"sandbox: export prepared in {export_wait:.1f} s: {manifest.blob_count} files, "
            f"{sum((workdir_size(info, manifest, blob)) for blob in manifest.blobs) / 1e6:,.1f} MB"
        )

        # Ours, timed: read every file and write every line.
        rss_before = rss_mb()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        with PeakSampler() as sampler:
            started, cpu = time.perf_counter(), time.process_time()
            progress = invoices.invoice_lines_step(invoice=invoice, provider=provider)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        assert progress.state == LinesState.IMPORTED, progress

    invoice.refresh_from_db()
    stored = current_lines(invoice).count()
    customer_sum = sum(
        (t.total for t in InvoiceCustomerTotal.objects.filter(invoice=invoice)), Decimal(0)
    )
    exact = invoice.lines_total == invoice.total == customer_sum
    peak = max(sampler.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(
        f"import: {stored:,} lines in {seconds:.1f} s = {stored / seconds:,.0f} lines/s "
        f"({cpu:.1f} s of CPU in this process; load average {os.getloadavg()[0]:.1f}); "
        f"RSS {rss_before:.0f} MB before, peak {sampler.peak:.0f} MB during "
        f"(process peak {peak:.0f} MB); totals exact: {exact}"
    )
    assert stored == args.lines and exact
    print(
        f"lines={stored} lines_per_s={stored / seconds:.0f} peak_rss_mb={peak:.0f} "
        f"wall_s={seconds:.1f} cpu_s={cpu:.1f} export_wait_s={export_wait:.1f} "
        f"files={manifest.blob_count} "
        f"database={connection.vendor}"
    )


def workdir_size(info: dict, manifest, blob) -> int:
    """Bytes of one export file, from the storage's Content-Range (the body is not read)."""
    import httpx

    with httpx.stream(
        "GET",
        manifest.blob_url(blob),
        headers={"Range": "bytes=0-"},
        verify=info["ca_cert"],
        timeout=60,
    ) as response:
        return int(response.headers["Content-Range"].rsplit("/", 1)[1])


if __name__ == "__main__":
    main()
