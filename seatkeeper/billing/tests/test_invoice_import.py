"""The vendor's invoices imported from the sandbox over HTTPS, the way production runs: the
daily job through the task queue, exports polled by the sweep, lines read from the files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from seatkeeper.billing import invoices, tasks
from seatkeeper.billing.invoice_selectors import current_lines
from seatkeeper.billing.models import (
    InvoiceCustomerTotal,
    LinesSource,
    LinesState,
    ProviderInvoice,
)
from seatkeeper.core.scheduling import run_due

pytestmark = pytest.mark.django_db


def _sweep_until_done(test_clock: Any, commits: Any, rounds: int = 10) -> None:
    for _ in range(rounds):
        if not ProviderInvoice.objects.filter(
            lines_state__in=[LinesState.PENDING, LinesState.EXPORTING]
        ).exists():
            return
        test_clock.sleep(60)
        with commits(execute=True):
            tasks.invoice_lines_sweep.call()
    raise AssertionError("line imports never finished")


def test_the_daily_job_imports_invoices_and_their_lines_through_the_queue(
    cast,
    account,
    sandbox: Any,
    test_clock: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    # given tasks that run inline (the billing tests otherwise queue them by hand)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

    # when: the scheduler's slot falls due (tasks run inline in tests, after commit)
    with django_capture_on_commit_callbacks(execute=True):
        enqueued = run_due()
    _sweep_until_done(test_clock, django_capture_on_commit_callbacks)

    # then
    assert "billing.invoices_daily" in enqueued
    billed = ProviderInvoice.objects.exclude(document_type="unbilled")
    with sandbox.client(sandbox.admin.access_token(app_only=True)) as client:
        at_vendor = {item["id"] for item in client.get("/v1/invoices").json()["items"]}
    assert set(billed.values_list("vendor_invoice_id", flat=True)) == at_vendor != set()
    assert all(inv.lines_state == LinesState.IMPORTED for inv in ProviderInvoice.objects.all())
    assert all(hasattr(inv, "document") for inv in billed)
    open_periods = ProviderInvoice.objects.filter(document_type="unbilled")
    assert {inv.currency for inv in open_periods} == {inv.currency for inv in billed}
    assert sandbox.admin.calls(method="POST", path="/v1.0/reports/partners/billing/")


def test_every_total_equals_the_sum_of_its_lines_in_every_currency(
    cast, account, provider: Any, test_clock: Any
) -> None:
    invoices.invoices_import(account=account, provider=provider)
    for invoice in ProviderInvoice.objects.all():
        progress = invoices.invoice_lines_import(invoice=invoice, provider=provider)
        assert progress.state == LinesState.IMPORTED, progress

    currencies = set()
    for invoice in ProviderInvoice.objects.all():
        lines = list(current_lines(invoice))
        currencies.add(invoice.currency)
        assert {line.currency for line in lines} <= {invoice.currency}
        line_sum = sum((line.total for line in lines), Decimal(0))
        customer_sum = sum(
            (t.total for t in InvoiceCustomerTotal.objects.filter(invoice=invoice)), Decimal(0)
        )
        assert line_sum == customer_sum == invoice.lines_total == invoice.total, invoice
        for total in InvoiceCustomerTotal.objects.filter(invoice=invoice):
            own = [x.total for x in lines if x.customer_tenant_id == total.customer_tenant_id]
            assert sum(own, Decimal(0)) == total.total and len(own) == total.line_count
    assert {"EUR", "GBP", "USD"} <= currencies


def test_older_invoices_take_the_v1_api_and_read_the_same_lines(
    cast, account, provider: Any, settings: Any
) -> None:
    # given: every period counts as older than the v2 export
    invoices.invoices_import(account=account, provider=provider)
    invoice = ProviderInvoice.objects.exclude(document_type="unbilled").order_by("-total").first()
    invoices.invoice_lines_import(invoice=invoice, provider=provider)
    by_export = sorted(current_lines(invoice).values_list("reference_id", "total"))
    settings.BILLING_RECON_V2_FROM = dt.date(2999, 1, 1)

    # when
    invoices.invoice_lines_reimport(invoice=invoice, actor=cast.cloud_admin)
    invoices.invoice_lines_import(invoice=invoice, provider=provider)

    # then
    invoice.refresh_from_db()
    assert invoice.lines_source == LinesSource.V1_API
    assert sorted(current_lines(invoice).values_list("reference_id", "total")) == by_export
