"""Microsoft Graph's billing exports, the storage behind them and the invoice PDF, as the
sandbox serves them (no platform code involved)."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from seatkeeper.sandbox.exports import BASIC, COLUMNS
from seatkeeper.sandbox.testing import SandboxInfo

GRAPH = "https://graph.microsoft.com"
BILLED = "/v1.0/reports/partners/billing/reconciliation/billed/export"
ONETIME = {"provider": "onetime", "invoicelineitemtype": "billinglineitems"}


def _graph(sandbox: SandboxInfo) -> httpx.Client:
    return sandbox.client(sandbox.admin.access_token(app_only=True, resource=GRAPH))


def _invoice(sandbox: SandboxInfo) -> dict[str, Any]:
    with sandbox.client(sandbox.admin.access_token(app_only=True)) as client:
        invoices = client.get("/v1/invoices").json()["items"]
        return max(invoices, key=lambda invoice: invoice["totalCharges"])


def _manifest(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    accepted = client.post(BILLED, json=body)
    assert accepted.status_code == 202
    operation = client.get(accepted.headers["Location"]).json()
    assert operation["status"] == "succeeded", operation
    return client.get(operation["resourceLocation@odata.navigationLink"]).json()


def _file_lines(sandbox: SandboxInfo, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    lines = []
    with httpx.Client(verify=sandbox.ssl_context()) as storage:
        for blob in manifest["blobs"]:
            url = f"{manifest['rootDirectory']}/{blob['name']}?{manifest['sasToken']}"
            data = gzip.decompress(storage.get(url).content)
            lines += [json.loads(line) for line in data.splitlines() if line.strip()]
    return lines


def test_export_files_carry_the_reconciliation_columns_with_numbers(
    shared_sandbox: SandboxInfo,
) -> None:
    invoice = _invoice(shared_sandbox)
    with _graph(shared_sandbox) as graph:
        full = _manifest(graph, {"invoiceId": invoice["id"], "attributeSet": "full"})
        basic = _manifest(graph, {"invoiceId": invoice["id"], "attributeSet": "basic"})
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        v1 = client.get(f"/v1/invoices/{invoice['id']}/lineitems", params=ONETIME).json()["items"]

    full_lines = _file_lines(shared_sandbox, full)
    basic_lines = _file_lines(shared_sandbox, basic)

    assert full["dataFormat"] == "compressedJSON" and full["partitionType"] == "default"
    assert (
        "/Fragment=full/" in full["rootDirectory"] and "/Fragment=basic/" in basic["rootDirectory"]
    )
    assert [list(line) for line in full_lines] == [[c for c, _k, _n in COLUMNS]] * len(v1)
    assert all(set(line) == BASIC for line in basic_lines)
    by_reference = {line["referenceId"]: line for line in v1}
    for line in full_lines:
        original = by_reference[line["ReferenceId"]]
        assert isinstance(line["Total"], int | float)
        assert Decimal(str(line["Total"])) == Decimal(original["totalForCustomer"])
        assert line["InvoiceNumber"] == invoice["id"]


def test_graph_refuses_a_partner_center_token_in_its_own_error_shape(
    shared_sandbox: SandboxInfo,
) -> None:
    token = shared_sandbox.admin.access_token(app_only=True)  # Partner Center's audience
    with shared_sandbox.client(token) as client:
        refused = client.post(BILLED, json={"invoiceId": "G1"})

    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert {"request-id", "date"} <= set(error["innerError"])


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "invoiceId"), ({"invoiceId": "G1", "attributeSet": "most"}, "attributeSet")],
)
def test_a_bad_export_request_is_a_400_naming_the_field(
    shared_sandbox: SandboxInfo, body: dict[str, Any], field: str
) -> None:
    with _graph(shared_sandbox) as graph:
        refused = graph.post(BILLED, json=body)

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BadRequest"
    assert field in refused.json()["error"]["message"]


def test_the_storage_checks_the_signature_and_serves_ranges(shared_sandbox: SandboxInfo) -> None:
    with _graph(shared_sandbox) as graph:
        manifest = _manifest(graph, {"invoiceId": _invoice(shared_sandbox)["id"]})
    url = f"{manifest['rootDirectory']}/{manifest['blobs'][0]['name']}?{manifest['sasToken']}"
    with httpx.Client(verify=shared_sandbox.ssl_context()) as storage:
        whole = storage.get(url)
        tail = storage.get(url, headers={"Range": "bytes=10-"})
        tampered = storage.get(re.sub(r"sig=[0-9a-f]+", "sig=00", url))

    assert whole.status_code == 200 and whole.content[:2] == b"\x1f\x8b"  # gzip
    size = len(whole.content)
    assert tail.status_code == 206 and tail.content == whole.content[10:]
    assert tail.headers["Content-Range"] == f"bytes 10-{size - 1}/{size}"
    assert tampered.status_code == 403 and b"<Code>AuthenticationFailed</Code>" in tampered.content


def test_the_invoice_pdf_has_a_valid_cross_reference_table(shared_sandbox: SandboxInfo) -> None:
    invoice = _invoice(shared_sandbox)
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        response = client.get(f"/v1/invoices/{invoice['id']}/documents/statement")

    pdf = response.content
    assert response.headers["Content-Type"] == "application/pdf"
    assert pdf.startswith(b"%PDF-1.4")
    start = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[start:].startswith(b"xref")
    entries = pdf[start:].split(b"\n")[2:]
    objects = int(pdf[start:].split(b"\n")[1].split()[1])
    for number, entry in enumerate(entries[1:objects], start=1):
        offset = int(entry.split()[0])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    assert invoice["id"].encode() in pdf


def test_synthesized_volume_is_invoiced_with_exact_totals(sandbox: SandboxInfo) -> None:
    result = sandbox.admin.synthesize_invoice(
        period="2026-09", currency="GBP", lines=500, customers=7
    )

    with sandbox.client(sandbox.admin.access_token(app_only=True)) as client:
        invoice = client.get(f"/v1/invoices/{result['invoiceId']}").json()
        lines, page = (
            [],
            client.get(f"/v1/invoices/{result['invoiceId']}/lineitems", params=ONETIME).json(),
        )
        lines += page["items"]
        while "next" in page["links"]:
            link = page["links"]["next"]
            headers = {h["key"]: h["value"] for h in link["headers"]}
            page = client.get("/v1" + link["uri"], headers=headers).json()
            lines += page["items"]

    volume = [line for line in lines if line["customerName"].startswith("Volume Customer")]
    assert result["lines"] == len(volume) == 500
    assert len({line["customerId"] for line in volume}) == 7
    assert sum(Decimal(line["totalForCustomer"]) for line in volume) == Decimal(
        result["totalCharges"]
    )
    assert Decimal(str(invoice["totalCharges"])) == sum(
        Decimal(line["totalForCustomer"]) for line in lines
    )
