"""The invoice pages' exports: every matching row, to CSV (streamed) or XLSX (openpyxl's
write-only workbook, rows straight to a temporary file), in flat memory: rows come from the
database in chunks. Amounts are numbers with their currency beside them, never formatted text."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from seatkeeper.billing.models import (
    DocumentType,
    InvoiceCustomerTotal,
    InvoiceLineItem,
    LinesState,
    PaymentStatus,
    ProviderInvoice,
)
from seatkeeper.core.spreadsheet import safe_cell, safe_workbook_cell

CHUNK = 2000
Cell = Callable[[Any], Any]


def invoice_columns() -> list[tuple[str, Cell]]:
    kinds = {value: str(label) for value, label in DocumentType.choices}
    statuses = {value: str(label) for value, label in PaymentStatus.choices}
    lines = {value: str(label) for value, label in LinesState.choices}
    return [
        (_("Invoice number"), lambda x: x.vendor_invoice_id),
        (_("Document type"), lambda x: kinds.get(x.document_type, x.document_type)),
        (_("Amends"), lambda x: x.amends.vendor_invoice_id if x.amends_id else ""),
        (_("Invoice date"), lambda x: x.invoice_date.date() if x.invoice_date else None),
        (_("Billing period start"), lambda x: x.period_start),
        (_("Billing period end"), lambda x: x.period_end),
        (_("Total"), lambda x: x.total),
        (_("Paid"), lambda x: x.paid),
        (_("Currency"), lambda x: x.currency),
        (_("Payment"), lambda x: statuses[x.payment_status]),
        (_("Line items"), lambda x: lines.get(x.lines_state, x.lines_state)),
        (_("Number of line items"), lambda x: x.lines_count),
        (_("Sum of the line items"), lambda x: x.lines_total),
    ]


def customer_columns() -> list[tuple[str, Cell]]:
    return [
        (_("Customer"), lambda x: x.customer_name),
        (_("Tenant id"), lambda x: x.customer_tenant_id),
        (_("Domain"), lambda x: x.customer_domain),
        (_("Line items"), lambda x: x.line_count),
        (_("Subtotal"), lambda x: x.subtotal),
        (_("Tax"), lambda x: x.tax_total),
        (_("Total"), lambda x: x.total),
        (_("Currency"), lambda x: x.currency),
    ]


def line_columns() -> list[tuple[str, Cell]]:
    return [
        (_("Customer"), lambda x: x.customer_name),
        (_("Tenant id"), lambda x: x.customer_tenant_id),
        (_("Reseller MPN id"), lambda x: x.reseller_mpn_id),
        (_("Product"), lambda x: x.product_name),
        (_("SKU"), lambda x: x.sku_name),
        (_("Product id"), lambda x: x.product_id),
        (_("SKU id"), lambda x: x.sku_id),
        (_("Product qualifiers"), lambda x: ", ".join(x.product_qualifiers or [])),
        (_("Subscription"), lambda x: x.subscription_description),
        (_("Subscription id"), lambda x: x.subscription_id),
        (_("Order id"), lambda x: x.order_id),
        (_("Charge type"), lambda x: x.charge_type),
        (_("Charge start"), lambda x: x.charge_start),
        (_("Charge end"), lambda x: x.charge_end),
        (_("Subscription start"), lambda x: x.subscription_start),
        (_("Subscription end"), lambda x: x.subscription_end),
        (_("Term and billing cycle"), lambda x: x.term_and_billing_cycle),
        (_("Billing frequency"), lambda x: x.billing_frequency),
        (_("Unit type"), lambda x: x.unit_type),
        (_("Quantity"), lambda x: x.quantity),
        (_("Billable quantity"), lambda x: x.billable_quantity),
        (_("Unit price"), lambda x: x.unit_price),
        (_("Effective unit price"), lambda x: x.effective_unit_price),
        (_("Subtotal"), lambda x: x.subtotal),
        (_("Tax"), lambda x: x.tax_total),
        (_("Total"), lambda x: x.total),
        (_("Currency"), lambda x: x.currency),
        (_("Pricing currency"), lambda x: x.pricing_currency),
        (_("Exchange rate"), lambda x: x.pc_to_bc_exchange_rate),
        (_("Exchange rate date"), lambda x: x.pc_to_bc_exchange_rate_date),
        (_("Reference id"), lambda x: x.reference_id),
    ]


def rows_of(queryset: QuerySet | list, columns: list[tuple[str, Cell]]) -> Iterator[list[Any]]:
    """The header, then one row per object: a queryset is read in chunks, a list as it is."""
    yield [label for label, _cell in columns]
    objects = queryset if isinstance(queryset, list) else queryset.iterator(chunk_size=CHUNK)
    for obj in objects:
        yield [cell(obj) for _label, cell in columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte-order mark so spreadsheet programs read UTF-8 accents right
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def _xlsx(rows: Iterable[list[Any]], sheet_name: str):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name[:31])
    for row in rows:
        sheet.append([safe_workbook_cell(value) for value in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle


def export_response(
    queryset: QuerySet[ProviderInvoice]
    | QuerySet[InvoiceCustomerTotal]
    | QuerySet[InvoiceLineItem]
    | QuerySet
    | list,
    columns: list[tuple[str, Cell]],
    *,
    file_format: str,
    filename: str,
    sheet: str,
):
    rows = rows_of(queryset, columns)
    if file_format == "xlsx":
        return FileResponse(
            _xlsx(rows, sheet),
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
