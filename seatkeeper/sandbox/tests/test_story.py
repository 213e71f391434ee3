"""The world `./dev run` serves (``--seed story``): the demo partner's customers' tenants."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from seatkeeper.sandbox import story
from seatkeeper.sandbox.catalog_data import PRODUCTS_BY_ID
from seatkeeper.sandbox.generator import GeneratorOptions, generate
from seatkeeper.sandbox.store import Store

START = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


def _world(path: Path) -> tuple[list[dict], list[dict], list[tuple]]:
    generate(path, GeneratorOptions(seed="story"), start=START)
    store = Store(path / "sandbox.sqlite3")
    try:
        customers = [json.loads(d) for (d,) in store.all("SELECT data FROM customers ORDER BY 1")]
        subs = [json.loads(d) for (d,) in store.all("SELECT data FROM subscriptions ORDER BY 1")]
        licences = [
            tuple(r)
            for r in store.all(
                "SELECT customer_id, user_id, sku_guid FROM licenses ORDER BY 1, 2, 3"
            )
        ]
    finally:
        store.close()
    return customers, subs, licences


def test_the_story_world_holds_the_demo_companies_and_is_the_same_every_time(tmp_path):
    customers, subs, licences = _world(tmp_path / "a")
    assert (customers, subs, licences) == _world(tmp_path / "b")
    # Every company that exists at Microsoft has its tenant, under its own name and domain,
    # in France or the United Kingdom; the new customers have none yet.
    expected = {c.legal_name: c for c in story.COMPANIES if c.has_tenant}
    assert len(expected) == 38
    by_name = {c["companyProfile"]["companyName"]: c for c in customers}
    assert set(by_name) == set(expected)
    for name, company in expected.items():
        profile = by_name[name]["companyProfile"]
        assert profile["domain"] == f"{company.domain_prefix}.onmicrosoft.com"
        assert profile["address"]["country"] == company.country in ("FR", "GB")
        refused = by_name[name].get("_agreementRequired", False)
        assert refused is company.agreement_missing
    # A few hundred subscriptions in euros and pounds, with a story
    assert len(subs) >= 150
    assert {s["currency"] for s in subs} == {"EUR", "GBP"}
    statuses = Counter(s["status"] for s in subs)
    assert statuses["suspended"] == 1 and statuses["deleted"] == 1
    today = START.date()
    started = [dt.date.fromisoformat(s["creationDate"][:10]) for s in subs]
    this_week = [d for d in started if today - d < dt.timedelta(days=7)]
    assert len(this_week) >= 5  # their cancellation window closes in the coming days
    renewing = [
        s
        for s in subs
        if s["termDuration"] == "P1Y"
        and dt.date.fromisoformat(s["_sandbox"]["termEnd"]) - today < dt.timedelta(days=31)
    ]
    assert len(renewing) >= 7
    assert all(d <= today for d in started)
    # People hold licences, never more than the seats bought, and some seats are free
    seats: Counter = Counter()
    for s in subs:
        if s["status"] == "active":
            sku = PRODUCTS_BY_ID[s["_sandbox"]["productId"]].sku_guid
            seats[(s["_sandbox"]["customerId"], sku)] += s["quantity"]
    held = Counter((customer_id, sku) for customer_id, _user, sku in licences)
    assert len(held) >= 100
    assert all(count <= seats[key] for key, count in held.items())
    assert sum(held.values()) < sum(seats.values())
