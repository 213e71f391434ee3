"""The pricing and catalog API: scoping, whose prices each caller sees, validation, quotes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from seatkeeper.conftest import sign_in
from seatkeeper.pricing import services
from seatkeeper.pricing.models import MarginRule, Method, PriceListEntry, Tier


def api_as(username: str) -> APIClient:
    return sign_in(APIClient(), username)


@pytest.fixture
def margins(cast, world):
    services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(5),
    )  # fmt: skip
    services.margin_rule_set(
        actor=cast.reseller_admin, owner=cast.reseller, tier=Tier.CUSTOMER,
        method=Method.MARGIN, value=Decimal(4),
    )  # fmt: skip
    return world


def price(client, world, customer, **extra):
    params = {"offer": world.basic.pk, "customer": customer.pk, "term": "P1Y",
              "billing_cycle": "annual", "quantity": 2, **extra}  # fmt: skip
    return client.get("/api/v1/prices/", params)


@pytest.mark.parametrize(
    ("username", "audiences"),
    [
        ("cloudadmin", ["partner_cost", "reseller_price", "customer_price"]),
        ("reselleradmin", ["reseller_price", "customer_price"]),
        ("customeradmin", ["customer_price"]),
    ],
)
def test_each_caller_sees_the_tiers_that_are_theirs_to_see(cast, margins, username, audiences):
    response = price(api_as(username), margins, cast.customer)
    assert response.status_code == 200, response.json()
    tiers = response.json()["tiers"]
    assert [tier["audience"] for tier in tiers] == audiences
    customer_tier = tiers[-1]
    assert customer_tier["label"] == "Customer price"
    assert customer_tier["unit_price"] == {"amount": "59.0625", "currency": "GBP"}
    assert customer_tier["total"] == {"amount": "118.13", "currency": "GBP"}
    if username == "customeradmin":
        # the working would show the reseller's cost; the customer sees only which rule
        assert "56.70" not in customer_tier["explanation"]
        assert response.json()["margins"] == []
    else:
        assert "margin 4% over reseller price £56.70" in customer_tier["explanation"]


def test_another_trees_customer_or_offer_answers_404(cast, margins):
    assert price(api_as("reselleradmin"), margins, cast.customer_three).status_code == 404
    assert price(api_as("outsider"), margins, cast.customer).status_code == 404
    assert api_as("outsider").get(f"/api/v1/offers/{margins.basic.pk}/").status_code == 404


def test_the_offer_list_filters_and_is_scoped(cast, world):
    response = api_as("customeradmin").get("/api/v1/offers/", {"kind": "addon"})
    assert [row["item_code"] for row in response.json()["results"]] == [
        "UC-REC", world.teams.item_code,
    ]  # fmt: skip
    assert api_as("outsider").get("/api/v1/offers/").json()["count"] == 0


def test_a_reseller_admin_sets_a_rule_for_its_customer_through_the_api(cast, world):
    client = api_as("reselleradmin")
    body = {"tier": "customer", "method": "markup", "value": "5", "target": cast.customer.pk}
    response = client.post("/api/v1/margin-rules/", body, format="json")
    assert response.status_code == 201, response.json()
    assert client.get("/api/v1/margin-rules/").json()["results"][0]["id"] == response.json()["id"]
    # another reseller's customer: 404; the partner's reseller tier: refused
    other = {**body, "target": cast.customer_three.pk}
    assert client.post("/api/v1/margin-rules/", other, format="json").status_code == 404
    reseller_tier = {**body, "tier": "reseller", "target": None}
    assert client.post("/api/v1/margin-rules/", reseller_tier, format="json").status_code == 403
    assert MarginRule.objects.count() == 1


def test_a_guardrail_refusal_is_a_clear_400_and_writes_nothing(cast, world):
    body = {"tier": "reseller", "method": "discount", "value": "50"}
    response = api_as("cloudadmin").post("/api/v1/margin-rules/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "guardrail"
    assert "below the partner cost" in response.json()["message"]
    assert MarginRule.objects.count() == 0


def test_bad_input_is_refused_field_by_field(cast, world):
    response = api_as("cloudadmin").post(
        "/api/v1/margin-rules/", {"tier": "nobody", "method": "markup", "value": "x"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"tier", "value"}


def test_price_list_import_checks_then_imports_all_lines(cast, world):
    client = api_as("cloudadmin")
    created = client.post(
        "/api/v1/price-lists/", {"name": "Global", "currency": "GBP"}, format="json"
    )
    assert created.status_code == 201
    list_id = created.json()["id"]
    text = f"item_code,term,billing_cycle,unit_price\n{world.basic.item_code},P1Y,annual,1\n"
    dry = client.post(f"/api/v1/price-lists/{list_id}/import/", {"csv": text, "dry_run": True},
                      format="json")  # fmt: skip
    assert dry.json()["lines"][0]["errors"]
    failed = client.post(f"/api/v1/price-lists/{list_id}/import/", {"csv": text}, format="json")
    assert failed.status_code == 400
    good = text.replace(",1\n", ",58.50\n")
    done = client.post(f"/api/v1/price-lists/{list_id}/import/", {"csv": good}, format="json")
    assert done.json() == {"imported": 1}
    assert PriceListEntry.objects.count() == 1
    entries = client.get(f"/api/v1/price-lists/{list_id}/entries/").json()["results"]
    assert entries[0]["unit_price"] == "58.5000"
    assert api_as("reselleradmin").get(f"/api/v1/price-lists/{list_id}/entries/").status_code == 404


def test_a_quote_through_the_api(cast, margins):
    body = {
        "offer": margins.basic.pk, "customer": cast.customer.pk, "quantity": 10, "term": "P1Y",
        "billing_cycle": "monthly", "period_start": "2027-03-01", "period_end": "2027-04-01",
        "purchased_at": "2027-01-01T09:00:00Z", "new_quantity": 12,
        "at": "2027-03-17T10:00:00Z",
    }  # fmt: skip
    response = api_as("reselleradmin").post("/api/v1/quotes/", body, format="json")
    assert response.status_code == 200, response.json()
    quote = response.json()
    assert quote["lines"][0]["days"] == 15 and quote["lines"][0]["period_days"] == 31
    assert quote["adjustment_now"]["currency"] == "GBP"
    assert quote["new_periodic_total"]["amount"] == "59.06"
    refused = api_as("customeradmin").post(
        "/api/v1/quotes/", {**body, "audience": "reseller_price"}, format="json"
    )
    assert refused.status_code == 403


def test_the_openapi_document_builds(cast, world):
    response = api_as("cloudadmin").get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/quotes/" in response.content


def test_a_catalog_refresh_starts_in_the_worker_and_is_listed(
    cast, world, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(
        "seatkeeper.providers.registry.get_provider", lambda account: world.provider
    )
    url = f"/api/v1/vendors/{world.vendor.pk}/refresh/"
    assert api_as("operator").post(url).status_code == 403
    assert api_as("outsider").post(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as("cloudadmin").post(url).status_code == 202
    runs = api_as("cloudadmin").get(url).json()["results"]
    assert [run["status"] for run in runs] == ["completed", "completed"]
    assert runs[0]["unchanged_count"] == 3


def test_a_reseller_cannot_price_another_resellers_subscription_through_its_own_customer(
    cast, world
):
    # given a subscription of reseller two's customer
    from seatkeeper.pricing.tests.test_services import subscription_of

    foreign = subscription_of(cast.customer_three, world.basic)
    body = {
        "tier": "customer",
        "method": "markup",
        "value": "0",
        "target": cast.customer.pk,
        "subscription_ref": str(foreign.pk),
    }
    # when reseller one names it with its own customer as the target
    response = api_as("reselleradmin").post("/api/v1/margin-rules/", body, format="json")
    # then it is refused on the field, and nothing is written
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"subscription_ref"}
    assert MarginRule.objects.count() == 0
