"""Importing the vendor's invoices and their lines from the sandbox, over HTTPS."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from seatkeeper.billing import invoices
from seatkeeper.billing.models import (
    InvoiceCustomerTotal,
    InvoiceImportRun,
    InvoiceLineItem,
    LinesSource,
    LinesState,
    ProviderInvoice,
)


@pytest.mark.django_db
def test_import_then_lines_add_up(cast, account, provider: Any, sandbox: Any) -> None:
    counts = invoices.invoices_import(account=account, provider=provider)

    assert counts.created == ProviderInvoice.objects.count() > 0
    invoice = ProviderInvoice.objects.order_by("-lines_count", "-total").first()
    progress = invoices.invoice_lines_import(invoice=invoice, provider=provider)
    invoice.refresh_from_db()
    assert progress.state == LinesState.IMPORTED, progress
    assert invoice.lines_source == LinesSource.GRAPH_EXPORT
    lines = InvoiceLineItem.objects.filter(invoice=invoice)
    assert lines.count() == invoice.lines_count > 0
    total = sum((line.total for line in lines), Decimal(0))
    assert total == invoice.total == invoice.lines_total
