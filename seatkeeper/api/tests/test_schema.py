"""The OpenAPI document says what the API does (the fuzzer in .ci/fuzz checks the rest live)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.conftest import sign_in

LISTS = [
    "/api/v1/organisations/", "/api/v1/users/", "/api/v1/activity/", "/api/v1/offers/",
    "/api/v1/subscriptions/", "/api/v1/subscriptions/{id}/history/", "/api/v1/vendors/",
    "/api/v1/vendors/{id}/refresh/", "/api/v1/price-lists/", "/api/v1/price-lists/{id}/entries/",
    "/api/v1/margin-rules/", "/api/v1/exchange-rates/", "/api/v1/tokens/",
    "/api/v1/provider-accounts/", "/api/v1/billing/charge-lines/", "/api/v1/billing/cycle-days/",
]  # fmt: skip


@pytest.fixture
def document(cast) -> dict:
    response = sign_in(APIClient(), "readonly").get(
        "/api/v1/schema/", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    return response.json()


def resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize("path", LISTS)
def test_every_list_is_documented_as_a_page_with_limit_and_offset(document, path):
    operation = document["paths"][path]["get"]
    page = resolve(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["limit"]["maximum"] == 200 and parameters["limit"]["minimum"] == 1
    assert parameters["offset"]["minimum"] == 0


def test_errors_are_documented_in_the_one_error_shape(document):
    error = document["components"]["schemas"]["ErrorOutput"]
    assert set(error["required"]) == {"code", "message"}
    order = document["paths"]["/api/v1/orders/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "422"} <= set(order)
    for code in ("400", "401", "403", "404", "409", "422"):
        schema = order[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOutput"}
    detail = document["paths"]["/api/v1/subscriptions/{id}/"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(detail)


def test_filters_are_documented_with_their_values_and_bounds(document):
    offers = {p["name"]: p for p in document["paths"]["/api/v1/offers/"]["get"]["parameters"]}
    assert sorted(offers["kind"]["schema"]["enum"]) == ["addon", "application", "custom", "service"]
    listed = document["paths"]["/api/v1/subscriptions/"]["get"]["parameters"]
    statuses = {p["name"]: p for p in listed}["status"]["schema"]["enum"]
    assert "failed" in statuses and "active" in statuses


def test_amounts_and_quantities_are_bounded_in_the_schema(document):
    schemas = document["components"]["schemas"]
    entry = schemas["EntryInputRequest"]["properties"]["unit_price"]
    assert entry["pattern"]  # a decimal as text, at most six places
    line = schemas["OrderLineInputRequest"]["properties"]["quantity"]
    assert (line["minimum"], line["maximum"]) == (1, 100_000)


def test_an_unknown_organisation_kind_or_audience_answers_400(cast):
    api = sign_in(APIClient(), "cloudadmin")
    refused = api.get("/api/v1/organisations/", {"kind": "AAA"})
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["kind"]
    refused = api.get("/api/v1/subscriptions/", {"audience": "everyone"})
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["audience"]


def test_the_partner_has_no_parent_and_the_schema_says_so(cast, document):
    partner = sign_in(APIClient(), "cloudadmin").get(f"/api/v1/organisations/{cast.partner.pk}/")
    assert partner.json()["parent"] is None
    assert document["components"]["schemas"]["OrganisationOutput"]["properties"]["parent"][
        "nullable"
    ]


def test_a_charge_line_filter_beyond_any_id_answers_400(cast):
    api = sign_in(APIClient(), "cloudadmin")
    refused = api.get("/api/v1/billing/charge-lines/", {"subscription": "9" * 25})
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["subscription"]
