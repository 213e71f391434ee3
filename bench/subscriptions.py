"""Benchmark: the subscription list pages and exports over 100,000 subscriptions.

Builds, in its own database (dropped and recreated on PostgreSQL), one partner with 10
resellers and 1,000 customers (900 under the resellers, 100 direct), 50 offers with three terms
and vendor prices, a partner markup, and 100,000 subscriptions (one in ten an add-on of another,
one in a hundred failed at the vendor), all with bulk_create. Then, through Django's test client
signed in as a cloud admin (sees all 100,000) and a reseller admin (sees one tenth):

- the list across customers at page 1 and at a deep page, and one customer's list: time per
  request and queries per page (they must not depend on the page size or the depth);
- the CSV and XLSX exports of every row: rows per second, and the peak of Python allocations
  (tracemalloc) for ~10,000 rows against 100,000 rows, which must be about the same.

    .venv/bin/python bench/subscriptions.py
        [--subscriptions 100000] [--customers 1000]
        [--database-url postgres://postgres@127.0.0.1:5432/seatkeeper_bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

from sandbox_process import recreate_postgres  # bench/sandbox_process.py

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/seatkeeper_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--offers", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5, help="requests per page measured")
    parser.add_argument("--traced", action="store_true", help="also run CSV under tracemalloc")
    parser.add_argument("--reuse", action="store_true", help="keep the PostgreSQL data")
    parser.add_argument("--export-only", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--as-user", default="bench-admin", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="'sqlite' for a file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="seatkeeper-bench-"))
    os.environ["SEATKEEPER_VAR_DIR"] = str(workdir / "var")
    if args.database_url == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        if not args.reuse:
            recreate_postgres(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    if not args.reuse:
        call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor} ({os.environ['DATABASE_URL'].split('://')[0]})")

    if args.export_only:
        return export_in_this_process(args)
    started = time.perf_counter()
    if args.reuse:
        world = existing()
    else:
        world = build(args)
    count = world["count"]
    print(f"setup: {count:,} subscriptions in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def client_for(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    admin = client_for(world["cloud_admin"])
    reseller = client_for(world["reseller_admin"])

    def measure_page(client: Client, url: str) -> None:
        client.get(url)  # warm: templates, connections
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                begun = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - begun)
            assert response.status_code == 200, (url, response.status_code)
        rows = response.content.count(b"data-subscription=")
        print(
            f"  {url:<60} {rows:>3} rows  median {statistics.median(times) * 1000:7.1f} ms  "
            f"max {max(times) * 1000:7.1f} ms  {len(queries):>2} queries"
        )

    total = count
    deep_25 = max(1, (total // 25) * 3 // 4)
    deep_100 = max(1, (total // 100) * 3 // 4)
    customer = world["busy_customer"]
    print("list pages (cloud admin, all subscriptions):")
    measure_page(admin, "/subscriptions/")
    measure_page(admin, f"/subscriptions/?page={deep_25}")
    measure_page(admin, "/subscriptions/?size=100")
    measure_page(admin, f"/subscriptions/?size=100&page={deep_100}")
    measure_page(admin, f"/subscriptions/?size=100&page={deep_100}&sort=-quantity")
    measure_page(admin, "/subscriptions/?status=failed")
    measure_page(admin, "/subscriptions/?q=Seats+4242")
    print("list pages (reseller admin, its customers):")
    measure_page(reseller, "/subscriptions/")
    measure_page(reseller, f"/subscriptions/?page={deep_25 // 10}")
    print("one customer's list:")
    measure_page(admin, f"/customers/{customer.pk}/subscriptions/")

    def measure_export(client: Client, url: str, *, traced: bool = False) -> None:
        """Time, size, rows, and memory: the growth of the process's resident set while the
        export runs (sampled every 20 ms) and, when traced, the peak of Python allocations."""
        sampler = RssSampler()
        if traced:
            tracemalloc.start()
        sampler.start()
        with CaptureQueriesContext(connection) as queries:
            begun = time.perf_counter()
            response = client.get(url)
            size = lines = 0
            for chunk in response.streaming_content:
                size += len(chunk)
                lines += chunk.count(b"\n")
            seconds = time.perf_counter() - begun
        growth = sampler.stop()
        memory = f"RSS +{growth / 1024 / 1024:5.1f} MiB"
        if traced:
            _current, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            memory += f", Python peak {top / 1024 / 1024:5.1f} MiB (tracemalloc)"
        if "xlsx" in url:
            from openpyxl import load_workbook

            workbook = load_workbook(io.BytesIO(b"".join(client.get(url).streaming_content)),
                                     read_only=True)  # fmt: skip
            lines = sum(1 for _row in workbook.active.iter_rows(values_only=True))
        rows = lines - 1
        # (an XLSX response is built before it is returned; its queries are the CSV's)
        counted = f"{len(queries)} queries" if "csv" in url else ""
        print(
            f"  {url:<36} {rows:>7,} rows {seconds:6.2f} s = {rows / seconds:7,.0f} rows/s  "
            f"{size / 1024 / 1024:5.1f} MiB  {counted}  {memory}"
        )

    print("exports:")
    measure_export(reseller, "/subscriptions/?export=csv")
    measure_export(admin, "/subscriptions/?export=csv")
    measure_export(reseller, "/subscriptions/?export=xlsx")
    measure_export(admin, "/subscriptions/?export=xlsx")
    if args.traced:
        print("exports under tracemalloc (slower; for the allocation peak):")
        measure_export(reseller, "/subscriptions/?export=csv", traced=True)
        measure_export(admin, "/subscriptions/?export=csv", traced=True)
    print("peak resident memory of a fresh process running one export:")
    for user in ("bench-reseller", "bench-admin"):
        for url in ("/subscriptions/?export=csv", "/subscriptions/?export=xlsx"):
            command = [sys.executable, __file__, "--reuse", "--export-only", url, "--as-user",
                       user, "--database-url", args.database_url]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
            print("  " + result.stdout.strip().splitlines()[-1])


def existing() -> dict:
    from seatkeeper.accounts.models import Organisation, User
    from seatkeeper.subscriptions.models import Subscription

    return {
        "cloud_admin": User.objects.get(username="bench-admin"),
        "reseller_admin": User.objects.get(username="bench-reseller"),
        "busy_customer": Organisation.objects.get(name="C0"),
        "count": Subscription.objects.count(),
    }


def export_in_this_process(args) -> None:
    """One export in a fresh process: its peak resident set (sampled) against the set before."""
    from django.test import Client

    from seatkeeper.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=args.as_user))
    client.get("/subscriptions/")  # imports, templates, connections: the process at rest
    sampler = RssSampler()
    sampler.start()
    before = sampler.base
    begun = time.perf_counter()
    response = client.get(args.export_only)
    size = sum(len(chunk) for chunk in response.streaming_content)
    seconds = time.perf_counter() - begun
    peak = before + sampler.stop()
    print(
        f"{args.as_user:<15} {args.export_only:<30} {seconds:6.2f} s  {size / 1024 / 1024:5.1f} "
        f"MiB written  RSS at rest {before / 1024 / 1024:5.1f} MiB, peak {peak / 1024 / 1024:5.1f}"
        f" MiB (+{(peak - before) / 1024 / 1024:.1f})"
    )


class RssSampler:
    """The peak growth of this process's resident memory between start() and stop()."""

    def __init__(self) -> None:
        self.peak = 0
        self.base = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def start(self) -> None:
        self.base = self.peak = self.rss()
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        return self.peak - self.base


def build(args) -> dict:
    from django.db import transaction

    from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User
    from seatkeeper.accounts.services import organisation_create
    from seatkeeper.catalog.models import Offer, OfferKind, OfferTerm, Vendor, VendorKind
    from seatkeeper.core import clock
    from seatkeeper.pricing.models import MarginRule, Method, PriceSource, Tier, VendorPrice
    from seatkeeper.subscriptions.models import Status, Subscription, SyncStatus

    rng = random.Random(42)
    today = clock.today()
    now = clock.now()

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
        resellers = [
            organisation_create(actor=None, parent=partner, kind=OrganisationKind.RESELLER,
                                **company(f"Reseller {r}"))
            for r in range(10)
        ]  # fmt: skip
        customers = []
        for c in range(args.customers):
            parent = partner if c % 10 == 9 else resellers[c % 10]
            customers.append(
                Organisation(
                    kind=OrganisationKind.CUSTOMER, parent=parent, path="", **company(f"C{c}")
                )
            )
        Organisation.objects.bulk_create(customers, batch_size=500)
        for customer in customers:
            customer.path = f"{customer.parent.path}{customer.pk}/"
        Organisation.objects.bulk_update(customers, ["path"], batch_size=500)

        cloud_admin = User.objects.create_user(
            username="bench-admin",
            email="admin@bench.example",
            password=None,
            organisation=partner,
            role=Role.CLOUD_ADMIN,
        )
        reseller_admin = User.objects.create_user(
            username="bench-reseller",
            email="reseller@bench.example",
            password=None,
            organisation=resellers[0],
            role=Role.RESELLER_ADMIN,
        )

        vendor = Vendor.objects.create(organisation=partner, name="Microsoft", kind=VendorKind.API)
        offers = Offer.objects.bulk_create(
            [
                Offer(vendor=vendor, external_id=f"P{i}:0001", title=f"Offer {i}",
                      kind=OfferKind.ADDON if i % 10 == 9 else OfferKind.SERVICE,
                      category="Productivity", item_code=f"P{i}", currency="EUR",
                      description=f"What offer {i} does")
                for i in range(args.offers)
            ]
        )  # fmt: skip
        combos = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")]
        terms, prices = [], []
        for offer in offers:
            monthly = Decimal(rng.randint(300, 6000)) / 100
            for term, cycle in combos:
                terms.append(OfferTerm(offer=offer, term=term, billing_cycle=cycle))
                erp = monthly * (Decimal("1.2") if term == "P1M" else 1)
                erp *= 12 if cycle == "annual" else 1
                prices.append(
                    VendorPrice(offer=offer, term=term, billing_cycle=cycle, currency="EUR",
                                cost=erp * Decimal("0.9"), list_price=erp,
                                effective_from=today - dt.timedelta(days=400),
                                source=PriceSource.IMPORT)
                )  # fmt: skip
        OfferTerm.objects.bulk_create(terms)
        VendorPrice.objects.bulk_create(prices)
        rule = MarginRule(
            owner=partner,
            tier=Tier.CUSTOMER,
            method=Method.MARKUP_ON_COST,
            value=Decimal(8),
            effective_from=today - dt.timedelta(days=400),
        )
        rule.scope_key = MarginRule.key_for(
            owner_id=partner.pk, tier=rule.tier, target_id=None, subscription_ref="",
            vendor_id=None, category="", offer_id=None, term="", billing_cycle="",
        )  # fmt: skip
        rule.save()

        statuses = [Status.ACTIVE] * 85 + [Status.SUSPENDED] * 5 + [Status.CANCELLED] * 5
        statuses += [Status.EXPIRED] * 3 + [Status.PENDING] * 2
        base_offers = [offer for offer in offers if offer.kind == OfferKind.SERVICE]
        addon_offers = [offer for offer in offers if offer.kind == OfferKind.ADDON]
        batch: list[Subscription] = []
        bases: list[Subscription] = []
        busy_customer = customers[0]

        def flush() -> None:
            Subscription.objects.bulk_create(batch, batch_size=2000)
            bases.extend(item for item in batch if item.parent_id is None)
            batch.clear()

        for index in range(args.subscriptions):
            # a tenth are add-ons of an earlier base subscription of the same customer
            parent = rng.choice(bases[-5000:]) if index % 10 == 9 and bases else None
            customer = parent.customer if parent else rng.choice(customers)
            if index % 1000 == 0:
                customer = busy_customer
            term, cycle = rng.choice(combos)
            start = today - dt.timedelta(days=rng.randint(0, 700))
            failed = index % 100 == 37
            batch.append(
                Subscription(
                    customer=customer,
                    reseller=customer.parent
                    if customer.parent.kind == OrganisationKind.RESELLER
                    else None,
                    offer=rng.choice(addon_offers if parent else base_offers),
                    parent=parent,
                    friendly_name=f"Seats {index}",
                    po_number=f"PO-{index % 997}",
                    quantity=rng.randint(1, 300),
                    term=term,
                    billing_cycle=cycle,
                    status=rng.choice(statuses),
                    is_trial=index % 50 == 0,
                    auto_renew=index % 7 != 0,
                    start_date=start,
                    term_start=start,
                    commitment_end_date=start + dt.timedelta(days=365),
                    vendor_subscription_id=f"sub-{index:06d}",
                    sync_status=SyncStatus.FAILED if failed else SyncStatus.SYNCHRONIZED,
                    sync_error_code="800002" if failed else "",
                    sync_error_message="Offer not available in the market" if failed else "",
                    synced_at=now,
                    created_at=now - dt.timedelta(minutes=args.subscriptions - index),
                    updated_at=now,
                )
            )
            if len(batch) == 2000:
                flush()
        flush()
    return {
        "partner": partner,
        "cloud_admin": cloud_admin,
        "reseller_admin": reseller_admin,
        "busy_customer": busy_customer,
        "count": args.subscriptions,
    }


if __name__ == "__main__":
    main()
