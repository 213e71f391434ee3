"""Benchmark: the pricing engine over 100,000 subscriptions across 1,000 customers.

Builds, in a fresh database, one partner with 10 resellers and 1,000 customers (900 under the
resellers, 100 direct), 200 offers with three terms each and a vendor price in another currency
for a quarter of them (so an exchange rate applies), and layered pricing: partner rules for all
resellers and per reseller narrowed by category, a rule per reseller for its customers, 300
customer rules, 500 single-subscription rules, a global price list covering a third of the
offers and 50 customer price lists. Then it prices 100,000 subscriptions (random offer, term,
quantity and customer) twice: the engine alone (`PricingContext.price_many`) and the billing
run's path (`quotes.period_charges`, which loads one context per partner). It reports the
query count of each phase (loading must be a fixed handful; pricing must issue none) and
prices per second.

    .venv/bin/python bench/pricing.py [--subscriptions 100000] [--customers 1000]
                                      [--database-url postgres://postgres@127.0.0.1:5432/bench]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()

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

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor} ({os.environ['DATABASE_URL'].split('://')[0]})")

    started = time.perf_counter()
    world = build(args)
    print(f"setup: {time.perf_counter() - started:.1f} s")

    from seatkeeper.pricing.engine import PriceRequest, PricingContext
    from seatkeeper.pricing.quotes import SubscriptionFacts, period_charges

    rng = random.Random(7)
    day = dt.date(2027, 1, 1)
    subscriptions = []
    for index in range(args.subscriptions):
        offer_id, term, cycle = rng.choice(world["offer_terms"])
        subscriptions.append(
            SubscriptionFacts(
                offer_id=offer_id,
                customer_id=rng.choice(world["customers"]),
                quantity=rng.randint(1, 300),
                term=term,
                billing_cycle=cycle,
                period_start=day,
                period_end=dt.date(2027, 2, 1) if cycle == "monthly" else dt.date(2028, 1, 1),
                purchased_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
                subscription_ref=f"S-{index}",
            )
        )

    with CaptureQueriesContext(connection) as load_queries:
        load_started = time.perf_counter()
        context = PricingContext.load(partner=world["partner"])
        load_seconds = time.perf_counter() - load_started
    requests = [
        PriceRequest(
            offer_id=facts.offer_id,
            customer_id=facts.customer_id,
            term=facts.term,
            billing_cycle=facts.billing_cycle,
            on=facts.period_start,
            quantity=facts.quantity,
            subscription_ref=facts.subscription_ref,
        )
        for facts in subscriptions
    ]
    with CaptureQueriesContext(connection) as price_queries:
        price_started = time.perf_counter()
        priced = context.price_many(requests)
        price_seconds = time.perf_counter() - price_started
    with CaptureQueriesContext(connection) as charge_queries:
        charge_started = time.perf_counter()
        charges = period_charges(facts=subscriptions)  # loads its own context per partner
        charge_seconds = time.perf_counter() - charge_started

    sources = {}
    for breakdown in priced:
        source = str(breakdown.customer_price.source)
        sources[source] = sources.get(source, 0) + 1
    total = sum(charge.amount.amount for charge in charges if charge.amount.currency == "EUR")
    n = len(subscriptions)
    print(f"context load: {len(load_queries)} queries, {load_seconds * 1000:.0f} ms")
    print(
        f"engine: {n} prices in {price_seconds:.2f} s = {n / price_seconds:,.0f} prices/s, "
        f"{len(price_queries)} queries"
    )
    print(
        f"billing run (period_charges, context load included): {n} charges in "
        f"{charge_seconds:.2f} s = "
        f"{n / charge_seconds:,.0f} charges/s, {len(charge_queries)} queries"
    )
    print(f"customer price sources: {dict(sorted(sources.items()))}")
    print(f"sum of EUR cycle fees: {total:,.2f}")


def build(args) -> dict:
    from django.db import transaction

    from seatkeeper.accounts.models import Organisation, OrganisationKind
    from seatkeeper.accounts.services import organisation_create
    from seatkeeper.catalog.models import Offer, OfferKind, OfferTerm, Vendor, VendorKind
    from seatkeeper.core import clock
    from seatkeeper.pricing.models import (
        ExchangeRate,
        MarginRule,
        Method,
        PriceList,
        PriceListEntry,
        PriceSource,
        Tier,
        VendorPrice,
    )

    rng = random.Random(42)
    today = clock.today()

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
        categories = ["Productivity", "Security", "Dynamics", "Teams"]
        offers = Offer.objects.bulk_create(
            [
                Offer(vendor=vendor, external_id=f"P{i}:0001", title=f"Offer {i}",
                      kind=OfferKind.SERVICE, category=categories[i % 4], item_code=f"P{i}",
                      currency="EUR")
                for i in range(args.offers)
            ]
        )  # fmt: skip
        combos = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")]
        terms, prices = [], []
        for offer in offers:
            monthly = Decimal(rng.randint(300, 6000)) / 100
            currency = "USD" if offer.pk % 4 == 0 else "EUR"
            for term, cycle in combos:
                terms.append(OfferTerm(offer=offer, term=term, billing_cycle=cycle))
                erp = monthly * (Decimal("1.2") if term == "P1M" else 1)
                erp *= 12 if cycle == "annual" else 1
                prices.append(
                    VendorPrice(offer=offer, term=term, billing_cycle=cycle, currency=currency,
                                cost=erp * Decimal("0.9"), list_price=erp, effective_from=today,
                                source=PriceSource.IMPORT)
                )  # fmt: skip
        OfferTerm.objects.bulk_create(terms)
        VendorPrice.objects.bulk_create(prices)
        ExchangeRate.objects.create(
            organisation=partner, base_currency="USD", quote_currency="EUR",
            rate=Decimal("0.92"), effective_from=today, source=PriceSource.MANUAL,
        )  # fmt: skip

        rules = []

        def rule(**values):
            values.setdefault("target", None)
            values.setdefault("effective_from", today)
            item = MarginRule(**values)
            item.scope_key = MarginRule.key_for(
                owner_id=item.owner.pk, tier=item.tier,
                target_id=item.target.pk if item.target else None,
                subscription_ref=item.subscription_ref, vendor_id=None,
                category=item.category, offer_id=item.offer.pk if item.offer else None,
                term=item.term, billing_cycle=item.billing_cycle,
            )  # fmt: skip
            rules.append(item)

        rule(owner=partner, tier=Tier.RESELLER, method=Method.MARKUP_ON_COST, value=Decimal(4))
        rule(owner=partner, tier=Tier.CUSTOMER, method=Method.MARKUP_ON_COST, value=Decimal(8))
        for reseller in resellers:
            rule(owner=partner, tier=Tier.RESELLER, target=reseller, category="Security",
                 method=Method.MARKUP_ON_COST, value=Decimal(6))  # fmt: skip
            rule(owner=reseller, tier=Tier.CUSTOMER, method=Method.MARGIN, value=Decimal(5))
        for customer in rng.sample(customers, 300):
            rule(owner=customer.parent, tier=Tier.CUSTOMER, target=customer,
                 method=Method.DISCOUNT_OFF_LIST, value=Decimal(2))  # fmt: skip
        for index in rng.sample(range(args.subscriptions), 500):
            customer = rng.choice(customers)
            rule(owner=customer.parent, tier=Tier.CUSTOMER, target=customer,
                 subscription_ref=f"S-{index}", method=Method.MARKUP_ON_COST,
                 value=Decimal(3))  # fmt: skip
        MarginRule.objects.bulk_create(rules)

        global_list = PriceList.objects.create(organisation=partner, name="Global", currency="EUR")
        customer_lists = [
            PriceList.objects.create(organisation=partner, customer=customer, name=customer.name,
                                     currency="EUR")
            for customer in rng.sample(customers, 50)
        ]  # fmt: skip
        entries = []
        by_key = {(p.offer_id, p.term, p.billing_cycle): p for p in prices}
        for offer in offers[::3]:
            for term, cycle in combos:
                price = by_key[(offer.pk, term, cycle)]
                amount = price.list_price * (Decimal("0.92") if price.currency == "USD" else 1)
                entries.append(
                    PriceListEntry(price_list=global_list, offer=offer, term=term,
                                   billing_cycle=cycle, unit_price=amount * Decimal("0.99"),
                                   effective_from=today, source=PriceSource.CSV)
                )  # fmt: skip
        for price_list in customer_lists:
            for offer in rng.sample(offers, 20):
                price = by_key[(offer.pk, "P1Y", "annual")]
                amount = price.list_price * (Decimal("0.92") if price.currency == "USD" else 1)
                entries.append(
                    PriceListEntry(price_list=price_list, offer=offer, term="P1Y",
                                   billing_cycle="annual", unit_price=amount * Decimal("0.97"),
                                   effective_from=today, source=PriceSource.CSV)
                )  # fmt: skip
        PriceListEntry.objects.bulk_create(entries)

    print(
        f"built: 1 partner, {len(resellers)} resellers, {len(customers)} customers, "
        f"{len(offers)} offers × 3 terms, {len(rules)} rules, {len(entries)} price-list entries"
    )
    return {
        "partner": partner,
        "customers": [customer.pk for customer in customers],
        "offer_terms": [(offer.pk, term, cycle) for offer in offers for term, cycle in combos],
    }


if __name__ == "__main__":
    main()
