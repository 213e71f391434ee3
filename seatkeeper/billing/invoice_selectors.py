"""Scoped reads of the vendor's invoices: the partner's own people see their partner's, nobody
else sees any (`permissions`). Anything outside answers 404, like a missing object."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.http import Http404

from seatkeeper.accounts.models import User
from seatkeeper.billing.models import (
    DocumentType,
    InvoiceCustomerTotal,
    InvoiceImportRun,
    InvoiceLineItem,
    PaymentStatus,
    ProviderInvoice,
)
from seatkeeper.billing.permissions import can_read_invoices


def _partner_id(user: User) -> int:
    return int(user.organisation.path.strip("/").split("/")[0])


def invoices_visible_to(user: User) -> QuerySet[ProviderInvoice]:
    if not can_read_invoices(user):
        return ProviderInvoice.objects.none()
    return ProviderInvoice.objects.filter(partner_id=_partner_id(user)).select_related(
        "account", "amends"
    )


def get_invoice_for_user(user: User, pk: object) -> ProviderInvoice:
    try:
        return invoices_visible_to(user).get(pk=int(pk))  # type: ignore[arg-type]
    except (ProviderInvoice.DoesNotExist, TypeError, ValueError):
        raise Http404("No such invoice") from None


def filter_invoices(
    queryset: QuerySet[ProviderInvoice], *, text: str = "", status: str = "", kind: str = ""
) -> QuerySet[ProviderInvoice]:
    """The list's filters, shared by the page and its exports."""
    text = text.strip()
    if text:
        queryset = queryset.filter(vendor_invoice_id__icontains=text)
    owed = Q(total__gt=0) & ~Q(document_type=DocumentType.UNBILLED)
    if status == PaymentStatus.PAID:
        queryset = queryset.filter(owed, paid__gte=F("total"))
    elif status == PaymentStatus.PARTLY_PAID:
        queryset = queryset.filter(owed, paid__gt=0, paid__lt=F("total"))
    elif status == PaymentStatus.UNPAID:
        queryset = queryset.filter(owed, paid__lte=0)
    if kind in DocumentType.values:
        queryset = queryset.filter(document_type=kind)
    return queryset


def current_lines(invoice: ProviderInvoice | None = None) -> QuerySet[InvoiceLineItem]:
    """Line items of the imports in force (an import under way writes a generation nobody sees
    until it is complete). For reconciliation across invoices, call without an invoice."""
    if invoice is None:
        return InvoiceLineItem.objects.filter(generation=F("invoice__lines_generation"))
    return InvoiceLineItem.objects.filter(invoice=invoice, generation=invoice.lines_generation)


def customer_totals(invoice: ProviderInvoice) -> QuerySet[InvoiceCustomerTotal]:
    return InvoiceCustomerTotal.objects.filter(invoice=invoice).select_related("customer")


def get_customer_total(invoice: ProviderInvoice, tenant_id: str) -> InvoiceCustomerTotal:
    total = customer_totals(invoice).filter(customer_tenant_id=tenant_id).first()
    if total is None:
        raise Http404("No such customer on this invoice")
    return total


def customer_lines(invoice: ProviderInvoice, tenant_id: str) -> QuerySet[InvoiceLineItem]:
    return current_lines(invoice).filter(customer_tenant_id=tenant_id)


def search_lines(queryset: QuerySet[InvoiceLineItem], text: str) -> QuerySet[InvoiceLineItem]:
    text = text.strip()
    if not text:
        return queryset
    return queryset.filter(
        Q(product_name__icontains=text)
        | Q(sku_name__icontains=text)
        | Q(subscription_id__icontains=text)
        | Q(subscription_description__icontains=text)
        | Q(charge_type__icontains=text)
        | Q(order_id__icontains=text)
    )


def import_runs_visible_to(user: User) -> QuerySet[InvoiceImportRun]:
    if not can_read_invoices(user):
        return InvoiceImportRun.objects.none()
    return InvoiceImportRun.objects.filter(partner_id=_partner_id(user)).select_related("account")
