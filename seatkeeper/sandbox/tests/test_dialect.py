"""The dialect: the sandbox's answers shaped like what Partner Center really sends, on request."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from seatkeeper.sandbox.dialect import Dialect
from seatkeeper.sandbox.store import parse_iso
from seatkeeper.sandbox.testing import SandboxInfo

LONG = 400 * 24 * 3600
OFFSET_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture
def pc(shared_sandbox: SandboxInfo) -> Iterator[httpx.Client]:
    """A client on the module's sandbox; every test starts and ends in the clean dialect."""
    shared_sandbox.admin.set_dialect(reset=True)
    with shared_sandbox.client(shared_sandbox.admin.access_token(lifetime=LONG)) as client:
        yield client
    shared_sandbox.admin.set_dialect(reset=True)


def body(answer: httpx.Response) -> Any:
    return json.loads(answer.content.decode("utf-8-sig"))


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def test_answers_are_clean_unless_a_dialect_is_asked_for(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # when
    answer = pc.get("/v1/customers", params={"size": 2})

    # then
    assert all(value is False for value in shared_sandbox.admin.dialect().values())
    assert not answer.content.startswith(codecs.BOM_UTF8)
    page = answer.json()
    assert page["continuationToken"]
    assert page["links"]["next"]["uri"].endswith("&seekOperation=Next")
    assert page["links"]["next"]["headers"][0]["value"] == page["continuationToken"]
    assert "MS-ContinuationToken" not in answer.headers


def test_the_admin_api_sets_variants_and_refuses_unknown_ones_changing_nothing(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    shared_sandbox.admin.set_dialect("bom,offset_dates")

    # when
    refused = httpx.put(
        f"{shared_sandbox.base_url}/_sandbox/dialect",
        json={"spec": "pascal_case,spanish"},
        headers={"X-Sandbox-Key": shared_sandbox.admin_key},
        verify=shared_sandbox.ssl_context(),
    )

    # then
    assert refused.status_code == 400
    assert "spanish" in refused.json()["error"]
    now = shared_sandbox.admin.dialect()
    assert {name for name, on in now.items() if on} == {"bom", "offset_dates"}


def test_all_is_every_variant_but_the_broken_records() -> None:
    dialect = Dialect()

    dialect.apply_spec("all,bom=off")

    on = {name for name, value in dialect.as_json().items() if value}
    assert "unreadable_records" not in on and "bom" not in on
    assert {"pascal_case", "header_continuation", "amendments", "no_catalog_prices"} <= on
    with pytest.raises(ValueError, match="maybe"):
        dialect.apply_spec("bom=maybe")


def test_a_seek_page_can_hide_its_token_in_a_header_behind_a_malformed_link(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    shared_sandbox.admin.set_dialect("header_continuation,malformed_next_links")

    # when
    first = pc.get("/v1/customers", params={"size": 2})

    # then: no token in the body, none in the link, one in the response header
    page = first.json()
    token = first.headers["MS-ContinuationToken"]
    assert "continuationToken" not in page
    assert page["links"]["next"]["headers"] == []
    uri = page["links"]["next"]["uri"]
    assert uri == "/customers?size=2?seekOperation=Next"
    # the link taken literally is refused; repaired, with the header token, it is the next page
    assert pc.get(f"/v1{uri}", headers={"MS-ContinuationToken": token}).status_code == 400
    repaired = "/v1" + uri.replace("?seekOperation", "&seekOperation")
    following = pc.get(repaired, headers={"MS-ContinuationToken": token})
    assert following.status_code == 200
    first_ids = {c["id"] for c in page["items"]}
    assert first_ids.isdisjoint(c["id"] for c in following.json()["items"])


def test_bom_and_pascal_case_change_the_wire_not_the_content(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    customer_id = shared_sandbox.demo_customers[0]["tenant_id"]
    clean = pc.get(f"/v1/customers/{customer_id}/subscriptions").json()
    shared_sandbox.admin.set_dialect("bom,pascal_case")

    # when
    answer = pc.get(f"/v1/customers/{customer_id}/subscriptions")

    # then
    assert answer.content.startswith(codecs.BOM_UTF8)
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    page = body(answer)
    assert set(page) == {"TotalCount", "Items", "Links", "Attributes"}
    first = page["Items"][0]
    assert first["Id"] == clean["items"][0]["id"]
    assert first["Attributes"]["ObjectType"] == "Subscription"
    assert all(key[:1].isupper() for key, _ in walk(page))


def test_offset_dates_are_the_same_moments_with_0_to_7_digits(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    customer_id = shared_sandbox.demo_customers[0]["tenant_id"]
    path = f"/v1/customers/{customer_id}/subscriptions"
    clean = pc.get(path).json()
    shared_sandbox.admin.set_dialect("offset_dates")

    # when
    offset = pc.get(path).json()

    # then: every date is the same moment, in every documented shape
    pairs = [
        (before, after)
        for (key, before), (_, after) in zip(walk(clean), walk(offset), strict=True)
        if isinstance(before, str) and before != after
    ]
    assert len(pairs) >= 8
    digits, zones = set(), set()
    for before, after in pairs:
        shape = OFFSET_DATE.match(after)
        assert shape is not None, after
        digits.add(len(shape.group(2) or ""))
        zones.add(shape.group(3))
        assert abs(parse_iso(after) - parse_iso(before)) < dt.timedelta(seconds=1)
    assert digits == set(range(8))
    assert zones == {"Z", "-08:00", "+01:00", "+00:00"}


def test_recon_lines_and_invoices_mix_number_forms_org_ids_charge_types_and_amendments(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    invoices = pc.get("/v1/invoices").json()["items"]
    invoice_id = invoices[0]["id"]
    path = f"/v1/invoices/{invoice_id}/lineitems"
    params = {"provider": "onetime", "invoicelineitemtype": "billinglineitems"}
    clean_lines = pc.get(path, params=params).json()["items"]
    shared_sandbox.admin.set_dialect(
        "mixed_numbers,org_prefixed_ids,title_case_charge_types,amendments"
    )

    # when
    lines = pc.get(path, params=params).json()["items"]
    invoice = pc.get(f"/v1/invoices/{invoice_id}").json()

    # then: the same amounts, as numbers and as strings
    assert len(lines) == len(clean_lines) >= 1
    forms = set()
    for clean, line in zip(clean_lines, lines, strict=True):
        for key in ("unitPrice", "subtotal", "totalForCustomer", "quantity"):
            forms.add(type(line[key]))
            assert Decimal(str(line[key])) == Decimal(clean[key])
        assert line["customerId"] == f"org:{clean['customerId']}"
        assert line["chargeType"] == clean["chargeType"][:1].upper() + clean["chargeType"][1:]
    assert str in forms and (int in forms or float in forms)
    # and the invoice carries a credit note amending it
    (note,) = invoice["amendments"]
    assert (note["documentType"], note["amendsOf"]) == ("credit_note", invoice_id)
    assert Decimal(str(note["totalCharges"])) == -(
        Decimal(str(invoices[0]["totalCharges"])) / 10
    ).quantize(Decimal("0.01"))


def test_subscriptions_can_leave_out_their_cancellation_date(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    customer_id = shared_sandbox.demo_customers[0]["tenant_id"]
    clean = pc.get(f"/v1/customers/{customer_id}/subscriptions").json()["items"]

    # when
    shared_sandbox.admin.set_dialect("refund_options_only")
    options_only = pc.get(f"/v1/customers/{customer_id}/subscriptions").json()["items"]
    shared_sandbox.admin.set_dialect("refund_lots_only")
    lots_only = pc.get(f"/v1/customers/{customer_id}/subscriptions").json()["items"]

    # then
    assert any("cancellationAllowedUntilDate" in s for s in clean)
    assert all("cancellationAllowedUntilDate" not in s for s in options_only + lots_only)
    assert [s.get("refundOptions") for s in options_only] == [s.get("refundOptions") for s in clean]
    assert all("refundOptions" not in s for s in lots_only)
    assert [s["refundableQuantity"] for s in lots_only] == [s["refundableQuantity"] for s in clean]


def test_the_catalog_can_come_without_prices(shared_sandbox: SandboxInfo, pc: httpx.Client) -> None:
    # given
    path = "/v1/products/CFQ7TTC0LH18/skus/0001/availabilities"
    clean = pc.get(path, params={"country": "US"}).json()["items"]

    # when
    shared_sandbox.admin.set_dialect("no_catalog_prices")
    bare = pc.get(path, params={"country": "US"}).json()["items"]

    # then
    assert all("price" in term for a in clean for term in a["terms"])
    assert [len(a["terms"]) for a in bare] == [len(a["terms"]) for a in clean]
    assert all("price" not in term for a in bare for term in a["terms"])


def test_unreadable_records_break_the_first_record_of_every_page(
    shared_sandbox: SandboxInfo, pc: httpx.Client
) -> None:
    # given
    clean = pc.get("/v1/customers", params={"size": 3}).json()["items"]

    # when
    shared_sandbox.admin.set_dialect("unreadable_records")
    broken = pc.get("/v1/customers", params={"size": 3}).json()["items"]

    # then
    assert "id" not in broken[0]
    assert broken[0]["companyProfile"] == clean[0]["companyProfile"]
    assert broken[1:] == clean[1:]
