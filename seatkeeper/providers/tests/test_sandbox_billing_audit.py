"""Invoices, reconciliation line items and audit records, against the sandbox."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.tests.helpers import new_customer

pytestmark = pytest.mark.django_db


def test_invoices_are_paged_by_offset_and_read_by_id(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # when
    invoices = list(provider.list_invoices(page_size=3))

    # then
    assert len(invoices) > 3
    assert len({inv.id for inv in invoices}) == len(invoices)
    pages = sandbox.admin.calls(method="GET", path="/v1/invoices")
    assert len(pages) == -(-len(invoices) // 3)
    first = provider.get_invoice(invoice_id=invoices[0].id)
    assert first == invoices[0]
    assert isinstance(first.total_charges.amount, Decimal)
    assert first.period_start is not None and first.period_end is not None


def test_invoice_line_items_add_up_to_the_invoice(provider: MicrosoftProvider) -> None:
    invoice = next(inv for inv in provider.list_invoices() if inv.invoice_type == "OneTime")

    lines = list(provider.list_invoice_line_items(invoice_id=invoice.id, page_size=5))

    assert lines
    assert all(line.invoice_id == invoice.id for line in lines)
    total = sum((line.total.amount for line in lines), Decimal(0))
    assert total == invoice.total_charges.amount


def test_an_unknown_invoice_is_not_found(provider: MicrosoftProvider) -> None:
    with pytest.raises(errors.NotFound):
        provider.get_invoice(invoice_id="G99999999")


def test_audit_records_since_a_date_include_a_new_customer(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given
    created = new_customer(provider)
    today = sandbox.admin.now().date()

    # when
    records = list(provider.list_audit_records(since=today - dt.timedelta(days=1), page_size=10))

    # then
    adds = [r for r in records if r.operation_type == "add_customer"]
    assert created.customer.id in {r.customer_id for r in adds}
    assert all(r.operation_date.tzinfo is dt.UTC for r in records)
    assert all(r.operation_date.date() >= today - dt.timedelta(days=1) for r in records)


def test_audit_records_page_by_page_match_the_full_listing(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    since = sandbox.admin.now().date() - dt.timedelta(days=30)
    everything = [(r.id, r.correlation_id) for r in provider.list_audit_records(since=since)]

    paged: list[tuple[str, str]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = provider.audit_records_page(since=since, cursor=cursor, page_size=7)
        paged.extend((r.id, r.correlation_id) for r in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert paged == everything
    assert pages == -(-len(everything) // 7)
