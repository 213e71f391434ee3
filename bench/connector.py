"""Benchmark: how close the Partner Center connector gets to the throughput the vendor allows.

Starts a sandbox with 50 ms latency and its default throttling (500 requests per 60-second window
per throttle key; the key of a customer-scoped call is the partner + customer pair), then runs
W worker threads, each with its own connector (own connection pool, like separate worker
processes) sharing one rate limiter through the database (or Redis with --redis). Every worker
reads customers round-robin over C customers for D seconds.

The ceiling, computed from the configuration:
    throttle bound = C keys x 500 requests / 60 s
    latency bound  = W workers / 0.050 s (one request in flight per worker)
    ceiling        = min(throttle bound, latency bound)

    .venv/bin/python bench/connector.py [--workers 6] [--customers 4] [--duration 120]
                                        [--redis redis://127.0.0.1:6379/5] [--no-limiter]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

LATENCY_MS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--customers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--redis", default=None, help="share the limiter through this Redis")
    parser.add_argument("--no-limiter", action="store_true", help="rely on 429s alone")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-"))
    # A database of our own, migrated from scratch, before Django reads its settings.
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # One log line per request would be most of the output; keep warnings (retries) only.
    for name in ("seatkeeper.providers", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    from django.db import connection

    from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
    from seatkeeper.providers.microsoft.auth import TokenKind, forget_token_sources
    from seatkeeper.providers.microsoft.budget import ThrottleBudget
    from seatkeeper.providers.ratelimit import (
        DatabaseBucketStore,
        RateLimiter,
        RedisBucketStore,
    )
    from seatkeeper.providers.tests.factories import provider_account
    from seatkeeper.sandbox.testing import running_sandbox

    with running_sandbox(
        workdir, latency_ms=LATENCY_MS, customers=args.customers, users_per_customer=1
    ) as sandbox:
        faults = sandbox.admin.faults()
        limit, window = faults["throttle_limit"], faults["throttle_window_s"]
        account = provider_account(
            api_base_url=sandbox.base_url,
            authority_url=sandbox.authority_url,
            partner_tenant_id=sandbox.partner_tenant_id,
            application_id=sandbox.client_id,
            application_secret=sandbox.client_secret,
            ca_bundle_path=str(sandbox.ca_cert),
        )
        customers = [c["tenant_id"] for c in sandbox.demo_customers][: args.customers]
        keys = len(customers)
        budget = ThrottleBudget(requests=limit, window_seconds=window)

        def limiter() -> RateLimiter | None:
            if args.no_limiter:
                return None
            store = RedisBucketStore(url=args.redis) if args.redis else DatabaseBucketStore()
            return RateLimiter(store=store)

        providers = []
        for _ in range(args.workers):
            provider = MicrosoftProvider.from_account(
                account, budget=budget, limiter=limiter(), max_connections=2
            )
            if args.no_limiter:
                provider.client.limiter = None
            providers.append(provider)
        # Tokens first, so the measurement is of API calls only.
        providers[0].client.tokens.token(kind=TokenKind.APP)
        sandbox.admin.set_faults(reset=True)
        sandbox.admin.set_faults(latency_ms=LATENCY_MS)
        sandbox.admin.clear_calls()

        completed = [0] * args.workers
        errors: list[str] = []
        sandbox_started = sandbox.admin.now().timestamp()
        started = time.monotonic()
        deadline = started + args.duration

        def work(index: int) -> None:
            provider = providers[index]
            n = index
            try:
                while time.monotonic() < deadline:
                    provider.get_customer(customer_id=customers[n % keys])
                    completed[index] += 1
                    n += 1
            except Exception as error:  # reported below; the run goes on
                errors.append(repr(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        sandbox_ended = sandbox.admin.now().timestamp()
        # The sandbox counts in fixed windows, so a run touching N windows could in theory get
        # N full allowances per key; over long runs that tends to the sustained bound.
        windows = int(sandbox_ended // window) - int(sandbox_started // window) + 1

        calls = sandbox.admin.calls(method="GET", path="/v1/customers/")
        throttled_server = sum(1 for c in calls if c["status"] == 429)
        throttled_client = sum(p.client.stats.throttled for p in providers)
        waited = sum(p.client.limiter.waited for p in providers if p.client.limiter)
        total = sum(completed)
        throttle_bound = keys * limit / window
        latency_bound = args.workers / (LATENCY_MS / 1000)
        ceiling = min(throttle_bound, latency_bound)
        rate = total / elapsed

        limiter_name = "none" if args.no_limiter else ("redis" if args.redis else "database")
        print(
            f"workers={args.workers} customers(keys)={keys} duration={elapsed:.1f}s "
            f"latency={LATENCY_MS}ms limit={limit}/{window}s per key limiter={limiter_name}"
        )
        print(f"completed requests     {total}")
        print(f"sustained throughput   {rate:.2f} req/s")
        print(f"429s received          {throttled_client} (sandbox logged {throttled_server})")
        print(f"throttle bound         {throttle_bound:.2f} req/s ({keys} x {limit}/{window}s)")
        print(
            f"latency bound          {latency_bound:.2f} req/s ({args.workers} / "
            f"{LATENCY_MS / 1000:.3f}s)"
        )
        print(f"ceiling                {ceiling:.2f} req/s")
        allowance = keys * limit * windows
        print(
            f"fixed-window allowance {allowance} requests in the {windows} windows touched "
            f"(used {total / allowance:.1%})"
        )
        print(f"efficiency             {rate / ceiling:.1%} of the ceiling")
        print(f"limiter sleep          {waited:.1f} worker-seconds")
        if errors:
            print(f"errors                 {len(errors)}: {errors[:3]}")
        for provider in providers:
            provider.close()
        forget_token_sources()


if __name__ == "__main__":
    main()
