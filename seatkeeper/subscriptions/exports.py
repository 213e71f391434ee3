"""Subscription lists exported to CSV and XLSX, every matching row, in flat memory.

Rows come from the database with `.iterator()` in chunks and are priced in memory from one
pricing context, so neither the queries nor the memory grow with the row count: CSV streams
line by line, XLSX goes through openpyxl's write-only workbook (rows go straight to a temporary
file, not to a tree in memory).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import User
from seatkeeper.catalog.models import OfferKind
from seatkeeper.core.spreadsheet import safe_cell, safe_workbook_cell
from seatkeeper.pricing.audiences import Audience
from seatkeeper.subscriptions.display import RowPricer, ShownPrice
from seatkeeper.subscriptions.models import RenewalOption, Status, Subscription, SyncStatus
from seatkeeper.ui.tables import Column

EXPORT_CHUNK = 2000
# Only what the columns read, as plain values: building 100,000 model instances (five per row
# with the related ones) was most of an export's time.
EXPORT_FIELDS = [
    "pk", "customer_id", "customer__name", "reseller__name", "offer_id",
    "offer__title", "offer__item_code", "offer__kind", "offer__vendor__name", "parent_id",
    "friendly_name", "po_number", "external_identifier", "quantity", "term", "billing_cycle",
    "status", "is_trial", "auto_renew", "renewal_option", "created_at", "commitment_end_date",
    "sync_status", "sync_error_code", "sync_error_message", "vendor_subscription_id",
    "addon_count",
]  # fmt: skip

Cell = Callable[[dict[str, Any], ShownPrice], Any]


def export_columns(audience: Audience) -> list[tuple[str, Cell]]:
    """The columns of an export: the list's, plus what a spreadsheet needs spelled out.

    Labels of choices are translated once here, not once per cell: at 100,000 rows the
    per-cell gettext calls were most of the export's time."""
    yes_no = {True: _("Yes"), False: _("No")}
    statuses = {value: str(label) for value, label in Status.choices}
    sync = {value: str(label) for value, label in SyncStatus.choices}
    renewal = {value: str(label) for value, label in RenewalOption.choices}
    kinds = {value: str(label) for value, label in OfferKind.choices}
    return [
        (_("Customer"), lambda s, p: s["customer__name"]),
        (_("Associated reseller"), lambda s, p: s["reseller__name"] or ""),
        (_("Provider"), lambda s, p: s["offer__vendor__name"]),
        (_("Friendly name"), lambda s, p: s["friendly_name"]),
        (_("Offer"), lambda s, p: s["offer__title"]),
        (_("Item code"), lambda s, p: s["offer__item_code"]),
        (_("Section"), lambda s, p: kinds.get(s["offer__kind"], s["offer__kind"])),
        (_("Creation date"), lambda s, p: s["created_at"].date()),
        (_("Quantity"), lambda s, p: s["quantity"]),
        (_("Assigned"), lambda s, p: 0),
        (_("Commitment end date"), lambda s, p: s["commitment_end_date"]),
        (_("Auto renewable"), lambda s, p: yes_no[s["auto_renew"]]),
        (_("Renewal"), lambda s, p: renewal.get(s["renewal_option"], s["renewal_option"])),
        (_("Status"), lambda s, p: statuses.get(s["status"], s["status"])),
        (_("Is trial"), lambda s, p: yes_no[s["is_trial"]]),
        (_("Term"), lambda s, p: s["term"]),
        (_("Billing cycle"), lambda s, p: s["billing_cycle"]),
        (_("Add-ons"), lambda s, p: s["addon_count"]),
        (
            _("Price per billing period (%(whose)s)") % {"whose": audience.label},
            lambda s, p: p.total.amount if p.total is not None else "",
        ),
        (_("Currency"), lambda s, p: p.total.currency if p.total is not None else ""),
        (_("Price explanation"), lambda s, p: p.explanation or p.error),
        (_("Provisioning"), lambda s, p: sync.get(s["sync_status"], s["sync_status"])),
        (
            _("Vendor error"),
            lambda s, p: f"{s['sync_error_code']} {s['sync_error_message']}".strip(),
        ),
        (_("PO number"), lambda s, p: s["po_number"]),
        (_("External identifier"), lambda s, p: s["external_identifier"]),
        (_("Vendor subscription id"), lambda s, p: s["vendor_subscription_id"]),
    ]


def ordering(request, columns: list[Column], default: str = "-created") -> list[str]:
    """The list's sort, applied to the export (only declared columns, like the page)."""
    by_key = {column.key: column for column in columns if column.sort_field}
    requested = request.GET.get("sort", default)
    descending = requested.startswith("-")
    column = by_key.get(requested.lstrip("-"))
    if column is None:
        descending = default.startswith("-")
        column = by_key[default.lstrip("-")]
    field = column.sort_field
    return [f"-{field}" if descending else field, "-pk" if descending else "pk"]


def export_rows(
    user: User, queryset: QuerySet[Subscription], audience: Audience, order_by: list[str]
) -> Iterator[list[Any]]:
    """The header, then one list of cells per subscription."""
    columns = export_columns(audience)
    yield [label for label, _cell in columns]
    pricer = RowPricer(user, audience)
    rows = queryset.order_by(*order_by).values(*EXPORT_FIELDS)
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        price = pricer.price_of(
            offer_id=row["offer_id"],
            customer_id=row["customer_id"],
            term=row["term"],
            billing_cycle=row["billing_cycle"],
            quantity=row["quantity"],
            subscription_id=row["pk"],
        )
        yield [cell(row, price) for _label, cell in columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte-order mark so spreadsheet programs read UTF-8 accents right
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def xlsx_file(rows: Iterable[list[Any]]):
    """A temporary file holding the workbook, rewound for reading."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Subscriptions")[:31])
    for row in rows:
        sheet.append([safe_workbook_cell(value) for value in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle


def export_response(
    request,
    queryset: QuerySet[Subscription],
    *,
    columns: list[Column],
    audience: Audience,
    file_format: str,
    filename: str,
):
    rows = export_rows(request.user, queryset, audience, ordering(request, columns))
    if file_format == "xlsx":
        return FileResponse(
            xlsx_file(rows),
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
