"""Benchmark: a billing run over 100,000 subscriptions with a month of changes.

Builds, in a fresh database, one partner with 10 resellers and 1,000 customers (900 under the
resellers, 100 direct), 50 offers on three terms with vendor prices and margin rules at both
tiers, and 100,000 subscriptions started over the past year (each with its order and seat lot,
as the services write them). October 2026 then holds a month of changes, as accepted by the
vendor: 10% of the subscriptions buy more seats, a third of those remove some again inside the
168-hour window, 1% are suspended and 1% of October's new subscriptions are cancelled in their
window. Then it bills October for every billing account (the 10 resellers and the partner) and
runs it again (nothing changed: nothing may be written). The first run is timed `--runs` times
on the same data (forgetting the lines in between) and the median is reported.

It reports the charge lines written per second and the queries, which must not grow per
subscription (the run reads and writes in chunks of `charges.CHUNK` subscriptions).

    .venv/bin/python bench/billing.py [--quick] [--runs 3] [--subscriptions 100000]
                                      [--database-url postgres://postgres@127.0.0.1:5432/bench]

The last line holds the headline figures as key=value pairs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

MONTH_START = dt.date(2026, 10, 1)
MONTH_END = dt.date(2026, 10, 31)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=None)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--offers", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="10,000 subscriptions")
    parser.add_argument("--runs", type=int, default=3, help="first runs timed (the median)")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()
    if args.subscriptions is None:
        args.subscriptions = 10_000 if args.quick else 100_000

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

    from seatkeeper.billing import charges
    from seatkeeper.billing.models import ChargeLine
    from seatkeeper.core import clock

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor} ({os.environ['DATABASE_URL'].split('://')[0]})")

    started = time.perf_counter()
    with clock.frozen(dt.datetime(2026, 9, 1, tzinfo=dt.UTC)):
        world = build(args)
    print(f"setup: {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh tables have no statistics yet; production's do

    cpu_seconds: list[float] = []  # this process only: the machine may be busy with others

    def run_all() -> tuple[float, int, int, list]:
        runs = []
        with (
            clock.frozen(dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)),
            CaptureQueriesContext(connection) as queries,
        ):
            began, cpu = time.perf_counter(), time.process_time()
            for account in world["accounts"]:
                runs.append(charges.billing_run(account=account, day=MONTH_END))
            seconds = time.perf_counter() - began
        cpu_seconds.append(time.process_time() - cpu)
        return seconds, len(queries), sum(run.lines_created for run in runs), runs

    def forget() -> None:
        """Back to no run at all (the bench only), to time a first run again on the same data."""
        from seatkeeper.billing.models import BillingCycle, BillingRun

        with connection.cursor() as cursor:  # lines refuse deletion through the ORM
            cursor.execute(f"DELETE FROM {ChargeLine._meta.db_table}")  # noqa: S608
        BillingRun.objects.all().delete()
        BillingCycle.objects.all().delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE billing_chargeline")

    attempts = []
    for attempt in range(args.runs):
        if attempt:
            forget()
        attempts.append(run_all())
        print(f"first run {attempt + 1}: {attempts[-1][0]:.1f} s, cpu {cpu_seconds[-1]:.1f} s")
    first_seconds, first_queries, written, runs = sorted(attempts, key=lambda item: item[0])[
        len(attempts) // 2
    ]  # the median run
    first_cpu = sorted(cpu_seconds)[len(cpu_seconds) // 2]
    again_seconds, again_queries, rewritten, _again = run_all()
    subscriptions = sum(run.subscriptions for run in runs)
    problems = sum(len(run.problems) for run in runs)
    kinds = dict(ChargeLine.objects.values_list("kind").annotate(n=django.db.models.Count("pk")))
    print(f"accounts: {len(runs)}; subscriptions read: {subscriptions}; problems: {problems}")
    print(f"lines by kind: {dict(sorted(kinds.items()))}")
    print(
        f"first run: {written} lines in {first_seconds:.1f} s = "
        f"{written / first_seconds:,.0f} lines/s, {subscriptions / first_seconds:,.0f} "
        f"subscriptions/s, {first_queries} queries "
        f"({first_queries * 1000 / subscriptions:.1f} per 1,000 subscriptions)"
    )
    print(f"repeat run: {rewritten} new lines in {again_seconds:.1f} s, {again_queries} queries")
    print(
        f"subscriptions={subscriptions} lines={written} seconds={first_seconds:.1f} "
        f"cpu_seconds={first_cpu:.1f} runs={args.runs} "
        f"charges_per_s={written / first_seconds:.0f} queries={first_queries} "
        f"queries_per_1000_subscriptions={first_queries * 1000 / subscriptions:.2f} "
        f"repeat_seconds={again_seconds:.1f} repeat_new_lines={rewritten} problems={problems}"
    )


def build(args) -> dict:
    from django.db import transaction

    from seatkeeper.accounts.models import Organisation, OrganisationKind
    from seatkeeper.accounts.services import organisation_create
    from seatkeeper.catalog.models import Offer, OfferKind, OfferTerm, Vendor, VendorKind
    from seatkeeper.pricing.models import MarginRule, Method, PriceSource, Tier, VendorPrice
    from seatkeeper.subscriptions.models import (
        LotKind,
        Operation,
        OperationKind,
        OperationState,
        SeatLot,
        Status,
        Subscription,
    )

    rng = random.Random(42)
    utc = dt.UTC

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

        vendor = Vendor.objects.create(organisation=partner, name="Microsoft", kind=VendorKind.API)
        offers = Offer.objects.bulk_create(
            [
                Offer(vendor=vendor, external_id=f"P{i}:0001", title=f"Offer {i}",
                      kind=OfferKind.SERVICE, category="Productivity", item_code=f"P{i}",
                      currency="EUR")
                for i in range(args.offers)
            ]
        )  # fmt: skip
        combos = [("P1Y", "monthly"), ("P1M", "monthly"), ("P1Y", "annual")]
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
                                effective_from=dt.date(2025, 1, 1), source=PriceSource.IMPORT)
                )  # fmt: skip
        OfferTerm.objects.bulk_create(terms)
        VendorPrice.objects.bulk_create(prices)
        rules = []
        for owner, tier, value in [(partner, Tier.RESELLER, 4), (partner, Tier.CUSTOMER, 8)] + [
            (reseller, Tier.CUSTOMER, 5) for reseller in resellers
        ]:
            rule = MarginRule(
                owner=owner, tier=tier, method=Method.MARKUP_ON_COST, value=Decimal(value),
                effective_from=dt.date(2025, 1, 1),
            )  # fmt: skip
            rule.scope_key = MarginRule.key_for(
                owner_id=owner.pk, tier=tier, target_id=None, subscription_ref="",
                vendor_id=None, category="", offer_id=None, term="", billing_cycle="",
            )  # fmt: skip
            rules.append(rule)
        MarginRule.objects.bulk_create(rules)

    counts = {"increase": 0, "decrease": 0, "suspend": 0, "cancel": 0}
    batch = 5000
    for first in range(0, args.subscriptions, batch):
        with transaction.atomic():
            rows, plans = [], []
            for _index in range(first, min(first + batch, args.subscriptions)):
                customer = rng.choice(customers)
                offer = rng.choice(offers)
                term, cycle = rng.choices(combos, weights=[8, 1, 1])[0]
                start = dt.date(2025, 11, 1) + dt.timedelta(days=rng.randint(0, 364))
                if term == "P1M":
                    start = MONTH_START + dt.timedelta(days=rng.randint(0, 30))
                quantity = rng.randint(1, 300)
                rows.append(
                    Subscription(
                        customer=customer,
                        reseller=customer.parent if customer.parent_id != partner.pk else None,
                        offer=offer, friendly_name=f"Sub {_index}", quantity=quantity,
                        term=term, billing_cycle=cycle, status=Status.ACTIVE,
                        start_date=start, term_start=start,
                    )
                )  # fmt: skip
                plans.append((start, quantity, term, cycle))
            Subscription.objects.bulk_create(rows, batch_size=1000)
            lots, operations = [], []
            for subscription, (start, quantity, term, cycle) in zip(rows, plans, strict=True):
                bought = dt.datetime.combine(start, dt.time(), tzinfo=utc)
                lots.append(
                    SeatLot(subscription=subscription, kind=LotKind.PURCHASE, quantity=quantity,
                            original_quantity=quantity, unit_price=Decimal(10), currency="EUR",
                            purchased_at=bought,
                            cancellable_until=bought + dt.timedelta(hours=168))
                )  # fmt: skip
                sequence = 1
                operations.append(
                    Operation(subscription=subscription, sequence=sequence,
                              kind=OperationKind.CREATE, state=OperationState.DONE,
                              requested_by_name="bench", requested_at=bought,
                              payload={"quantity": quantity, "term": term, "billing_cycle": cycle,
                                       "start_date": start.isoformat()})
                )  # fmt: skip
                roll = rng.random()
                earliest = max(0, (start - MONTH_START).days + 1)
                if roll < 0.10 and earliest <= 27:  # more seats, some removed in the window
                    day = MONTH_START + dt.timedelta(days=rng.randint(earliest, 27))
                    moment = dt.datetime.combine(day, dt.time(rng.randint(0, 23)), tzinfo=utc)
                    added = rng.randint(1, 20)
                    sequence += 1
                    lots.append(
                        SeatLot(subscription=subscription, kind=LotKind.INCREASE, quantity=added,
                                original_quantity=added, unit_price=Decimal(10), currency="EUR",
                                purchased_at=moment,
                                cancellable_until=moment + dt.timedelta(hours=168))
                    )  # fmt: skip
                    operations.append(
                        Operation(subscription=subscription, sequence=sequence,
                                  kind=OperationKind.QUANTITY, state=OperationState.DONE,
                                  requested_by_name="bench", requested_at=moment,
                                  payload={"quantity": quantity + added, "previous": quantity})
                    )  # fmt: skip
                    counts["increase"] += 1
                    if rng.random() < 1 / 3:
                        removed = rng.randint(1, added)
                        sequence += 1
                        operations.append(
                            Operation(subscription=subscription, sequence=sequence,
                                      kind=OperationKind.QUANTITY, state=OperationState.DONE,
                                      requested_by_name="bench",
                                      requested_at=moment + dt.timedelta(days=2),
                                      payload={"quantity": quantity + added - removed,
                                               "previous": quantity + added})
                        )  # fmt: skip
                        counts["decrease"] += 1
                elif roll < 0.11:
                    sequence += 1
                    operations.append(
                        Operation(subscription=subscription, sequence=sequence,
                                  kind=OperationKind.SUSPEND, state=OperationState.DONE,
                                  requested_by_name="bench",
                                  requested_at=dt.datetime(2026, 10, 5, tzinfo=utc), payload={})
                    )  # fmt: skip
                    counts["suspend"] += 1
                elif roll < 0.12 and start >= MONTH_START and start.day < 25:
                    sequence += 1
                    operations.append(
                        Operation(subscription=subscription, sequence=sequence,
                                  kind=OperationKind.CANCEL, state=OperationState.DONE,
                                  requested_by_name="bench",
                                  requested_at=bought + dt.timedelta(days=3), payload={})
                    )  # fmt: skip
                    counts["cancel"] += 1
            SeatLot.objects.bulk_create(lots, batch_size=2000)
            Operation.objects.bulk_create(operations, batch_size=2000)
    print(
        f"built: 1 partner, {len(resellers)} resellers, {len(customers)} customers, "
        f"{len(offers)} offers × 3 terms, {args.subscriptions} subscriptions; October: {counts}"
    )
    return {"accounts": [*resellers, partner]}


if __name__ == "__main__":
    main()
