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

With `--processes`, the deployment scaled out instead: PostgreSQL, W `seatkeeper worker`
processes on RQ over Redis sharing the rate limiter there, the run started and fanned out by its
tasks as in production, and the sandbox in a process of its own (on another continent, in
truth: its CPU is not ours, but here it shares the machine). Printed besides: CPU seconds and
peak RSS of each process. It needs a PostgreSQL server (a database `seatkeeper_bench_discovery`
is made anew on it) and a Redis database the bench may empty (`--redis`, database 14 by default).

    .venv/bin/python bench/discovery.py [--customers 10000] [--subscriptions 10] [--users 30]
                                        [--workers 8] [--quick] [--processes]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from sandbox_process import recreate_postgres, start_sandbox, stop  # bench/sandbox_process.py

LATENCY_MS = 50
BENCH_DATABASE = "seatkeeper_bench_discovery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=10, help="per customer")
    parser.add_argument("--users", type=int, default=30, help="per customer")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a small world: 150 customers")
    parser.add_argument(
        "--processes",
        action="store_true",
        help="PostgreSQL, RQ worker processes on Redis, the sandbox in its own process",
    )
    parser.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="the PostgreSQL server of --processes (its bench database is made anew)",
    )
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/14", help="a Redis database it may empty"
    )
    parser.add_argument(
        "--rq-worker-class",
        default="rq.worker.SimpleWorker",
        help="RQ worker class of --processes (RQ's default Worker forks a process per task)",
    )
    args = parser.parse_args()
    if args.quick:
        args.customers, args.subscriptions, args.users, args.workers = 150, 3, 1, 4

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-discovery-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    if args.processes:
        os.environ["DATABASE_URL"] = f"{args.postgres.rstrip('/')}/{BENCH_DATABASE}"
        recreate_postgres(os.environ["DATABASE_URL"])
        os.environ["REDIS_URL"] = args.redis
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    else:
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
    if args.processes:
        run_processes(args, workdir)
    else:
        run(args, workdir)


def _import_in_parallel(run_id: int, providers: list) -> None:
    """The run's tasks as the queue hands them out: the customers, then the partner-level
    kinds (`tasks.discovery_list`), each to the next free worker."""
    import queue

    from django.db import connection

    from seatkeeper.discovery import services
    from seatkeeper.discovery.models import DiscoveryRun

    work_queue: queue.SimpleQueue = queue.SimpleQueue()
    for vendor_customer_id in services._open_customer_ids(DiscoveryRun.objects.get(pk=run_id)):
        work_queue.put(vendor_customer_id)
    work_queue.put(None)  # the partner-level kinds

    def work(index: int) -> None:
        try:
            while True:
                try:
                    item = work_queue.get_nowait()
                except queue.Empty:
                    return
                if item is None:
                    services.partner_step(run_id, provider=providers[index])
                else:
                    services.import_customer(run_id, item, provider=providers[index])
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
    services.list_customers(run.pk, provider=providers[0], partner=False)
    _import_in_parallel(run.pk, providers)
    run.refresh_from_db()
    return run, time.monotonic() - started, time.process_time() - cpu


def _calls_by_key(calls: list[dict]) -> tuple[Counter, int]:
    """Calls per throttle key, as the sandbox keys them (`sandbox.app._throttle_key`): the
    customer for calls under one customer, the partner for the customer list; the others
    (catalog, invoices, audit records, users' directory exports) are not throttled there and
    are counted apart, in the latency bound only."""
    keys: Counter = Counter()
    unthrottled = 0
    for call in calls:
        parts = call.get("path", "").strip("/").split("/")
        if len(parts) < 2 or parts[0] != "v1" or parts[1].lower() != "customers":
            unthrottled += 1
        elif len(parts) >= 3 and parts[2].lower() != "relationshiprequests":
            keys[parts[2].lower()] += 1
        else:
            keys["partner"] += 1
    return keys, unthrottled


def _throttle_bound(calls_by_key: Counter, limit: int, window: int) -> float:
    """No key sends more than `limit` calls in any window: a key's calls take that long."""
    return float(
        max(((math.ceil(count / limit) - 1) * window for count in calls_by_key.values()), default=0)
    )


def _account(sandbox):
    """The partner's provider account on the sandbox, consented, with its catalog imported."""
    from seatkeeper.catalog import services as catalog_services
    from seatkeeper.catalog.models import VendorKind
    from seatkeeper.core import clock
    from seatkeeper.providers.tests.factories import provider_account

    account = provider_account(
        api_base_url=sandbox.base_url,
        authority_url=sandbox.authority_url,
        graph_base_url=sandbox.graph_base_url,
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
    return account


def _change_one_percent(args: argparse.Namespace, provider) -> int:
    """1% of the world changes at the sandbox: one subscription of 1% of the customers."""
    from seatkeeper.providers import interface as vendor
    from seatkeeper.subscriptions.models import Subscription

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
        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(quantity=subscription.quantity + 1),
        )
    return len(picked)


def _report(
    args,
    sandbox,
    *,
    full,
    full_seconds,
    cpu_text,
    incremental,
    incremental_seconds,
    changed,
    calls_log,
    db_mb,
    rss_text,
    peak_rss_mb,
) -> None:
    from seatkeeper.discovery import services
    from seatkeeper.subscriptions.models import Subscription, Tenant

    faults = sandbox.admin.faults()
    limit, window = faults["throttle_limit"], faults["throttle_window_s"]
    figures = services.run_figures(full)
    inc_figures = services.run_figures(incremental)
    by_key, unthrottled = _calls_by_key(calls_log)
    throttle_bound = _throttle_bound(by_key, limit, window)
    # Our own count of the run's calls: the sandbox keeps only its last 20,000 in its log.
    latency_bound = figures.calls * LATENCY_MS / 1000 / args.workers
    bound = max(throttle_bound, latency_bound)
    print(
        f"world: {args.customers} generated customers (+ demo), {args.subscriptions} "
        f"subscriptions and {args.users} users each; latency {LATENCY_MS} ms, throttle "
        f"{limit}/{window}s per key, {args.workers} workers"
    )
    print(
        f"full run: {full.state}, {figures.customers_done} customers, "
        f"{Subscription.objects.count()} subscriptions, {Tenant.objects.count()} tenants, "
        f"{figures.errors} errors, {figures.calls} calls in {full_seconds:.1f}s "
        f"({cpu_text}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"bounds for those calls: throttle {throttle_bound:.1f}s (from "
        f"{sum(by_key.values()) + unthrottled} logged calls), latency "
        f"{latency_bound:.1f}s ({args.workers} in flight)"
    )
    print(
        f"incremental run after changing {changed} customers: {incremental.state}, "
        f"{inc_figures.customers_done} customers, {inc_figures.calls} calls in "
        f"{incremental_seconds:.1f}s"
    )
    if rss_text:
        print(f"peak RSS per process: {rss_text}")
    print(
        f"calls={figures.calls} bound_s={bound:.1f} wall_s={full_seconds:.1f} "
        f"ratio={full_seconds / bound if bound else float('nan'):.2f} "
        f"peak_rss_mb={peak_rss_mb:.0f} db_mb={db_mb:.1f} "
        f"incremental_share={incremental_seconds / full_seconds:.1%}"
    )


def run(args: argparse.Namespace, workdir: Path) -> None:
    from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
    from seatkeeper.providers.microsoft.auth import forget_token_sources
    from seatkeeper.sandbox.testing import running_sandbox

    with running_sandbox(
        workdir,
        customers=args.customers,
        subscriptions_per_customer=args.subscriptions,
        users_per_customer=args.users,
    ) as sandbox:
        account = _account(sandbox)
        providers = [
            MicrosoftProvider.from_account(account, max_connections=2) for _ in range(args.workers)
        ]
        sandbox.admin.set_faults(reset=True)
        sandbox.admin.set_faults(latency_ms=LATENCY_MS)
        sandbox.admin.clear_calls()

        full, full_seconds, full_cpu = _timed_run(account, providers, incremental=False)
        calls_log = sandbox.admin.calls()
        changed = _change_one_percent(args, providers[0])
        sandbox.admin.clear_calls()
        incremental, incremental_seconds, _cpu = _timed_run(account, providers, incremental=True)
        for provider in providers:
            provider.close()
        forget_token_sources()
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        _report(
            args,
            sandbox,
            full=full,
            full_seconds=full_seconds,
            cpu_text=f"CPU {full_cpu:.1f}s, this process and the sandbox's threads",
            incremental=incremental,
            incremental_seconds=incremental_seconds,
            changed=changed,
            calls_log=calls_log,
            db_mb=(workdir / "bench.sqlite3").stat().st_size / 1e6,
            rss_text="",
            peak_rss_mb=peak_rss_mb,
        )


# --- the deployment scaled out ------------------------------------------------------------------


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start_sandbox(args: argparse.Namespace, workdir: Path):
    from seatkeeper.sandbox.testing import AdminClient

    process, info = start_sandbox(
        workdir,
        "--customers", str(args.customers),
        "--subscriptions-per-customer", str(args.subscriptions),
        "--users-per-customer", str(args.users),
        patience_s=1800,  # a world of 10,000 customers takes minutes to build
    )  # fmt: skip
    sandbox = SimpleNamespace(
        base_url=info["base_url"],
        authority_url=info["authority_url"],
        graph_base_url=info["graph_base_url"],
        partner_tenant_id=info["partner_tenant_id"],
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        ca_cert=Path(info["ca_cert"]),
        admin=AdminClient(info["base_url"], info["admin_key"], Path(info["ca_cert"])),
    )
    return process, sandbox


def _start_workers(args: argparse.Namespace, workdir: Path) -> list[subprocess.Popen]:
    workers = []
    for index in range(args.workers):
        log = (workdir / f"worker-{index}.log").open("wb")
        workers.append(
            subprocess.Popen(  # noqa: S603 - our own command, no outside input
                [
                    str(Path(sys.executable).with_name("seatkeeper")),
                    "worker",
                    "--no-scheduler",
                    "--rq-worker-class",
                    args.rq_worker_class,
                ],
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return workers


def _ready(workers: list[subprocess.Popen]) -> None:
    """Wait until every worker has started (registered its lease), so that start-up is not
    counted in the run's CPU."""
    from seatkeeper.core.models import WorkerProcess

    pids = {worker.pid for worker in workers}
    while WorkerProcess.objects.filter(pid__in=pids).count() < len(pids):
        if any(worker.poll() is not None for worker in workers):
            raise SystemExit("a worker did not start; see its log in the bench's folder")
        time.sleep(0.2)
    time.sleep(1)  # from the lease to the RQ loop


def _run_queued(account, *, incremental: bool):
    """A run started as a person starts it: its tasks go to the queue; wait for it to settle."""
    from seatkeeper.discovery import services
    from seatkeeper.discovery.models import DiscoveryRun, RunState

    started = time.monotonic()
    run = services.run_start(actor=None, account=account, incremental=incremental)
    while DiscoveryRun.objects.filter(pk=run.pk, state=RunState.IN_PROGRESS).exists():
        time.sleep(0.2)
    run.refresh_from_db()
    return run, time.monotonic() - started


def _drained() -> None:
    """Wait until the queue is empty and no worker is busy (the last tasks finish their
    bookkeeping after the run completes)."""
    import django_rq

    queue = django_rq.get_queue("default")
    while queue.count or queue.started_job_registry.count:
        time.sleep(0.2)


def run_processes(args: argparse.Namespace, workdir: Path) -> None:
    from django.db import connection

    from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
    from seatkeeper.providers.microsoft.auth import forget_token_sources

    generated = time.monotonic()
    sandbox_process, sandbox = _start_sandbox(args, workdir)
    print(f"sandbox world generated and served in {time.monotonic() - generated:.1f}s", flush=True)
    workers: list[subprocess.Popen] = []
    try:
        account = _account(sandbox)
        sandbox.admin.set_faults(reset=True)
        sandbox.admin.set_faults(latency_ms=LATENCY_MS)
        workers = _start_workers(args, workdir)
        _ready(workers)
        cpu_before = {p.pid: _proc_cpu_seconds(p.pid) for p in [sandbox_process, *workers]}
        sandbox.admin.clear_calls()

        full, full_seconds = _run_queued(account, incremental=False)
        cpu = {pid: _proc_cpu_seconds(pid) - before for pid, before in cpu_before.items()}
        drain_started = time.monotonic()
        _drained()  # the invoices' line items, queued by the run, are read after it
        drained_seconds = full_seconds + time.monotonic() - drain_started
        calls_log = sandbox.admin.calls()
        provider = MicrosoftProvider.from_account(account)
        changed = _change_one_percent(args, provider)
        provider.close()
        forget_token_sources()
        sandbox.admin.clear_calls()
        incremental, incremental_seconds = _run_queued(account, incremental=True)
        _drained()

        rss = {p.pid: _proc_peak_rss_mb(p.pid) for p in [sandbox_process, *workers]}
        own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        worker_cpu = sum(cpu[p.pid] for p in workers)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            db_mb = cursor.fetchone()[0] / 1e6
        _report(
            args,
            sandbox,
            full=full,
            full_seconds=full_seconds,
            cpu_text=(
                f"CPU: workers {worker_cpu:.1f}s in all, sandbox {cpu[sandbox_process.pid]:.1f}s; "
                f"the invoices' line items it queued were read {drained_seconds:.1f}s after "
                "its start"
            ),
            incremental=incremental,
            incremental_seconds=incremental_seconds,
            changed=changed,
            calls_log=calls_log,
            db_mb=db_mb,
            rss_text=", ".join(
                [f"sandbox {rss[sandbox_process.pid]:.0f} MB", f"bench {own_rss:.0f} MB"]
                + [f"worker {index} {rss[p.pid]:.0f} MB" for index, p in enumerate(workers)]
            ),
            peak_rss_mb=max([own_rss, *rss.values()]),
        )
    finally:
        stop(workers)
        stop([sandbox_process])
        sandbox.admin.close()


if __name__ == "__main__":
    main()
