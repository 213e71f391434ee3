"""CSV and XLSX exports of the subscription lists: every matching row, the list's filters and
sort, prices for the viewer, formulas defused, and queries that do not grow with the rows."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.tests.helpers import START, order


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_every_row_with_prices_for_the_viewer(cast, shop, client, frozen):
    order(cast, shop, name="Alpha", quantity=5)
    order(cast, shop, name="Beta", quantity=2)
    url = f"/customers/{cast.customer.pk}/subscriptions/?export=csv&sort=friendly_name&size=25"
    response = sign_in(client, "reselleradmin").get(url)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert [row["Friendly name"] for row in rows] == ["Alpha", "Beta"]
    assert rows[0]["Price per billing period (Reseller price)"] == "22.50"
    assert rows[0]["Currency"] == "GBP" and rows[0]["Provider"] == "Microsoft"
    assert rows[0]["Status"] == "Active" and rows[0]["Provisioning"] == "Synchronized"
    customer_rows = _csv(sign_in(client, "customeradmin").get(url))
    assert "Price per billing period (Customer price)" in customer_rows[0]


def test_exports_follow_the_filters_and_scope(cast, shop, client, frozen):
    kept = order(cast, shop, name="Kept")
    order(cast, shop, name="Other")
    services.subscription_suspend(actor=cast.reseller_admin, subscription=kept)
    rows = _csv(sign_in(client, "reselleradmin").get("/subscriptions/?export=csv&status=suspended"))
    assert [row["Friendly name"] for row in rows] == ["Kept"]
    assert (
        _csv(sign_in(client, "cloudadmin").get("/subscriptions/?export=csv&q=other"))[0]["Customer"]
        == "Customer One"
    )
    assert client.get("/subscriptions/?export=csv&q=nothing-matches").status_code == 200
    outsider = sign_in(client, "outsider")
    assert _csv(outsider.get("/subscriptions/?export=csv")) == []


def test_formulas_are_defused(cast, shop, client, frozen):
    order(cast, shop, name='=HYPERLINK("http://evil")')
    rows = _csv(sign_in(client, "reselleradmin").get("/subscriptions/?export=csv"))
    assert rows[0]["Friendly name"].startswith("'=")


def test_formulas_after_a_separator_are_defused_too(cast, shop, client, frozen):
    # given a name a French Excel splits on ";" into "ok" and a formula
    order(cast, shop, name="ok;=1+1, -2+3")
    # when
    rows = _csv(sign_in(client, "reselleradmin").get("/subscriptions/?export=csv"))
    # then every piece that could start a cell starts with an apostrophe, numbers stay numbers
    assert rows[0]["Friendly name"] == "ok;'=1+1,' -2+3"
    for piece in re.split(r"[,;\t\r\n]", rows[0]["Friendly name"]):
        assert not piece.strip().startswith(("=", "+", "-", "@"))


def test_xlsx_export_opens_as_a_workbook(cast, shop, client, frozen):
    order(cast, shop, name="Alpha", quantity=5)
    order(cast, shop, name="Beta", quantity=3)
    response = sign_in(client, "reselleradmin").get("/subscriptions/?export=xlsx&sort=quantity")
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    header = rows[0]
    assert "Friendly name" in header and "Price per billing period (Reseller price)" in header
    names = [row[header.index("Friendly name")] for row in rows[1:]]
    assert names == ["Beta", "Alpha"]
    assert rows[2][header.index("Quantity")] == 5
    assert float(rows[2][header.index("Price per billing period (Reseller price)")]) == 22.5


def test_export_queries_do_not_grow_with_rows(cast, shop, client, frozen):
    order(cast, shop, name="One")
    sign_in(client, "reselleradmin")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            _csv(client.get("/subscriptions/?export=csv"))
        return len(queries)

    few = count()
    for n in range(5):
        order(cast, shop, name=f"More {n}")
    assert count() == few
