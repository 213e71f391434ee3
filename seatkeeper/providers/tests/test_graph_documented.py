"""The Graph half of the connector on answers shaped like Microsoft's documented samples:
operations, the manifest, Graph's error body, and export files in the reconciliation file's
columns (fixtures/README.md)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from seatkeeper.core.money import Money
from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.blobs import BlobReader
from seatkeeper.providers.microsoft.client import PartnerCenterClient
from seatkeeper.providers.microsoft.graph import GraphBilling, graph_error_from_response
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.tests.fakes import FakeTime, FakeTokens

FIXTURES = Path(__file__).parent / "fixtures"
GRAPH = "https://graph.microsoft.com"
OPERATION = f"{GRAPH}/v1.0/reports/partners/billing/operations/6fe687d7-1e0f-4bd6-9091-4672691f64bc"


def sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def graph_answering(graph: Any, storage: Any = None) -> tuple[GraphBilling, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(handle: Any) -> Any:
        def inner(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handle(request)

        return inner

    time = FakeTime()
    client = PartnerCenterClient(
        base_url=GRAPH,
        tokens=FakeTokens(),  # type: ignore[arg-type]
        limits=lambda path, customer: [],
        retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.1),
        sleep=time.sleep,
        rng=random.Random(1),
        transport=httpx.MockTransport(record(graph)),
        service="Microsoft Graph",
        error_mapper=graph_error_from_response,
    )
    blobs = BlobReader(
        http=httpx.Client(transport=httpx.MockTransport(record(storage or graph))),
        retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.1),
        sleep=time.sleep,
    )
    return GraphBilling(client=client, blobs=blobs, base_url=GRAPH), seen


def test_the_three_documented_operation_states_are_read() -> None:
    states = sample("graph_billing_operations.json")

    def answer(request: httpx.Request) -> httpx.Response:
        state = request.url.params.get("state", "")
        headers = {"Retry-After": "30"} if state == "running" else {}
        return httpx.Response(200, json=states[state], headers=headers)

    graph, _seen = graph_answering(answer)

    running = graph.export_operation(location=f"{OPERATION}?state=running")
    succeeded = graph.export_operation(location=f"{OPERATION}?state=succeeded")
    failed = graph.export_operation(location=f"{OPERATION}?state=failed")

    assert (running.status, running.retry_after, running.is_done) == (
        i.ExportStatus.RUNNING,
        30.0,
        False,
    )
    assert running.created_at == dt.datetime(2023, 3, 9, 8, 12, 53, tzinfo=dt.UTC)
    assert succeeded.status is i.ExportStatus.SUCCEEDED and succeeded.manifest_location == (
        f"{GRAPH}/v1.0/reports/partners/billing/manifests/8fe347d7-1e0f-4bd6-9091-4672691f32db"
    )
    assert (failed.status, failed.error_code, failed.error_message) == (
        i.ExportStatus.FAILED,
        "5000",
        "No data available",
    )


def test_a_started_export_is_followed_at_its_location_and_a_foreign_host_is_not() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/reconciliation/billed/export")
        assert json.loads(request.content) == {"invoiceId": "G016907411", "attributeSet": "full"}
        return httpx.Response(202, headers={"Location": OPERATION})

    graph, seen = graph_answering(answer)

    operation = graph.start_billed_export(invoice_id="G016907411")

    assert operation.location == OPERATION and operation.id == OPERATION.rsplit("/", 1)[1]
    assert seen[0].headers["Authorization"] == "Bearer app-token-0"
    with pytest.raises(errors.UnexpectedResponse, match="another host"):
        graph.export_operation(location="https://evil.example/v1.0/operations/1")
    assert len(seen) == 1  # the token never went to the other host


def test_the_documented_manifest_builds_the_file_links_from_root_and_signature() -> None:
    graph, _seen = graph_answering(
        lambda request: httpx.Response(200, json=sample("graph_billing_manifest.json"))
    )

    manifest = graph.export_manifest(location=f"{GRAPH}/v1.0/reports/partners/billing/manifests/x")

    assert manifest.blob_count == 2 and manifest.partition_type == "Default"
    assert manifest.etag == "WYjLro78HdMg6vUWR"
    url = manifest.blob_url(manifest.blobs[0])
    assert url.startswith(
        "https://adlsreconbuprodeastus201.blob.core.windows.net/billedusagefastpath/v1/"
    )
    assert "/PartitionType=default/part-00049-" in url and url.endswith(
        "&sig=RpVY0WBGUHJ2APB3N76jtMak8loAWY4oiA0%2FaoJX1bM%3D"
    )
    assert "sig=" not in repr(manifest)  # the signature is a credential


def test_graphs_error_body_gives_the_code_and_the_wait() -> None:
    body = sample("graph_error_throttled.json")

    error = graph_error_from_response(status=429, body=body, retry_after=12.0)
    denied = graph_error_from_response(
        status=403, body={"error": {"code": "Authorization_RequestDenied", "message": "no"}}
    )

    assert isinstance(error, errors.Throttled) and error.retryable
    assert (error.code, error.retry_after) == ("TooManyRequests", 12.0)
    assert isinstance(denied, errors.Forbidden) and not denied.retryable


def _gzipped_lines() -> bytes:
    return gzip.compress((FIXTURES / "export_reconciliation_lines.jsonl").read_bytes())


def test_export_file_lines_in_the_reconciliation_columns_are_read_exactly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manifest = i.ExportManifest(
        id="m",
        schema_version="2",
        data_format="compressedJSON",
        partner_tenant_id="p",
        root_directory="https://storage.test/billed",
        sas_token="sv=1&sig=abc",
        partition_type="default",
        blob_count=1,
        blobs=(i.ExportBlob(name="part-0.json.gz"),),
    )
    graph, seen = graph_answering(
        lambda request: httpx.Response(200, stream=httpx.ByteStream(_gzipped_lines()))
    )

    lines = graph.export_blob_lines(manifest=manifest, blob=manifest.blobs[0], invoice_id="G1")
    read = list(lines)

    assert str(seen[0].url) == "https://storage.test/billed/part-0.json.gz?sv=1&sig=abc"
    assert "Authorization" not in seen[0].headers  # the signature is the only credential
    assert lines.skipped == 2  # the line that is not JSON, and the one with a bad date
    first, second = read
    assert first.total == Money(Decimal("0.01"), "EUR")
    assert first.unit_price.amount == Decimal("0.045")  # exact, never through a float
    assert first.billable_quantity == Decimal("0.17")
    assert first.pc_to_bc_exchange_rate == Decimal("0.8415") and first.pricing_currency == "USD"
    assert first.order_date == dt.datetime(2020, 10, 3, tzinfo=dt.UTC)  # "10/3/2020"
    assert first.product_qualifiers == ("AddOn",) and first.charge_kind is i.ChargeType.NEW
    assert first.reseller_mpn_id == "6048879" and first.invoice_id == "G002297372"
    assert first.subscription_start == dt.date(2020, 10, 1)
    assert second.customer_id == "A4C9B3E8-0000-4000-8000-000000000001"  # org: dropped
    assert second.reseller_mpn_id == "" and second.charge_kind is i.ChargeType.CYCLE_CHARGE
    assert second.total.amount == Decimal("37.5") and second.quantity == Decimal(3)
    assert "this line is not JSON" in caplog.text


def test_a_file_of_several_gzip_members_in_small_chunks_loses_no_line() -> None:
    payload = (FIXTURES / "export_reconciliation_lines.jsonl").read_bytes()
    half = len(payload) // 2
    members = gzip.compress(payload[:half]) + gzip.compress(payload[half:])

    class Trickle(httpx.SyncByteStream):
        def __iter__(self):
            for start in range(0, len(members), 7):
                yield members[start : start + 7]

    graph, _seen = graph_answering(lambda request: httpx.Response(200, stream=Trickle()))

    lines = list(graph.blobs.lines("https://storage.test/f.json.gz?sig=1"))

    assert lines == [line.rstrip(b"\r") for line in payload.splitlines()]


def test_a_storage_refusal_is_final_and_a_busy_storage_is_retried() -> None:
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": "2"}),
            httpx.Response(200, stream=httpx.ByteStream(gzip.compress(b'{"a": 1}\n'))),
            httpx.Response(
                403,
                stream=httpx.ByteStream(
                    b"<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code></Error>"
                ),
            ),
        ]
    )
    graph, seen = graph_answering(lambda request: next(answers))

    assert list(graph.blobs.lines("https://storage.test/f?sig=1")) == [b'{"a": 1}']
    with pytest.raises(errors.AuthFailed) as refused:
        list(graph.blobs.lines("https://storage.test/f?sig=1"))

    assert len(seen) == 3
    assert refused.value.code == "AuthenticationFailed" and not refused.value.retryable
    assert "sig=1" not in str(refused.value)
