"""The billing report exported: every charge line to CSV or XLSX (friendly name and PO number
included, as seed 001 has them), and a PDF statement per customer and cycle.

CSV and XLSX stream the lines from the database in chunks (reports.iter_line_views), so memory
stays flat whatever the range. The PDF is written with fpdf2 in the reader's language, money in
the reader's locale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.billing import reports
from seatkeeper.billing.models import BillingCycle, ChargeKind
from seatkeeper.core.spreadsheet import safe_workbook_cell
from seatkeeper.subscriptions.exports import csv_lines


def export_rows(user: User, report_filter: reports.ReportFilter) -> Iterator[list[Any]]:
    """The header, then one row per charge line, with the viewer's columns."""
    columns = reports.columns_for(user)
    kinds = {value: str(label) for value, label in ChargeKind.choices}
    staff = reports.viewer_kind(user) != OrganisationKind.CUSTOMER
    header = [
        _("Report date"), _("Cycle from"), _("Cycle to"), _("Customer"),
        *([_("Reseller")] if staff else []),
        _("Subscription"), _("Friendly name"), _("PO number"), _("Offer"), _("Item code"),
        _("Type"), _("Date"), _("Service from"), _("Service to"), _("Quantity"),
    ]  # fmt: skip
    for column in columns:
        header += [
            _("Unit price (%(whose)s)") % {"whose": column.label},
            _("Amount (%(whose)s)") % {"whose": column.label},
        ]
    header += [_("Currency"), _("Explanation"), _("Line"), _("Corrects line")]
    if staff:
        header += [_("Price set by")]
    yield header
    for view in reports.iter_line_views(user, report_filter):
        line = view.values
        row = [
            line["cycle__end_date"] + dt.timedelta(days=1),
            line["cycle__start_date"],
            line["cycle__end_date"],
            line["customer__name"],
            *([line["reseller__name"] or ""] if staff else []),
            line["subscription_id"],
            line["subscription__friendly_name"],
            line["subscription__po_number"],
            line["offer__title"],
            line["offer__item_code"],
            kinds[line["kind"]],
            line["charged_on"],
            line["period_start"],
            line["period_end"] - dt.timedelta(days=1),
            line["quantity"],
        ]
        for unit, amount in zip(view.units, view.amounts, strict=True):
            row += [unit, amount]
        row += [line["currency"], view.explanation, line["id"], line["corrects_id"] or ""]
        if staff:
            row.append("; ".join(text for text, _url in view.sources if text))
        yield row


def xlsx_file(rows):
    import tempfile

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Billing report")[:31])
    for row in rows:
        sheet.append([safe_workbook_cell(value) for value in row])  # numbers stay numbers
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle


def export_response(user: User, report_filter: reports.ReportFilter, file_format: str):
    rows = export_rows(user, report_filter)
    name = f"billing-report-{report_filter.first:%Y-%m}-{report_filter.last:%Y-%m}"
    if file_format == "xlsx":
        return FileResponse(
            xlsx_file(rows),
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


# --- the PDF statement -----------------------------------------------------------------------


def _pdf_text(text: str) -> str:
    """The core PDF fonts speak Windows-1252: spaces Django's French format uses outside it
    become no-break spaces; anything else unknown becomes "?"."""
    text = text.replace("\u202f", "\u00a0")
    return text.encode("cp1252", errors="replace").decode("cp1252")


def statement_pdf(user: User, customer: Organisation, cycle: BillingCycle) -> bytes:
    """One customer's charges of one cycle, at the viewer's sale price (a customer: its price)."""
    from fpdf import FPDF

    report_filter = reports.ReportFilter(
        organisation=customer,
        first=cycle.end_date,
        last=cycle.end_date,
        period=reports.CUSTOM,
        month_from="",
        month_to="",
    )
    column = reports.columns_for(user)[-1]
    views = [
        view
        for view in reports.iter_line_views(user, report_filter)
        if view.values["cycle__start_date"] == cycle.start_date
    ]
    kinds = {value: str(label) for value, label in ChargeKind.choices}
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_title(_pdf_text(_("Statement")))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, _pdf_text(_("Statement")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=10)
    heading = [
        customer.legal_name or customer.name,
        customer.address_line1,
        f"{customer.postal_code} {customer.city}",
        _("Billing cycle: %(start)s to %(end)s")
        % {
            "start": reports.date_text(cycle.start_date),
            "end": reports.date_text(cycle.end_date),
        },
        _("Report date: %(day)s")
        % {"day": reports.date_text(cycle.end_date + dt.timedelta(days=1))},
        _("Prices: %(whose)s") % {"whose": column.label},
    ]
    for text in heading:
        pdf.cell(0, 5, _pdf_text(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = [62, 24, 20, 16, 28, 30]
    pdf.set_font("helvetica", "B", 9)
    for width, title in zip(
        widths,
        [_("Subscription"), _("Type"), _("Date"), _("Quantity"), _("Unit price"), _("Amount")],
        strict=True,
    ):
        pdf.cell(width, 6, _pdf_text(title), border="B")
    pdf.ln()
    pdf.set_font("helvetica", size=9)
    totals: dict[str, Decimal] = {}
    for view in views:
        line = view.values
        name = line["subscription__friendly_name"] or line["offer__title"]
        if line["subscription__po_number"]:
            name += f" (PO {line['subscription__po_number']})"
        amount = view.amounts[-1]
        totals[line["currency"]] = totals.get(line["currency"], Decimal(0)) + amount
        cells = [
            name[:40],
            kinds[line["kind"]],
            reports.date_text(line["charged_on"]),
            str(line["quantity"]),
            reports.money_text(view.units[-1], line["currency"], unit=True),
            reports.money_text(amount, line["currency"]),
        ]
        for index, (width, text) in enumerate(zip(widths, cells, strict=True)):
            pdf.cell(width, 5, _pdf_text(text), align="R" if index >= 3 else "L")
        pdf.ln()
        pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(0, 4, _pdf_text(view.explanation), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.set_font("helvetica", "B", 10)
    if not views:
        pdf.cell(0, 6, _pdf_text(_("No charges in this cycle.")), new_x="LMARGIN", new_y="NEXT")
    for currency, total in sorted(totals.items()):
        pdf.cell(sum(widths[:-1]), 6, _pdf_text(_("Total (%(currency)s)") % {"currency": currency}))
        pdf.cell(
            widths[-1], 6, _pdf_text(reports.money_text(total, currency)), align="R", border="T"
        )
        pdf.ln()
    return bytes(pdf.output())


def statement_response(user: User, customer: Organisation, cycle: BillingCycle) -> HttpResponse:
    content = statement_pdf(user, customer, cycle)
    response = HttpResponse(content, content_type="application/pdf")
    name = f"statement-{customer.pk}-{cycle.end_date.isoformat()}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
