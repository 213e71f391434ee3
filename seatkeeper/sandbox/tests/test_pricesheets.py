"""The license-based price sheet on the sandbox's own host: the documented columns, the
catalog's own prices, the zipped variant, history by month and the refusals."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

from seatkeeper.sandbox import terms
from seatkeeper.sandbox.catalog import product_terms
from seatkeeper.sandbox.catalog_data import PRODUCTS_BY_ID
from seatkeeper.sandbox.testing import SandboxInfo

SHEET = "/v1.0/sales/pricesheets(Market='{market}',PricesheetView='{view}')/$value"


def _sheet(market: str = "FR", view: str = "updatedlicensebased") -> str:
    return SHEET.format(market=market, view=view)


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_sheet_carries_the_catalogs_prices_in_the_markets_currency(
    shared_sandbox: SandboxInfo,
) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = client.get(_sheet("FR"), headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, like Excel's
    rows = _rows(response.content)
    basic = PRODUCTS_BY_ID["CFQ7TTC0LH18"]
    mine = [row for row in rows if row["ProductId"] == basic.id]
    assert len(mine) == len(product_terms(basic))
    annual = next(r for r in mine if (r["TermDuration"], r["BillingPlan"]) == ("P1Y", "Annual"))
    unit, erp = terms.term_price(basic.monthly_erp_usd, "P1Y", "annual", "EUR")
    assert (annual["Currency"], Decimal(annual["UnitPrice"]), Decimal(annual["ERP Price"])) == (
        "EUR",
        unit,
        erp,
    )
    assert annual["Market"] == "FR" and annual["EffectiveEndDate"] == ""
    assert annual["EffectiveStartDate"].endswith("-01T00:00:00Z")


def test_zipped_on_request_and_a_past_month_is_dated_to_that_month(
    shared_sandbox: SandboxInfo,
) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = client.get(
            _sheet("GB"),
            params={"timeline": "history", "month": "202602"},
            headers={"Accept-Encoding": "deflate"},
        )
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        (name,) = archive.namelist()
        rows = _rows(archive.read(name))
    assert name.endswith(".csv") and rows
    assert {(r["Currency"], r["EffectiveStartDate"], r["EffectiveEndDate"]) for r in rows} == {
        ("GBP", "2026-02-01T00:00:00Z", "2026-02-28T23:59:59Z")
    }


def test_refusals(shared_sandbox: SandboxInfo) -> None:
    admin = shared_sandbox.admin
    with shared_sandbox.client(admin.access_token(app_only=True)) as client:
        refused = client.get(_sheet())
    assert refused.status_code == 403 and refused.json()["code"] == 900329  # App+User only
    with shared_sandbox.client(admin.access_token()) as client:
        assert client.get(_sheet("FRA")).status_code == 400
        assert client.get(_sheet(view="nope")).status_code == 400
        assert client.get(_sheet(), params={"timeline": "history"}).status_code == 400
        assert client.get(_sheet(), params={"timeline": "later"}).status_code == 400
        assert client.get(_sheet(), params={"month": "202601"}).status_code == 400
        assert client.get("/v1.0/sales/fxrates(Month='202601')/$value").status_code == 404
        other = client.get(_sheet(view="azure_consumption"), headers={"Accept-Encoding": "x"})
    assert other.status_code == 200 and _rows(other.content) == []  # the header only
