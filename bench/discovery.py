"""Benchmark: a full discovery of a generated sandbox world, then an incremental one after 1% of
the world changed at the sandbox.

The sandbox serves the world with 50 ms latency and its default throttling (500 requests per
60-second window per throttle key; a customer-scoped call's key is partner + customer). W worker
threads, each with its own connector (its own connection pool, like separate worker processes)
and the shared rate limiter in the database, import the customers of one run, as the task queue
hands them out. Printed: calls made, the lower bounds those calls allow (the throttle's, from the
calls per key, and the latency's, with W requests in flight), wall time and its ratio to the
larger bound, peak RSS, database size, and the incremental run's time as a share of the full
one's. The sandbox runs in this process (a thread), so the RSS covers both.

    .venv/bin/python bench/discovery.py [--customers 10000] [--subscriptions 10] [--users 30]
                                        [--workers 8] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

LATENCY_MS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=10, help="per customer")
    parser.add_argument("--users", type=int, default=30, help="per customer")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a small world: 150 customers")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.subscriptions, args.users, args.workers = 150, 3, 1, 4

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-discovery-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for name in ("seatkeeper.providers", "seatkeeper.discovery", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    run(args, workdir)


def _import_in_parallel(run_id: int, providers: list) -> None:
    from django.db import connection

    from seatkeeper.discovery import services
    from seatkeeper.discovery.models import DiscoveryRun

    ids = services._open_customer_ids(DiscoveryRun.objects.get(pk=run_id))

    def work(index: int) -> None:
        try:
            for vendor_customer_id in ids[index :: len(providers)]:
                services.import_customer(run_id, vendor_customer_id, provider=providers[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(providers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    services.complete_if_done(run_id)


def _timed_run(account, providers, *, incremental: bool):
    from seatkeeper.discovery import services

    started, cpu = time.monotonic(), time.process_time()
    run = services.run_start(actor=None, account=account, enqueue=False, incremental=incremental)
    services.list_customers(run.pk, provider=providers[0])
    _import_in_parallel(run.pk, providers)
    run.refresh_from_db()
    return run, time.monotonic() - started, time.process_time() - cpu


def _calls_by_key(sandbox) -> tuple[Counter, int]:
    """Calls per throttle key, as the sandbox keys them (`sandbox.app._throttle_key`): the
    customer for calls under one customer, the partner for the customer list; the others
    (catalog, invoices, audit records, users' directory exports) are not throttled there and
    are counted apart, in the latency bound only."""
    keys: Counter = Counter()
    unthrottled = 0
    for call in sandbox.admin.calls():
        parts = call.get("path", "").strip("/").split("/")
        if len(parts) < 2 or parts[0] != "v1" or parts[1].lower() != "customers":
            unthrottled += 1
        elif len(parts) >= 3 and parts[2].lower() != "relationshiprequests":
            keys[parts[2].lower()] += 1
        else:
            keys["partner"] += 1
    return keys, unthrottled


def _bounds(calls_by_key: Counter, unthrottled: int, workers: int, limit: int, window: int):
    throttle = max(
        ((math.ceil(count / limit) - 1) * window for count in calls_by_key.values()), default=0
    )
    latency = (sum(calls_by_key.values()) + unthrottled) * LATENCY_MS / 1000 / workers
    return float(max(throttle, 0)), latency


def run(args: argparse.Namespace, workdir: Path) -> None:
    from seatkeeper.catalog import services as catalog_services
    from seatkeeper.catalog.models import VendorKind
    from seatkeeper.core import clock
    from seatkeeper.discovery import services
    from seatkeeper.providers import interface as vendor
    from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
    from seatkeeper.providers.microsoft.auth import forget_token_sources
    from seatkeeper.providers.tests.factories import provider_account
    from seatkeeper.sandbox.testing import running_sandbox
    from seatkeeper.subscriptions.models import Subscription, Tenant

    generated = time.monotonic()
    with running_sandbox(
        workdir,
        customers=args.customers,
        subscriptions_per_customer=args.subscriptions,
        users_per_customer=args.users,
    ) as sandbox:
        generated = time.monotonic() - generated
        faults = sandbox.admin.faults()
        limit, window = faults["throttle_limit"], faults["throttle_window_s"]
        account = provider_account(
            api_base_url=sandbox.base_url,
            authority_url=sandbox.authority_url,
            partner_tenant_id=sandbox.partner_tenant_id,
            application_id=sandbox.client_id,
            application_secret=sandbox.client_secret,
            refresh_token=sandbox.admin.mint_refresh_token(),
            ca_bundle_path=str(sandbox.ca_cert),
        )
        account.consent_granted_at = clock.now()
        account.save()
        vendor_row = catalog_services.vendor_create(
            actor=None,
            partner=account.organisation,
            name="Microsoft",
            kind=VendorKind.API,
            provider_account=account,
            country="GB",
        )
        catalog_services.catalog_refresh(vendor=vendor_row)
        providers = [
            MicrosoftProvider.from_account(account, max_connections=2) for _ in range(args.workers)
        ]
        sandbox.admin.set_faults(reset=True)
        sandbox.admin.set_faults(latency_ms=LATENCY_MS)
        sandbox.admin.clear_calls()

        full, full_seconds, full_cpu = _timed_run(account, providers, incremental=False)
        figures = services.run_figures(full)
        by_key, unthrottled = _calls_by_key(sandbox)
        throttle_bound, latency_bound = _bounds(by_key, unthrottled, args.workers, limit, window)
        bound = max(throttle_bound, latency_bound)

        # 1% of the world changes at the sandbox: one subscription of 1% of the customers.
        changed = max(1, args.customers // 100)
        targets = (
            Subscription.objects.filter(status="active", parent__isnull=True)
            .order_by("tenant_id", "pk")
            .distinct()
        )
        seen, picked = set(), []
        for subscription in targets:
            if subscription.tenant_id not in seen:
                seen.add(subscription.tenant_id)
                picked.append(subscription)
            if len(picked) >= changed:
                break
        for subscription in picked:
            providers[0].update_subscription(
                customer_id=subscription.tenant.vendor_customer_id,
                subscription_id=subscription.vendor_subscription_id,
                change=vendor.SubscriptionUpdate(quantity=subscription.quantity + 1),
            )
        sandbox.admin.clear_calls()
        incremental, incremental_seconds, _cpu = _timed_run(account, providers, incremental=True)
        inc_figures = services.run_figures(incremental)

        db_size = (workdir / "bench.sqlite3").stat().st_size
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"world: {args.customers} generated customers (+ demo), {args.subscriptions} "
            f"subscriptions and {args.users} users each, generated in {generated:.1f}s; "
            f"latency {LATENCY_MS} ms, throttle {limit}/{window}s per key, {args.workers} workers"
        )
        print(
            f"full run: {full.state}, {figures.customers_done} customers, "
            f"{Subscription.objects.count()} subscriptions, {Tenant.objects.count()} tenants, "
            f"{figures.errors} errors, {figures.calls} calls in {full_seconds:.1f}s "
            f"(CPU {full_cpu:.1f}s, this process and the sandbox's threads, on "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"bounds for those calls: throttle {throttle_bound:.1f}s, latency "
            f"{latency_bound:.1f}s ({args.workers} in flight)"
        )
        print(
            f"incremental run after changing {len(picked)} customers: {incremental.state}, "
            f"{inc_figures.customers_done} customers, {inc_figures.calls} calls in "
            f"{incremental_seconds:.1f}s"
        )
        for provider in providers:
            provider.close()
        forget_token_sources()
        print(
            f"calls={figures.calls} bound_s={bound:.1f} wall_s={full_seconds:.1f} "
            f"ratio={full_seconds / bound if bound else float('nan'):.2f} "
            f"peak_rss_mb={peak_rss_mb:.0f} db_mb={db_size / 1e6:.1f} "
            f"incremental_share={incremental_seconds / full_seconds:.1%}"
        )


if __name__ == "__main__":
    main()
