"""Benchmark: a directory sync of one large tenant from the sandbox, at two sizes, then bulk
provisioning (preview and apply) of a members file.

The sandbox serves a generated tenant with 50 ms latency and its default throttling (500
requests per 60-second window per throttle key; every call of the sync is scoped to the one
customer, so they share one key). "Sync now" (`directory.users_sync`) reads the users, the
licences of each user (Partner Center has no tenant-wide listing), the subscribed SKUs and the
catalog SKUs, one call after another. Printed for each size: calls made, their lower bounds (the
throttle's, from the calls per key, and the latency's, one request in flight), wall time and its
ratio to the larger bound, and the peak resident memory during the sync; then the ratio of the
two sizes' peaks (1.0: memory does not grow with the user count). The bulk part writes a members
file of L lines (creates with a service and an option each), previews it and applies it, and
prints lines per second for each step. The sandbox runs in this process (a thread), so the
memory covers both.

    .venv/bin/python bench/people.py [--users 50000] [--lines 10000] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

LATENCY_MS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000, help="the larger tenant")
    parser.add_argument("--lines", type=int, default=10_000, help="lines of the bulk file")
    parser.add_argument("--quick", action="store_true", help="100 and 200 users, 500 lines")
    args = parser.parse_args()
    if args.quick:
        args.users, args.lines = 200, 500

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-people-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["EMAIL_URL"] = "locmem://"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    call_command("migrate", verbosity=0)
    for name in ("seatkeeper.providers", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    syncs = [_sync(workdir, users) for users in (args.users // 2, args.users)]
    bulk = _bulk(workdir, args.lines)
    small, large = syncs
    growth = large["peak_mb"] / small["peak_mb"] if small["peak_mb"] else float("nan")
    print(
        f"sync_users={large['users']} calls={large['calls']} bound_s={large['bound']:.1f} "
        f"wall_s={large['wall']:.1f} ratio={large['wall'] / large['bound']:.2f} "
        f"peak_mb={large['peak_mb']:.0f} peak_mb_half={small['peak_mb']:.0f} "
        f"peak_ratio={growth:.2f} sync_growth_mb={large['growth_mb']:.0f} "
        f"sync_growth_mb_half={small['growth_mb']:.0f} lines={args.lines} "
        f"preview_lps={bulk['preview']:.0f} apply_lps={bulk['apply']:.0f}"
    )


def _calls_by_key(sandbox) -> Counter:
    keys: Counter = Counter()
    for call in sandbox.admin.calls():
        parts = call.get("path", "").strip("/").split("/")
        keys[parts[2] if len(parts) > 2 and parts[1] == "customers" else "partner"] += 1
    return keys


def _bounds(calls_by_key: Counter, limit: int, window: int) -> tuple[float, float]:
    throttle = max(
        ((math.ceil(count / limit) - 1) * window for count in calls_by_key.values()), default=0
    )
    latency = sum(calls_by_key.values()) * LATENCY_MS / 1000
    return float(max(throttle, 0)), latency


def _sync(workdir: Path, users: int) -> dict:
    from bench.memory import PeakSampler, rss_mb
    from seatkeeper.accounts import services as accounts
    from seatkeeper.accounts.models import OrganisationKind
    from seatkeeper.conftest import company
    from seatkeeper.people import directory
    from seatkeeper.people.models import DirectoryUser
    from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
    from seatkeeper.providers.microsoft.auth import forget_token_sources
    from seatkeeper.providers.tests.factories import provider_account
    from seatkeeper.sandbox.testing import running_sandbox
    from seatkeeper.subscriptions import services as subscriptions

    started = time.monotonic()
    with running_sandbox(
        workdir / f"sync-{users}",
        customers=1,
        subscriptions_per_customer=3,
        users_per_customer=users,
    ) as sandbox:
        generated = time.monotonic() - started
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
        # The generated tenant with the most users is the one under test.
        with MicrosoftProvider.from_account(account) as provider:
            tenant_id = max(
                (c.id for c in provider.list_customers()),
                key=lambda cid: sum(1 for _ in provider.list_users(customer_id=cid)),
            )
        customer = accounts.organisation_create(
            actor=None,
            parent=account.organisation,
            kind=OrganisationKind.CUSTOMER,
            **company(f"Large tenant {users}"),
        )
        subscriptions.tenant_link(
            actor=None,
            customer=customer,
            account=account,
            vendor_customer_id=tenant_id,
            domain=f"large{users}.onmicrosoft.com",
        )
        sandbox.admin.set_faults(reset=True)
        sandbox.admin.set_faults(latency_ms=LATENCY_MS)
        sandbox.admin.clear_calls()
        before = rss_mb()
        started = time.monotonic()
        with PeakSampler() as sampler:
            counts = directory.users_sync(actor=None, customer=customer)
        wall = time.monotonic() - started
        by_key = _calls_by_key(sandbox)
        throttle, latency = _bounds(by_key, limit, window)
        bound = max(throttle, latency)
        forget_token_sources()
        print(
            f"sync of {users} users (generated in {generated:.1f}s): "
            f"{DirectoryUser.objects.filter(customer=customer).count()} users, "
            f"{dict(counts)}; {sum(by_key.values())} calls in {wall:.1f}s; bounds: throttle "
            f"{throttle:.1f}s ({limit}/{window}s per key), latency {latency:.1f}s; peak "
            f"{sampler.peak:.0f} MB (from {before:.0f} MB)"
        )
        return {
            "users": users,
            "calls": sum(by_key.values()),
            "bound": bound,
            "wall": wall,
            "peak_mb": sampler.peak,
            "growth_mb": sampler.peak - before,
        }


def _bulk(workdir: Path, lines: int) -> dict:
    from seatkeeper.conftest import Cast
    from seatkeeper.people import bulk
    from seatkeeper.people.tests.members_world import rainbow_world

    cast = Cast()
    world = rainbow_world(cast, business=lines, enterprise=1, recording=lines, attendant=1)
    path = workdir / "members.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(bulk.MEMBER_COLUMNS)
        for n in range(lines):
            writer.writerow(
                [
                    f"member{n}@bench.example",
                    f"Member {n}",
                    "Member",
                    str(n),
                    f"member{n}@mail.example",
                    "",
                    "Business",
                    "Recording",
                    "",
                ]
            )
    started = time.monotonic()
    with path.open("rb") as stream:
        member_import = bulk.member_import_preview(
            actor=None,
            customer=cast.customer,
            vendor=world.vendor,
            file_name=path.name,
            stream=stream,
        )
    preview = time.monotonic() - started
    started = time.monotonic()
    applied = bulk.member_import_apply(actor=None, member_import=member_import)
    apply = time.monotonic() - started
    print(
        f"bulk file of {lines} lines: preview {member_import.counts} in {preview:.1f}s, "
        f"apply {applied.counts} in {apply:.1f}s"
    )
    return {"preview": lines / preview, "apply": lines / apply}


if __name__ == "__main__":
    main()
