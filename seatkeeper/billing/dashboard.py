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

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Case, F, Q, Sum, When
from django.db.models.functions import TruncMonth
from django.urls import reverse

from seatkeeper.accounts.models import OrganisationKind, User
from seatkeeper.billing import invoice_selectors, reconciliation, reports
from seatkeeper.billing.models import DocumentType, ReconciliationState
from seatkeeper.billing.permissions import can_read_invoices
from seatkeeper.catalog.models import add_months
from seatkeeper.core import clock
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


# --- money by month and top customers ------------------------------------------------------------

CHART_MONTHS = 12
TOP_CUSTOMERS = 5


@dataclass(frozen=True)
class MonthMoney:
    """One month of one currency at the viewer's audience: what was sold (a customer: what it
    spent), what it cost the viewer's organisation and the difference (None for customers, who
    see no costs), with the billing report of that month behind it."""

    month: dt.date
    revenue: Money
    cost: Money | None
    url: str

    @property
    def margin(self) -> Money | None:
        return None if self.cost is None else self.revenue - self.cost


def _sale_and_cost(kind: str) -> tuple:
    """The sale and cost expressions of the viewer's audience (as the billing report reads
    them, `reports.columns_for`): the partner sells at the reseller price to a reseller and at
    the customer price to a direct customer; a reseller buys at the reseller price."""
    if kind == OrganisationKind.PARTNER:
        sale = Case(
            When(reseller__isnull=False, then=F("reseller_price_amount")),
            default=F("customer_price_amount"),
        )
        return sale, F("partner_cost_amount")
    if kind == OrganisationKind.RESELLER:
        return F("customer_price_amount"), F("reseller_price_amount")
    return F("customer_price_amount"), None


def _range(months: int) -> tuple[dt.date, dt.date]:
    this_month = clock.today().replace(day=1)
    return add_months(this_month, 1 - months), this_month


def _report_url(organisation_id: int, first: dt.date, last: dt.date) -> str:
    query = urlencode(
        {
            "organisation": organisation_id,
            "period": reports.CUSTOM,
            "from": first.strftime("%Y-%m"),
            "to": last.strftime("%Y-%m"),
        }
    )
    return f"{reverse('billing_report')}?{query}"


def _lines(user: User, first: dt.date, last: dt.date):
    return reports.report_filter(
        user,
        {
            "period": reports.CUSTOM,
            "from": first.strftime("%Y-%m"),
            "to": last.strftime("%Y-%m"),
        },
    ).lines()


def money_by_month(user: User, *, months: int = CHART_MONTHS) -> dict[str, list[MonthMoney]]:
    """Per currency, the last `months` months (this one included, oldest first, empty months
    at zero) of the billing report's cycles ending in each, at the viewer's audience: one
    query, grouped by the database."""
    if user.organisation_id is None:
        return {}
    kind = reports.viewer_kind(user)
    first, last = _range(months)
    sale, cost = _sale_and_cost(kind)
    sums = {"revenue": Sum(sale)}
    if cost is not None:
        sums["cost"] = Sum(cost)
    rows = (
        _lines(user, first, last)
        .annotate(month=TruncMonth("cycle__end_date"))
        .values("currency", "month")
        .annotate(**sums)
        .order_by("currency", "month")
    )
    found: dict[str, dict[dt.date, dict]] = {}
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, dt.datetime) else month
        found.setdefault(row["currency"], {})[month] = row
    series = {}
    for currency, by_month in found.items():
        points = []
        for index in range(months):
            month = add_months(first, index)
            row = by_month.get(month, {})
            points.append(
                MonthMoney(
                    month=month,
                    revenue=Money(row.get("revenue") or Decimal(0), currency),
                    cost=None if cost is None else Money(row.get("cost") or Decimal(0), currency),
                    url=_report_url(user.organisation_id, month, month),
                )
            )
        series[currency] = points
    return series


def top_customers(
    user: User, *, months: int = CHART_MONTHS, limit: int = TOP_CUSTOMERS
) -> list[dict] | None:
    """The customers the viewer sold most to over the chart's months, per currency, with the
    viewer's cost and margin of each (one query); None for customers."""
    kind = reports.viewer_kind(user)
    if kind not in (OrganisationKind.PARTNER, OrganisationKind.RESELLER):
        return None
    first, last = _range(months)
    sale, cost = _sale_and_cost(kind)
    rows = (
        _lines(user, first, last)
        .values("customer_id", "customer__name", "currency")
        .annotate(revenue=Sum(sale), cost=Sum(cost))
        .order_by("-revenue", "customer__name", "currency")[:limit]
    )
    return [
        {
            "customer_id": row["customer_id"],
            "name": row["customer__name"],
            "revenue": Money(row["revenue"] or Decimal(0), row["currency"]),
            "cost": Money(row["cost"] or Decimal(0), row["currency"]),
            "margin": Money(
                (row["revenue"] or Decimal(0)) - (row["cost"] or Decimal(0)), row["currency"]
            ),
            "url": _report_url(row["customer_id"], first, last),
        }
        for row in rows
    ]
