"""Billing reconciliation exports on Microsoft Graph (API v2), against the sandbox over HTTPS:
start, poll the operation, read the manifest, stream the gzipped files."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.auth import TokenKind

pytestmark = pytest.mark.django_db


def _invoice(provider: MicrosoftProvider) -> i.Invoice:
    """The invoice with the most lines."""
    return max(
        provider.list_invoices(),
        key=lambda invoice: len(list(provider.list_invoice_line_items(invoice_id=invoice.id))),
    )


def _follow(provider: MicrosoftProvider, operation: i.ExportOperation) -> i.ExportOperation:
    for _ in range(20):
        operation = provider.export_operation(location=operation.location)
        if operation.is_done:
            return operation
        provider.client.sleep(operation.retry_after or 1)
    raise AssertionError("the export never finished")


def _export(provider: MicrosoftProvider, invoice_id: str) -> i.ExportManifest:
    operation = _follow(provider, provider.start_billed_export(invoice_id=invoice_id))
    assert operation.status is i.ExportStatus.SUCCEEDED, operation
    assert operation.manifest_location
    return provider.export_manifest(location=operation.manifest_location)


def _lines(provider: MicrosoftProvider, manifest: i.ExportManifest) -> list[i.InvoiceLineItem]:
    return [
        line
        for blob in manifest.blobs
        for line in provider.export_blob_lines(manifest=manifest, blob=blob)
    ]


def _by_reference(lines: list[i.InvoiceLineItem]) -> list[i.InvoiceLineItem]:
    return sorted(lines, key=lambda line: (line.subscription_id, line.reference_id))


def test_a_billed_export_carries_the_same_lines_as_the_v1_api(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given
    invoice = _invoice(provider)
    v1 = list(provider.list_invoice_line_items(invoice_id=invoice.id))

    # when
    manifest = _export(provider, invoice.id)
    lines = _lines(provider, manifest)

    # then
    assert manifest.blob_count == len(manifest.blobs) >= 1
    assert manifest.partner_tenant_id == sandbox.partner_tenant_id
    assert _by_reference(lines) == _by_reference(v1)
    assert sum((line.total.amount for line in lines), Decimal(0)) == invoice.total_charges.amount
    posts = sandbox.admin.calls(method="POST", path="/v1.0/reports/partners/billing/")
    assert len(posts) == 1 and posts[0]["status"] == 202


def test_a_large_invoice_comes_in_several_files_and_loses_no_line(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given: at most two lines per file
    sandbox.admin.set_faults(export_blob_lines=2)
    invoice = _invoice(provider)
    expected = len(list(provider.list_invoice_line_items(invoice_id=invoice.id)))

    # when
    manifest = _export(provider, invoice.id)
    lines = _lines(provider, manifest)

    # then
    assert expected > 2
    assert manifest.blob_count == len(manifest.blobs) == -(-expected // 2)
    assert len({blob.name for blob in manifest.blobs}) == manifest.blob_count
    assert len(lines) == expected


def test_a_running_export_is_polled_when_it_says_and_not_before(
    provider: MicrosoftProvider, sandbox: Any, test_clock: Any
) -> None:
    # given: the vendor takes 40 seconds to prepare the files
    sandbox.admin.set_faults(export_delay_s=40)
    invoice = _invoice(provider)

    # when
    started = provider.start_billed_export(invoice_id=invoice.id)
    first = provider.export_operation(location=started.location)
    test_clock.sleep(first.retry_after or 0)
    second = provider.export_operation(location=started.location)

    # then
    assert first.status is i.ExportStatus.RUNNING and first.retry_after == 40
    assert second.status is i.ExportStatus.SUCCEEDED and second.manifest_location
    polls = sandbox.admin.calls(method="GET", path="/v1.0/reports/partners/billing/operations/")
    assert len(polls) == 2


def test_an_export_of_an_unknown_invoice_fails_with_the_vendors_reason(
    provider: MicrosoftProvider,
) -> None:
    operation = _follow(provider, provider.start_billed_export(invoice_id="G999999999"))

    assert operation.status is i.ExportStatus.FAILED
    assert (operation.error_code, operation.error_message) == ("5000", "No data available")
    assert operation.manifest_location is None


def test_an_unbilled_export_holds_the_open_periods_lines_in_one_currency(
    provider: MicrosoftProvider,
) -> None:
    # given
    v1 = list(provider.list_unbilled_line_items(currency="EUR", period="current"))

    # when
    operation = _follow(
        provider,
        provider.start_unbilled_export(billing_period=i.BillingPeriod.CURRENT, currency="eur"),
    )
    manifest = provider.export_manifest(location=operation.manifest_location or "")
    lines = _lines(provider, manifest)

    # then
    assert _by_reference(lines) == _by_reference(v1)
    assert all(line.invoice_id == "" and line.total.currency == "EUR" for line in lines)


def test_an_app_without_partner_billing_permission_is_refused(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given: a Graph token asked for while the app lacks PartnerBilling.Read.All
    sandbox.admin.set_faults(graph_billing_permission=False)
    assert provider.graph is not None
    tokens = provider.graph.client.tokens
    tokens.invalidate(kind=TokenKind.APP)
    try:
        # when / then
        with pytest.raises(errors.Forbidden) as refused:
            provider.start_billed_export(invoice_id=_invoice(provider).id)
    finally:
        tokens.invalidate(kind=TokenKind.APP)  # the next test's token has the permission again

    assert refused.value.code == "Authorization_RequestDenied"
    assert refused.value.http_status == 403
    assert sandbox.admin.calls(method="GET", path="/v1.0/reports/partners/billing/") == []


def test_graph_throttling_is_waited_out_and_the_export_still_finishes(
    provider: MicrosoftProvider, sandbox: Any, test_clock: Any
) -> None:
    # given: Graph allows one call a minute (the export's start and its first look come at the
    # same moment, so the look is refused whatever the second of the minute)
    sandbox.admin.set_faults(graph_throttle_limit=1, export_delay_s=5)
    invoice = _invoice(provider)

    # when
    manifest = _export(provider, invoice.id)

    # then: each refused call was sent again, with the same request id, after the wait asked for
    assert manifest.blobs
    calls = sandbox.admin.calls(path="/v1.0/reports/partners/billing/")
    throttled = [call for call in calls if call["status"] == 429]
    assert throttled
    for refused in throttled:
        again = [c for c in calls if c["requestId"] == refused["requestId"] and c is not refused]
        assert [c["status"] for c in again] == [200]
    assert test_clock.slept >= 5


def test_a_file_download_cut_half_way_resumes_where_it_stopped(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given
    invoice = _invoice(provider)
    manifest = _export(provider, invoice.id)
    expected = _lines(provider, manifest)
    sandbox.admin.clear_calls()
    sandbox.admin.set_faults(blob_cut_after_bytes=100, blob_cuts=1)

    # when
    lines = _lines(provider, manifest)

    # then: the first file was asked for twice (the second time from byte 100), nothing lost
    assert lines == expected
    first = manifest.blobs[0].name
    downloads = [c for c in sandbox.admin.calls(path="/_storage/") if c["path"].endswith(first)]
    assert len(downloads) == 2


def test_an_expired_file_link_asks_for_a_new_export(
    provider: MicrosoftProvider, sandbox: Any, test_clock: Any
) -> None:
    # given: links valid for a minute
    sandbox.admin.set_faults(sas_lifetime_s=60)
    manifest = _export(provider, _invoice(provider).id)
    test_clock.sleep(61)

    # when / then
    with pytest.raises(errors.AuthFailed) as refused:
        _lines(provider, manifest)
    assert refused.value.code == "AuthenticationFailed"
    assert "start the export again" in str(refused.value)


def test_the_invoice_statement_is_a_pdf(provider: MicrosoftProvider) -> None:
    invoice = _invoice(provider)

    document = provider.invoice_document(invoice_id=invoice.id)

    assert document.startswith(b"%PDF-1.4") and document.rstrip().endswith(b"%%EOF")
    assert invoice.id.encode() in document
