"""One filter definition (filters.SubscriptionFilter) for the list page, its exports and the API:
the same parameters give the same rows in all three, and the API's search reaches the external
identifier like the page's."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.utils import translation
from openpyxl import load_workbook

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import OperationKind, Subscription
from seatkeeper.subscriptions.tests.helpers import START, order
from seatkeeper.subscriptions.tests.test_api import api_as


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


@pytest.fixture
def rows(cast, shop, frozen):
    """Four subscriptions that the filters below tell apart."""
    alpha = order(cast, shop, name="Alpha", quantity=5)
    beta = order(cast, shop, name="Beta", quantity=2)
    services.subscription_suspend(actor=cast.reseller_admin, subscription=beta)
    gamma = order(cast, shop, name="Gamma", quantity=3)
    services.subscription_edit_details(
        actor=cast.reseller_admin,
        subscription=gamma,
        friendly_name="Gamma",
        po_number="PO-1",
        external_identifier="ERP-7781",
    )
    order(cast, shop, name="Phones", quantity=2, offer=shop.world.teams, parent=alpha)
    return cast


def _page_names(client, url: str, params: dict) -> list[str]:
    response = client.get(url, {**params, "size": 100, "sort": "friendly_name"})
    assert response.status_code == 200, response.content
    body = response.content.decode()
    ids = [int(pk) for pk in re.findall(r'data-subscription="(\d+)"', body)]
    names = dict(Subscription.objects.filter(pk__in=ids).values_list("pk", "friendly_name"))
    return [names[pk] for pk in ids]


def _csv_names(client, url: str, params: dict) -> list[str]:
    response = client.get(url, {**params, "export": "csv", "sort": "friendly_name"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return [row["Friendly name"] for row in csv.DictReader(io.StringIO(text))]


def _xlsx_names(client, url: str, params: dict) -> list[str]:
    response = client.get(url, {**params, "export": "xlsx", "sort": "friendly_name"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, *data = list(sheet.iter_rows(values_only=True))
    column = list(header).index("Friendly name")
    return [row[column] for row in data]


def _api_names(api, params: dict) -> list[str]:
    response = api.get("/api/v1/subscriptions/", {**params, "limit": 200})
    assert response.status_code == 200, response.content
    return sorted(item["friendly_name"] for item in response.json()["results"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Alpha", "Beta", "Gamma", "Phones"]),
        ({"status": "suspended"}, ["Beta"]),
        ({"status": "active"}, ["Alpha", "Gamma", "Phones"]),
        ({"section": "addon"}, ["Phones"]),
        ({"q": "erp-77"}, ["Gamma"]),
        ({"q": "a", "status": "active"}, ["Alpha", "Gamma", "Phones"]),
        ({"q": "nothing matches"}, []),
    ],
)
def test_the_list_its_exports_and_the_api_give_the_same_rows(rows, client, params, expected):
    cast = rows
    sign_in(client, "reselleradmin")
    for url in ("/subscriptions/", f"/customers/{cast.customer.pk}/subscriptions/"):
        assert _page_names(client, url, params) == expected, url
        assert _csv_names(client, url, params) == expected, url
        assert _xlsx_names(client, url, params) == expected, url
    assert _api_names(api_as(cast.reseller_admin), params) == expected


def test_the_page_and_the_api_take_the_customer_parameter_alike(rows, client):
    cast = rows
    sign_in(client, "reselleradmin")
    params = {"customer": cast.customer.pk, "status": "suspended"}
    assert _page_names(client, "/subscriptions/", params) == ["Beta"]
    assert _csv_names(client, "/subscriptions/", params) == ["Beta"]
    assert _api_names(api_as(cast.reseller_admin), params) == ["Beta"]
    # A customer the person may not see is not found, on the page as on the API.
    hidden = cast.customer_three
    assert client.get("/subscriptions/", {"customer": hidden.pk}).status_code == 404
    api = api_as(cast.reseller_admin)
    assert api.get("/api/v1/subscriptions/", {"customer": hidden.pk}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"section": "x"}, "section"),
        ({"customer": "1.5"}, "customer"),
    ],
)
def test_an_unknown_value_answers_400_on_the_page_its_export_and_the_api(
    rows, client, params, field
):
    sign_in(client, "reselleradmin")
    page = client.get("/subscriptions/", params)
    assert page.status_code == 400 and field in page.content.decode()
    assert client.get("/subscriptions/", {**params, "export": "xlsx"}).status_code == 400
    api = api_as(rows.reseller_admin).get("/api/v1/subscriptions/", params)
    assert api.status_code == 400 and list(api.json()["fields"]) == [field]


def test_the_export_links_carry_the_filters_of_an_in_place_answer(rows, client):
    sign_in(client, "reselleradmin")
    answer = client.get(
        "/subscriptions/", {"status": "active", "q": "Gam"}, headers={"HX-Request": "true"}
    )
    body = answer.content.decode()
    assert 'id="table-region"' in body and "<html" not in body
    links = re.findall(r'data-export="(csv|xlsx)" href="([^"]+)"', body)
    assert [kind for kind, _href in links] == ["csv", "xlsx"]
    for kind, href in links:
        href = href.replace("&amp;", "&")
        assert "status=active" in href and "q=Gam" in href and f"export={kind}" in href
    csv_href = links[0][1].replace("&amp;", "&")
    # The test client drops a path's query string when given data: pass the link's own.
    params = dict(parse_qsl(urlsplit(csv_href).query))
    assert _csv_names(client, "/subscriptions/", params) == ["Gamma"]


def test_the_schema_describes_the_filters_from_the_filter_set(client, cast):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = {
        parameter["name"]: parameter
        for parameter in schema["paths"]["/api/v1/subscriptions/"]["get"]["parameters"]
    }
    assert {"status", "section", "q", "customer", "limit", "offset", "audience"} <= set(parameters)
    assert "failed" in parameters["status"]["schema"]["enum"]
    assert "addon" in parameters["section"]["schema"]["enum"]
    assert "external identifier" in parameters["q"]["description"]
    organisations = {
        parameter["name"]
        for parameter in schema["paths"]["/api/v1/organisations/"]["get"]["parameters"]
    }
    assert {"q", "kind"} <= organisations


def test_ending_a_subscription_is_not_called_cancel(cast, shop, client, frozen):
    assert str(OperationKind.CANCEL.label) == "End subscription"
    with translation.override("fr"):
        assert str(OperationKind.CANCEL.label) == "Résilier"
    subscription = order(cast, shop)
    services.subscription_cancel(actor=cast.reseller_admin, subscription=subscription)
    sign_in(client, "reselleradmin")
    history = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert "<td>End subscription</td>" in history and "<td>Cancel</td>" not in history
    client.post("/profile/language/", {"language": "fr"})
    history = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert "<td>Résilier</td>" in history
