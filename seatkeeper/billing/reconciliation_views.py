"""The reconciliation of a period: its counts per outcome, its difference rows (filtered by
outcome, linked to the subscription and the vendor's lines), accepting or explaining a row,
marking the period reconciled, and the CSV export of the differences. Partner staff only
(`permissions.can_read_invoices`); everything else answers 404. Thin: reads and writes through
`reconciliation`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from seatkeeper.billing import invoice_exports, invoice_selectors, permissions, reconciliation
from seatkeeper.billing.models import (
    LikelyCause,
    Outcome,
    ReconciliationState,
    Resolution,
    SeatSource,
)
from seatkeeper.core.errors import ServiceError


def _require_reader(request) -> None:
    if not permissions.can_read_invoices(request.user):
        raise Http404("No such page")


def difference_columns():
    outcomes = dict(Outcome.choices)
    causes = dict(LikelyCause.choices)
    resolutions = dict(Resolution.choices)
    return [
        (_("Outcome"), lambda x: str(outcomes[x.outcome])),
        (_("Likely cause"), lambda x: str(causes.get(x.cause, x.cause)) if x.cause else ""),
        (_("Vendor subscription id"), lambda x: x.vendor_subscription_id),
        (_("Subscription"), lambda x: x.description),
        (_("Tenant id"), lambda x: x.customer_tenant_id),
        (_("Vendor quantity"), lambda x: x.vendor_quantity),
        (_("Our quantity"), lambda x: x.our_quantity),
        (_("Vendor unit price"), lambda x: x.vendor_unit_price),
        (_("Our unit price"), lambda x: x.our_unit_price),
        (_("Vendor amount"), lambda x: x.vendor_amount),
        (_("Our partner cost"), lambda x: x.our_amount),
        (_("Difference"), lambda x: x.difference),
        (_("Currency"), lambda x: x.currency),
        (_("Resolution"), lambda x: str(resolutions.get(x.resolution, x.resolution))),
        (_("Note"), lambda x: x.note),
        (_("By"), lambda x: x.resolved_by_name),
        (_("When"), lambda x: x.resolved_at.isoformat() if x.resolved_at else ""),
    ]


def seat_columns():
    sources = dict(SeatSource.choices)
    return [
        (_("Vendor subscription id"), lambda x: x.vendor_subscription_id),
        (_("Subscription"), lambda x: x.description),
        (_("Tenant id"), lambda x: x.customer_tenant_id),
        (_("Seats billed"), lambda x: x.billed_seats),
        (_("Billed according to"), lambda x: str(sources.get(x.billed_source, x.billed_source))),
        (_("Seats assigned"), lambda x: x.assigned_seats),
        (_("Unused seats"), lambda x: x.unused_seats),
        (_("Unit price"), lambda x: x.unit_price),
        (_("Cost of the unused seats"), lambda x: x.unused_cost),
        (_("Currency"), lambda x: x.currency),
    ]


def _amounts_text(by_currency: dict) -> str:
    return "; ".join(f"{amount} {currency}" for currency, amount in by_currency.items())


def list_columns():
    states = dict(ReconciliationState.choices)
    return [
        (_("Period start"), lambda x: x.reconciliation.period_start.isoformat()),
        (_("Period end"), lambda x: x.reconciliation.period_end.isoformat()),
        (_("Provider account"), lambda x: x.reconciliation.account.name),
        (_("Currency"), lambda x: " ".join(x.currencies)),
        *((label, lambda x, value=value: x.counts[value]) for value, label in Outcome.choices),
        (_("Open differences"), lambda x: x.open),
        (_("Total difference"), lambda x: _amounts_text(x.differences)),
        (_("Cost of the unused seats"), lambda x: _amounts_text(x.unused_costs)),
        (_("State"), lambda x: str(states[x.reconciliation.state])),
        (_("Reconciled by"), lambda x: x.reconciliation.reconciled_by_name),
        (
            _("Reconciled at"),
            lambda x: (
                x.reconciliation.reconciled_at.isoformat() if x.reconciliation.reconciled_at else ""
            ),
        ),
    ]


@login_required
def reconciliation_list(request):
    _require_reader(request)
    items = reconciliation.reconciliations_visible_to(request.user)
    state = request.GET.get("state", "")
    if state in ReconciliationState.values:
        items = items.filter(state=state)
    else:
        state = ""
    items = items.order_by("-period_start", "-period_end", "account_id", "pk")
    if request.GET.get("export") == "csv":
        return invoice_exports.export_response(
            reconciliation.summaries(list(items)),
            list_columns(),
            file_format="csv",
            filename="reconciliations",
            sheet=_("Reconciliations"),
        )
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "summaries": reconciliation.summaries(list(page.object_list)),
        "state": state,
        "states": ReconciliationState.choices,
        "outcomes": Outcome.choices,
        "nav_active": "invoices",
    }
    return render(request, "billing/reconciliation_list.html", context)


@login_required
@require_POST
def invoice_reconcile(request, pk: int):
    _require_reader(request)
    invoice = invoice_selectors.get_invoice_for_user(request.user, pk)
    try:
        result = reconciliation.reconcile_invoice(invoice=invoice, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
        existing = reconciliation.reconciliation_for_invoice(invoice)
        if existing is not None:
            return redirect("reconciliation_detail", pk=existing.pk)
        return redirect("invoice_detail", pk=invoice.pk)
    messages.success(request, _("The period was compared with the vendor's line items."))
    return redirect("reconciliation_detail", pk=result.pk)


@login_required
def reconciliation_detail(request, pk: int):
    _require_reader(request)
    result = reconciliation.get_reconciliation_for_user(request.user, pk)
    rows = result.rows.select_related("subscription", "invoice")
    outcome = request.GET.get("outcome", "")
    if outcome in Outcome.values and outcome != Outcome.MATCHED:
        rows = rows.filter(outcome=outcome)
    elif outcome == "open":
        rows = reconciliation.unresolved(rows)
    else:
        outcome = ""
    rows = rows.order_by("outcome", "vendor_subscription_id", "currency", "pk")
    if request.GET.get("export") == "csv":
        return invoice_exports.export_response(
            rows,
            difference_columns(),
            file_format="csv",
            filename=f"reconciliation-{result.period_start.isoformat()}-{result.account_id}",
            sheet=_("Differences"),
        )
    seat_rows = result.seat_rows.order_by(
        "-unused_cost", "vendor_subscription_id", "currency", "pk"
    )
    if request.GET.get("export") == "seats":
        return invoice_exports.export_response(
            seat_rows,
            seat_columns(),
            file_format="csv",
            filename=f"seats-{result.period_start.isoformat()}-{result.account_id}",
            sheet=_("Seats"),
        )
    counts = reconciliation.outcome_counts(result)
    context = {
        "seat_page": Paginator(seat_rows, 100).get_page(request.GET.get("seats_page")),
        "seat_totals": reconciliation.seat_totals(result),
        "reconciliation": result,
        "page": Paginator(rows, 100).get_page(request.GET.get("page")),
        "outcome": outcome,
        "outcomes": [(value, label, counts[value]) for value, label in Outcome.choices],
        "open_count": reconciliation.unresolved(result.rows.all()).count(),
        "can_resolve": reconciliation.can_resolve(request.user, result),
        "nav_active": "invoices",
    }
    return render(request, "billing/reconciliation_detail.html", context)


@login_required
@require_POST
def reconciliation_row_resolve(request, pk: int, row_pk: int):
    _require_reader(request)
    result = reconciliation.get_reconciliation_for_user(request.user, pk)
    row = reconciliation.get_row_for_user(request.user, result, row_pk)
    note = request.POST.get("note", "")
    try:
        if request.POST.get("resolution") == Resolution.EXPLAINED:
            reconciliation.row_explain(actor=request.user, row=row, note=note)
        else:
            reconciliation.row_accept(actor=request.user, row=row, note=note)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("reconciliation_detail", pk=result.pk)


@login_required
@require_POST
def reconciliation_mark(request, pk: int):
    _require_reader(request)
    result = reconciliation.get_reconciliation_for_user(request.user, pk)
    try:
        reconciliation.mark_reconciled(actor=request.user, reconciliation=result)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The period is marked reconciled."))
    return redirect("reconciliation_detail", pk=result.pk)
