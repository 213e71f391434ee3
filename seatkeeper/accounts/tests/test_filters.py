"""The organisations list, its CSV export and the API's list read one filter definition
(filters.OrganisationFilter): the same parameters give the same rows in the three."""

from __future__ import annotations

import csv
import io
import re

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts import services
from seatkeeper.conftest import sign_in


def _api(user) -> APIClient:
    _token, plain = services.api_token_create(actor=user, name="tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return api


def _page_names(client, params: dict) -> list[str]:
    response = client.get("/organisations/", {**params, "size": 100})
    assert response.status_code == 200
    region = response.content.decode().split('id="table-region"', 1)[1]
    return sorted(re.findall(r'<a href="/organisations/\d+/">([^<]+)</a>', region))


def _csv_names(client, params: dict) -> list[str]:
    response = client.get("/organisations/", {**params, "export": "csv"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return sorted(row["Company name"] for row in csv.DictReader(io.StringIO(text)))


def _api_names(api, params: dict) -> list[str]:
    response = api.get("/api/v1/organisations/", {**params, "limit": 200})
    assert response.status_code == 200
    return sorted(item["name"] for item in response.json()["results"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "customer"}, ["Customer One", "Customer Two"]),
        ({"q": "two"}, ["Customer Two"]),
        ({"kind": "reseller", "q": "one"}, ["Reseller One"]),
    ],
)
def test_the_list_its_export_and_the_api_give_the_same_rows(cast, client, params, expected):
    sign_in(client, "reselleradmin")
    assert _page_names(client, params) == expected
    assert _csv_names(client, params) == expected
    assert _api_names(_api(cast.reseller_admin), params) == expected


def test_an_unknown_kind_answers_400_everywhere(cast, client):
    sign_in(client, "reselleradmin")
    assert client.get("/organisations/", {"kind": "bogus"}).status_code == 400
    assert client.get("/organisations/", {"kind": "bogus", "export": "csv"}).status_code == 400
    response = _api(cast.reseller_admin).get("/api/v1/organisations/", {"kind": "bogus"})
    assert response.status_code == 400 and list(response.json()["fields"]) == ["kind"]


def test_the_export_link_carries_the_filters_of_an_in_place_answer(cast, client):
    sign_in(client, "reselleradmin")
    answer = client.get("/organisations/", {"kind": "customer"}, headers={"HX-Request": "true"})
    href = re.search(r'data-export="csv" href="([^"]+)"', answer.content.decode()).group(1)
    assert "kind=customer" in href and "export=csv" in href
