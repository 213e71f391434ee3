"""The vendor's invoices, as seed 003 shows them: the invoices → one invoice's customers with
their totals → one customer's line items, each with its exports. Thin: scoped reads from
`invoice_selectors`, changes through `invoices`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from seatkeeper.billing import (
    invoice_exports,
    invoice_selectors,
    invoices,
    permissions,
    reconciliation,
)
from seatkeeper.billing.models import DocumentType, LinesState, PaymentStatus, ProviderInvoice
from seatkeeper.core import clock, formatting
from seatkeeper.core.errors import ServiceError
from seatkeeper.ui.tables import Column, build_table

PAYMENT_FILTERS = [
    (PaymentStatus.UNPAID, PaymentStatus.UNPAID.label),
    (PaymentStatus.PARTLY_PAID, PaymentStatus.PARTLY_PAID.label),
    (PaymentStatus.PAID, PaymentStatus.PAID.label),
]


def _money(amount, currency: str) -> str:
    return formatting.format_money(amount, currency)


def _unit_price(amount, currency: str) -> str:
    return formatting.format_unit_price(amount, currency)


def _dates(start, end) -> str:
    if start is None and end is None:
        return ""
    return f"{formatting.format_date(start)} → {formatting.format_date(end)}"


def _period(invoice: ProviderInvoice) -> str:
    return _dates(invoice.period_start, invoice.period_end)


def _invoice_columns() -> list[Column]:
    return [
        Column(
            "number",
            gettext_lazy("Invoice number"),
            lambda x: x.vendor_invoice_id,
            "vendor_invoice_id",
            link=lambda x: reverse("invoice_detail", args=[x.pk]),
        ),
        Column(
            "kind", gettext_lazy("Type"), lambda x: x.get_document_type_display(), "document_type"
        ),
        Column(
            "date",
            gettext_lazy("Invoice date"),
            lambda x: formatting.format_date(x.invoice_date),
            "invoice_date",
        ),
        Column("period", gettext_lazy("Billing period"), _period, "period_start"),
        Column("total", gettext_lazy("Total"), lambda x: _money(x.total, x.currency), "total"),
        Column("paid", gettext_lazy("Paid"), lambda x: _money(x.paid, x.currency), "paid"),
        Column("currency", gettext_lazy("Currency"), lambda x: x.currency, "currency"),
        Column("status", gettext_lazy("Payment"), lambda x: x.get_payment_status_display()),
        Column(
            "lines",
            gettext_lazy("Line items"),
            lambda x: x.get_lines_state_display(),
            "lines_state",
        ),
    ]


def _require_reader(request) -> None:
    if not permissions.can_read_invoices(request.user):
        raise Http404("No such page")


@login_required
def invoice_list(request):
    _require_reader(request)
    queryset = invoice_selectors.filter_invoices(
        invoice_selectors.invoices_visible_to(request.user),
        text=request.GET.get("q", ""),
        status=request.GET.get("status", ""),
        kind=request.GET.get("kind", ""),
    )
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        return invoice_exports.export_response(
            queryset.order_by("-period_start", "-invoice_date", "pk"),
            invoice_exports.invoice_columns(),
            file_format=export,
            filename=f"vendor-invoices-{clock.today().isoformat()}",
            sheet=_("Vendor invoices"),
        )
    table = build_table(request, queryset, _invoice_columns(), default_sort="-period")
    context = {
        "table": table,
        "nav_active": "invoices",
        "statuses": PAYMENT_FILTERS,
        "status": request.GET.get("status", ""),
        "kinds": DocumentType.choices,
        "kind": request.GET.get("kind", ""),
        "last_run": invoice_selectors.import_runs_visible_to(request.user).first(),
        "can_import": permissions.can_import_invoices(request.user, request.user.organisation),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "billing/invoice_list.html#table", context)
    return render(request, "billing/invoice_list.html", context)


@login_required
@require_POST
def invoice_import_now(request):
    _require_reader(request)
    try:
        count = invoices.invoices_import_request(
            actor=request.user, partner=request.user.organisation
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Import asked for: %(count)s provider account(s). New invoices appear here shortly.")
            % {"count": count},
        )
    return redirect("invoice_list")


def _customer_columns(invoice: ProviderInvoice) -> list[Column]:
    return [
        Column(
            "customer",
            gettext_lazy("Customer"),
            lambda x: x.customer_name or x.customer_tenant_id,
            "customer_name",
            link=lambda x: reverse("invoice_customer", args=[invoice.pk, x.customer_tenant_id]),
        ),
        Column(
            "tenant",
            gettext_lazy("Tenant id"),
            lambda x: x.customer_tenant_id,
            "customer_tenant_id",
        ),
        Column("domain", gettext_lazy("Domain"), lambda x: x.customer_domain, "customer_domain"),
        Column("lines", gettext_lazy("Line items"), lambda x: x.line_count, "line_count"),
        Column(
            "subtotal",
            gettext_lazy("Subtotal"),
            lambda x: _money(x.subtotal, x.currency),
            "subtotal",
        ),
        Column("tax", gettext_lazy("Tax"), lambda x: _money(x.tax_total, x.currency), "tax_total"),
        Column("total", gettext_lazy("Total"), lambda x: _money(x.total, x.currency), "total"),
    ]


@login_required
def invoice_detail(request, pk: int):
    _require_reader(request)
    invoice = invoice_selectors.get_invoice_for_user(request.user, pk)
    totals = invoice_selectors.customer_totals(invoice)
    text = request.GET.get("q", "").strip()
    if text:
        totals = totals.filter(customer_name__icontains=text) | totals.filter(
            customer_tenant_id__icontains=text
        )
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        return invoice_exports.export_response(
            totals.order_by("customer_name", "customer_tenant_id"),
            invoice_exports.customer_columns(),
            file_format=export,
            filename=f"{invoice.vendor_invoice_id}-customers",
            sheet=_("Customers"),
        )
    columns = _customer_columns(invoice)
    table = build_table(request, totals, columns, default_sort="customer")
    context = {
        "invoice": invoice,
        "table": table,
        "nav_active": "invoices",
        "amendments": invoice_selectors.invoices_visible_to(request.user).filter(amends=invoice),
        "has_document": hasattr(invoice, "document"),
        "can_import": permissions.can_import_invoices(request.user, invoice.partner),
        "importing": invoice.lines_state in (LinesState.PENDING, LinesState.EXPORTING),
        "reconciliation": reconciliation.reconciliation_for_invoice(invoice),
        "can_reconcile": invoice.period_start is not None
        and invoice.document_type != DocumentType.UNBILLED
        and reconciliation.can_reconcile(request.user, invoice.partner_id),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "billing/invoice_detail.html#table", context)
    return render(request, "billing/invoice_detail.html", context)


@login_required
@require_POST
def invoice_reimport(request, pk: int):
    _require_reader(request)
    invoice = invoice_selectors.get_invoice_for_user(request.user, pk)
    try:
        invoices.invoice_lines_reimport(invoice=invoice, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The line items are being imported again."))
    return redirect("invoice_detail", pk=invoice.pk)


@login_required
def invoice_document(request, pk: int):
    _require_reader(request)
    invoice = invoice_selectors.get_invoice_for_user(request.user, pk)
    document = getattr(invoice, "document", None)
    if document is None:
        raise Http404("No statement for this invoice")
    response = HttpResponse(bytes(document.content), content_type=document.content_type)
    response["Content-Disposition"] = f'inline; filename="{invoice.vendor_invoice_id}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _line_columns() -> list[Column]:
    return [
        Column("position", gettext_lazy("#"), lambda x: x.position + 1, "position"),
        Column("product", gettext_lazy("Product"), lambda x: x.product_name, "product_name"),
        Column("sku", gettext_lazy("SKU"), lambda x: x.sku_name, "sku_name"),
        Column(
            "subscription",
            gettext_lazy("Subscription"),
            lambda x: x.subscription_description or x.subscription_id,
            "subscription_description",
        ),
        Column("charge", gettext_lazy("Charge type"), lambda x: x.charge_type, "charge_type"),
        Column(
            "charged",
            gettext_lazy("Charge period"),
            lambda x: _dates(x.charge_start, x.charge_end),
            "charge_start",
        ),
        Column(
            "quantity",
            gettext_lazy("Quantity"),
            lambda x: formatting.format_number(x.quantity),
            "quantity",
        ),
        Column(
            "unit_price",
            gettext_lazy("Unit price"),
            lambda x: _unit_price(x.effective_unit_price, x.currency),
            "effective_unit_price",
        ),
        Column(
            "subtotal",
            gettext_lazy("Subtotal"),
            lambda x: _money(x.subtotal, x.currency),
            "subtotal",
        ),
        Column("tax", gettext_lazy("Tax"), lambda x: _money(x.tax_total, x.currency), "tax_total"),
        Column("total", gettext_lazy("Total"), lambda x: _money(x.total, x.currency), "total"),
        Column("term", gettext_lazy("Term and billing cycle"), lambda x: x.term_and_billing_cycle),
    ]


@login_required
def invoice_customer(request, pk: int, tenant_id: str):
    _require_reader(request)
    invoice = invoice_selectors.get_invoice_for_user(request.user, pk)
    total = invoice_selectors.get_customer_total(invoice, tenant_id)
    lines = invoice_selectors.search_lines(
        invoice_selectors.customer_lines(invoice, tenant_id), request.GET.get("q", "")
    )
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        return invoice_exports.export_response(
            lines.order_by("position"),
            invoice_exports.line_columns(),
            file_format=export,
            filename=f"{invoice.vendor_invoice_id}-{tenant_id}-lines",
            sheet=_("Line items"),
        )
    table = build_table(request, lines, _line_columns(), default_sort="position")
    context = {
        "invoice": invoice,
        "customer_total": total,
        "table": table,
        "nav_active": "invoices",
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "billing/invoice_customer.html#table", context)
    return render(request, "billing/invoice_customer.html", context)
