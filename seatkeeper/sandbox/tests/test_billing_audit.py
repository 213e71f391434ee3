"""Invoices, reconciliation line items and audit records."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from seatkeeper.sandbox.testing import SandboxInfo

ONETIME = {"provider": "onetime", "invoicelineitemtype": "billinglineitems"}


def test_invoices_offset_paging_and_shape(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        everything = client.get("/v1/invoices").json()
        first = client.get("/v1/invoices?size=2&offset=0").json()
        second = client.get("/v1/invoices?size=2&offset=2").json()
        invoice = client.get(f"/v1/invoices/{first['items'][0]['id']}").json()
        missing = client.get("/v1/invoices/G000000000")
    assert everything["totalCount"] >= 3
    assert first["totalCount"] == 2 and first["links"]["next"]["uri"] == "/invoices?size=2&offset=2"
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])
    assert invoice["id"].startswith("G") and invoice["attributes"]["objectType"] == "Invoice"
    assert {
        "invoiceDate",
        "billingPeriodStartDate",
        "billingPeriodEndDate",
        "totalCharges",
        "currencyCode",
        "pdfDownloadLink",
    } <= set(invoice)
    detail = invoice["invoiceDetails"][0]
    assert (
        detail["invoiceLineItemType"] == "billing_line_items"
        and detail["billingProvider"] == "one_time"
    )
    assert missing.status_code == 404


def test_invoice_line_items_numbers_as_strings_and_seek(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        invoices = client.get("/v1/invoices").json()["items"]
        invoice = max(invoices, key=lambda i: i["totalCharges"])
        page = client.get(
            f"/v1/invoices/{invoice['id']}/lineitems", params={**ONETIME, "size": 1}
        ).json()
        items = list(page["items"])
        while "next" in page["links"]:
            nxt = page["links"]["next"]
            page = client.get(
                "/v1" + nxt["uri"], headers={h["key"]: h["value"] for h in nxt["headers"]}
            ).json()
            items += page["items"]
        alt = client.get(
            f"/v1/invoices/OneTime-{invoice['id']}/lineitems/OneTime/BillingLineItems"
        ).json()
    assert len(items) == alt["totalCount"] >= 1
    line = items[0]
    assert line["attributes"]["objectType"] == "OneTimeInvoiceLineItem"
    assert line["invoiceNumber"] == invoice["id"]
    for key in (
        "unitPrice",
        "effectiveUnitPrice",
        "quantity",
        "subtotal",
        "totalForCustomer",
        "billableQuantity",
    ):
        assert isinstance(line[key], str), key
    assert line["chargeType"] == "new" and line["billingProvider"] == "one_time"
    assert round(sum(float(i["totalForCustomer"]) for i in items), 2) == round(
        invoice["totalCharges"], 2
    )


def test_purchase_creates_unbilled_line_then_invoice_next_month(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_clock("2026-03-10T12:00:00Z")
    cid = sandbox.demo_customers[5]["tenant_id"]  # US -> USD
    cart = user_client.post(
        f"/v1/customers/{cid}/carts",
        json={
            "lineItems": [
                {
                    "catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K5DP",
                    "quantity": 3,
                    "billingCycle": "monthly",
                    "termDuration": "P1M",
                }
            ]
        },
    ).json()
    user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout")
    unbilled = user_client.get(
        "/v1/invoices/unbilled/lineitems",
        params={**ONETIME, "currencycode": "USD", "period": "current"},
    ).json()["items"]
    assert len(unbilled) == 1
    line = unbilled[0]
    assert line["invoiceNumber"] == "" and line["quantity"] == "3" and line["currency"] == "USD"
    assert (
        line["unitPrice"] == "6.48" and line["subtotal"] == "19.44"
    )  # 6.00 x 1.2 (P1M) x 0.9 partner price
    assert line["termAndBillingCycle"] == "One-Month commitment for monthly billing"
    sandbox.admin.set_clock("2026-04-07T00:00:00Z")
    invoices = user_client.get("/v1/invoices").json()["items"]
    march = next(
        i
        for i in invoices
        if i["billingPeriodStartDate"].startswith("2026-03-01") and i["currencyCode"] == "USD"
    )
    assert march["totalCharges"] == 19.44
    assert (
        user_client.get(
            "/v1/invoices/unbilled/lineitems",
            params={**ONETIME, "currencycode": "USD", "period": "previous"},
        ).json()["totalCount"]
        == 0
    )


def test_audit_record_per_mutation_with_date_range(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    today = sandbox.admin.now().date().isoformat()
    cid = sandbox.demo_customers[0]["tenant_id"]
    before = user_client.get("/v1/auditrecords", params={"startDate": today, "size": 500}).json()[
        "totalCount"
    ]
    domain = "fabrikamconseil.onmicrosoft.com"
    user = user_client.post(
        f"/v1/customers/{cid}/users",
        json={
            "userPrincipalName": f"audit.me@{domain}",
            "displayName": "Audit Me",
            "usageLocation": "FR",
            "passwordProfile": {"password": "Sandbox!Pass1"},
        },
    ).json()
    user_client.delete(f"/v1/customers/{cid}/users/{user['id']}")
    records = user_client.get("/v1/auditrecords", params={"startDate": today, "size": 500}).json()[
        "items"
    ]
    assert len(records) == before + 2
    created, deleted = records[-2:]
    assert (
        created["operationType"] == "create_customer_user"
        and deleted["operationType"] == "delete_customer_user"
    )
    assert created["resourceType"] == "customer_user" and created["customerId"] == cid
    assert (
        created["attributes"]["objectType"] == "AuditRecord"
        and created["operationStatus"] == "succeeded"
    )
    assert json.loads(created["resourceNewValue"])["UserPrincipalName"] == f"audit.me@{domain}"
    assert {"key": "CustomerUserId", "value": user["id"]} in created["customizedData"]
    flt = json.dumps({"Field": "ResourceType", "Value": "customer_user", "Operator": "equals"})
    filtered = user_client.get(
        "/v1/auditrecords", params={"startDate": today, "filter": flt}
    ).json()["items"]
    assert [r["operationType"] for r in filtered] == [
        "create_customer_user",
        "delete_customer_user",
    ]
    too_old = (sandbox.admin.now() - dt.timedelta(days=120)).date().isoformat()
    assert user_client.get("/v1/auditrecords", params={"startDate": too_old}).status_code == 400


def test_audit_seek_paging(shared_sandbox: SandboxInfo) -> None:
    start = (shared_sandbox.admin.now() - dt.timedelta(days=89)).date().isoformat()
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        everything = client.get(
            "/v1/auditrecords", params={"startDate": start, "size": 500}
        ).json()["items"]
        page = client.get("/v1/auditrecords", params={"startDate": start, "size": 2}).json()
        seen = [r["id"] for r in page["items"]]
        while "next" in page["links"]:
            nxt = page["links"]["next"]
            page = client.get(
                "/v1" + nxt["uri"], headers={h["key"]: h["value"] for h in nxt["headers"]}
            ).json()
            seen += [r["id"] for r in page["items"]]
    assert len(everything) >= 3
    assert seen == [r["id"] for r in everything]


def test_monthly_cycles_are_charged_and_invoiced(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_clock("2026-01-10T12:00:00Z")
    cid = sandbox.demo_customers[5]["tenant_id"]  # USD
    items = [
        {
            "catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K5DP",
            "quantity": 2,
            "billingCycle": "monthly",
            "termDuration": "P1Y",
        },
        {
            "catalogItemId": "CFQ7TTC0L3PB:0001:CFQ7TTC0K5F5",
            "quantity": 1,
            "billingCycle": "annual",
            "termDuration": "P1Y",
        },
    ]
    cart = user_client.post(f"/v1/customers/{cid}/carts", json={"lineItems": items}).json()
    order = user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout").json()["orders"][0]
    monthly_id, annual_id = (
        i["subscriptionId"]
        for i in user_client.get(f"/v1/customers/{cid}/orders/{order['id']}").json()["lineItems"]
    )
    sandbox.admin.set_clock("2026-02-12T08:00:00Z")
    unbilled = user_client.get(
        "/v1/invoices/unbilled/lineitems",
        params={**ONETIME, "currencycode": "USD", "period": "current"},
    ).json()["items"]
    cycle = [line for line in unbilled if line["subscriptionId"] == monthly_id]
    assert [
        (line["chargeType"], line["chargeStartDate"][:10], line["chargeEndDate"][:10])
        for line in cycle
    ] == [("cycleCharge", "2026-02-10", "2026-03-09")]
    assert cycle[0]["subtotal"] == "10.80"  # 2 x 6.00 x 0.9
    assert not [line for line in unbilled if line["subscriptionId"] == annual_id]  # billed yearly
    sandbox.admin.set_clock("2026-03-07T08:00:00Z")
    invoices = user_client.get("/v1/invoices").json()["items"]
    february = next(
        i
        for i in invoices
        if i["billingPeriodStartDate"].startswith("2026-02-01") and i["currencyCode"] == "USD"
    )
    lines = user_client.get(f"/v1/invoices/{february['id']}/lineitems", params=ONETIME).json()[
        "items"
    ]
    assert [line["chargeType"] for line in lines if line["subscriptionId"] == monthly_id] == [
        "cycleCharge"
    ]


def test_every_invoice_adds_up_to_its_lines(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        client.get(
            "/v1/invoices/unbilled/lineitems", params={**ONETIME, "currencycode": "EUR"}
        )  # settles cycles
        invoices = client.get("/v1/invoices").json()["items"]
        for invoice in invoices:
            lines = client.get(
                f"/v1/invoices/{invoice['id']}/lineitems", params={**ONETIME, "size": 2000}
            ).json()["items"]
            assert (
                round(sum(float(line["totalForCustomer"]) for line in lines), 2)
                == invoice["totalCharges"]
            )
    assert invoices
