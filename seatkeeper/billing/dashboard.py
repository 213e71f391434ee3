"""The money tiles of the home page, scoped to the viewer:

- partner staff and resellers: what was billed in the last month's cycles (the billing report's
  default range), at the viewer's own audience — the partner's sale (reseller price for a
  reseller's customers, customer price for its direct customers) with its partner cost; a
  reseller's customer price with its own cost (the reseller price);
- partner staff only (the vendor's documents are the partner's): the last vendor invoice's
  total, and the differences of the reconciliations still neither explained nor accepted.

Amounts are Decimal sums per currency, added by the database from the rounded lines (never
rounded again), so a tile equals the report behind it."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, Sum
from django.urls import reverse

from seatkeeper.accounts.models import OrganisationKind, User
from seatkeeper.billing import invoice_selectors, reconciliation, reports
from seatkeeper.billing.models import DocumentType, ReconciliationState
from seatkeeper.billing.permissions import can_read_invoices
from seatkeeper.core.money import Money


def _billed(user: User) -> dict | None:
    kind = reports.viewer_kind(user)
    if kind not in (OrganisationKind.PARTNER, OrganisationKind.RESELLER):
        return None
    report_filter = reports.report_filter(user, {})
    if kind == OrganisationKind.PARTNER:
        sums = {
            "cost": Sum("partner_cost_amount"),
            "sale_resold": Sum("reseller_price_amount", filter=Q(reseller__isnull=False)),
            "sale_direct": Sum("customer_price_amount", filter=Q(reseller__isnull=True)),
        }
    else:
        sums = {"cost": Sum("reseller_price_amount"), "sale_direct": Sum("customer_price_amount")}
    rows = report_filter.lines().values("currency").annotate(**sums).order_by("currency")
    totals = []
    for row in rows:
        sale = (row.get("sale_resold") or Decimal(0)) + (row.get("sale_direct") or Decimal(0))
        totals.append(
            {
                "billed": Money(sale, row["currency"]),
                "cost": Money(row["cost"] or Decimal(0), row["currency"]),
            }
        )
    return {
        "totals": totals,
        "first": report_filter.first,
        "last": report_filter.last,
        "url": reverse("billing_report"),
    }


def _last_invoice(user: User):
    return (
        invoice_selectors.invoices_visible_to(user)
        .filter(document_type=DocumentType.INVOICE, invoice_date__isnull=False)
        .order_by("-invoice_date", "-pk")
        .first()
    )


def _differences(user: User) -> dict:
    summary = reconciliation.unreconciled_differences(user)
    open_one = (
        reconciliation.reconciliations_visible_to(user)
        .filter(state=ReconciliationState.OPEN)
        .filter(pk__in=reconciliation.unresolved_rows(user).values("reconciliation_id"))
        .order_by("-period_start", "pk")
        .first()
    )
    url = (
        f"{reverse('reconciliation_detail', args=[open_one.pk])}?outcome=open"
        if open_one is not None
        else reverse("invoice_list")
    )
    return {
        "count": summary["count"],
        "amounts": [Money(amount, currency) for currency, amount in summary["amounts"].items()],
        "url": url,
    }


def money_summary(user: User) -> dict | None:
    """The tiles `user` may see, or None (customers see no money tiles)."""
    billed = _billed(user)
    if billed is None:
        return None
    summary = {"billed": billed, "partner": False}
    if can_read_invoices(user):
        invoice = _last_invoice(user)
        summary.update(
            partner=True,
            last_invoice=invoice,
            last_invoice_url=reverse("invoice_detail", args=[invoice.pk])
            if invoice is not None
            else reverse("invoice_list"),
            differences=_differences(user),
        )
    return summary
