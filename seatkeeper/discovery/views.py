"""Discovery pages: the run history, a run with its live progress (an htmx fragment polled while
it runs), Trigger / Stop / Resume, and the customers waiting for an assignment. Thin views:
scoped reads from selectors, every write through services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.validation import object_id
from seatkeeper.discovery import assignments, kinds, permissions, selectors, services
from seatkeeper.discovery.models import CustomerState, RunState

ERRORS_SHOWN = 50
REPORT_SHOWN = 200


def _require_viewer(request) -> Organisation:
    partner = request.user.organisation
    if partner is None or not permissions.can_see_discovery(request.user, partner):
        raise Http404("No discovery here")
    return partner


@login_required
def run_list(request):
    partner = _require_viewer(request)
    runs = list(selectors.runs_visible_to(request.user)[:100])
    return render(
        request,
        "discovery/run_list.html",
        {
            "rows": [(run, services.run_figures(run)) for run in runs],
            "schedules": [
                (account, services.schedule_for(account))
                for account in selectors.accounts_for_discovery(request.user)
            ],
            "schedule_hours": SCHEDULE_HOURS,
            "can_run": permissions.can_run_discovery(request.user, partner),
            "unassigned": selectors.unassigned_visible_to(request.user).count(),
            "labels": kinds.kind_labels(),
            "nav_active": "discovery",
        },
    )


def _run_context(request, run) -> dict:
    return {
        "run": run,
        "figures": services.run_figures(run),
        "labels": kinds.kind_labels(),
        "can_run": permissions.can_run_discovery(request.user, run.account.organisation),
    }


@login_required
def run_detail(request, pk: int):
    run = selectors.get_run_for_user(request.user, pk)
    failed = run.customers.filter(state=CustomerState.ERROR).order_by("pk")[:ERRORS_SHOWN]
    problems = [
        (row, problem)
        for row in run.customers.exclude(problems=[]).order_by("pk")[:ERRORS_SHOWN]
        for problem in row.problems
    ]
    report = None
    if run.preview:
        created = run.customers.filter(report__customer="create").order_by("company_name", "pk")
        report = {
            "customers": created[:REPORT_SHOWN],
            "count": created.count(),
            "can_confirm": run.state == RunState.COMPLETED and run.confirmed_run_id is None,
        }
    return render(
        request,
        "discovery/run_detail.html",
        {
            **_run_context(request, run),
            "report": report,
            "failed": failed,
            "problems": problems[:ERRORS_SHOWN],
            "nav_active": "discovery",
        },
    )


@login_required
def run_progress(request, pk: int):
    """The live part of the run page, polled while the run is in progress."""
    run = selectors.get_run_for_user(request.user, pk)
    return render(request, "discovery/_progress.html", _run_context(request, run))


def _act(request, call, success: str):
    try:
        result = call()
    except PermissionRefused as refusal:
        raise PermissionDenied(refusal.message) from refusal
    except ServiceError as error:
        messages.error(request, error.message)
        return None
    messages.success(request, success)
    return result


@login_required
@require_POST
def run_start(request, account_pk: int):
    _require_viewer(request)
    account = selectors.get_account_for_discovery(request.user, account_pk)
    preview = request.POST.get("preview") == "1"
    run = _act(
        request,
        lambda: services.run_start(actor=request.user, account=account, preview=preview),
        _("Preview started: nothing is written until you confirm it.")
        if preview
        else _("Discovery started."),
    )
    if run is None:
        return redirect("discovery_runs")
    return redirect("discovery_run", pk=run.pk)


SCHEDULE_HOURS = (6, 12, 24, 48, 168)


@login_required
@require_POST
def schedule_set(request, account_pk: int):
    _require_viewer(request)
    account = selectors.get_account_for_discovery(request.user, account_pk)
    try:
        every_hours = int(request.POST.get("every_hours", ""))
    except ValueError:
        every_hours = 0
    if every_hours not in SCHEDULE_HOURS:
        messages.error(request, _("Choose how often discovery runs by itself."))
        return redirect("discovery_runs")
    _act(
        request,
        lambda: services.schedule_set(
            actor=request.user,
            account=account,
            enabled=request.POST.get("enabled") == "on",
            every_hours=every_hours,
        ),
        _("Discovery schedule saved."),
    )
    return redirect("discovery_runs")


@login_required
@require_POST
def run_stop(request, pk: int):
    run = selectors.get_run_for_user(request.user, pk)
    _act(
        request,
        lambda: services.run_stop(actor=request.user, run=run),
        _("Discovery stopped. Resume continues with the customers not done."),
    )
    return redirect("discovery_run", pk=run.pk)


@login_required
@require_POST
def run_resume(request, pk: int):
    run = selectors.get_run_for_user(request.user, pk)
    _act(
        request,
        lambda: services.run_resume(actor=request.user, run=run),
        _("Discovery resumed."),
    )
    return redirect("discovery_run", pk=run.pk)


@login_required
@require_POST
def run_confirm(request, pk: int):
    run = selectors.get_run_for_user(request.user, pk)
    applied = _act(
        request,
        lambda: services.run_confirm(actor=request.user, run=run),
        _("Preview confirmed: the discovery that applies it started."),
    )
    return redirect("discovery_run", pk=applied.pk if applied else run.pk)


def _resellers(partner: Organisation):
    return Organisation.objects.filter(
        parent=partner, kind=OrganisationKind.RESELLER, is_active=True
    ).order_by("name")


def _reseller(partner: Organisation, value: str) -> Organisation | None:
    if value in ("", "partner"):
        return None
    try:
        return _resellers(partner).get(pk=object_id(value))
    except (Organisation.DoesNotExist, TypeError, ValueError):
        raise Http404("No such reseller") from None


@login_required
def unassigned_list(request):
    partner = _require_viewer(request)
    waiting = selectors.unassigned_visible_to(request.user)
    return render(
        request,
        "discovery/unassigned.html",
        {
            "waiting": waiting[:500],
            "total": waiting.count(),
            "resellers": _resellers(partner),
            "can_assign": permissions.can_assign_customers(request.user, partner),
            "nav_active": "discovery",
        },
    )


@login_required
@require_POST
def assign_one(request, pk: int):
    partner = _require_viewer(request)
    assignment = selectors.get_assignment_for_user(request.user, pk)
    reseller = _reseller(partner, request.POST.get("reseller", ""))
    _act(
        request,
        lambda: assignments.customer_assign(
            actor=request.user, assignment=assignment, reseller=reseller
        ),
        _("%(customer)s assigned.") % {"customer": assignment.customer.name},
    )
    return redirect("discovery_unassigned")


@login_required
@require_POST
def assign_bulk(request):
    partner = _require_viewer(request)
    reseller = _reseller(partner, request.POST.get("reseller", ""))
    if reseller is None:
        messages.error(request, _("Choose the reseller to assign the customers to."))
        return redirect("discovery_unassigned")
    ids = []
    for value in request.POST.getlist("assignment")[: assignments.BULK_LIMIT + 1]:
        try:
            ids.append(object_id(value))
        except (TypeError, ValueError):
            raise Http404("No such customer waiting for an assignment") from None
    _act(
        request,
        lambda: assignments.customers_assign_bulk(
            actor=request.user, partner=partner, assignment_ids=ids, reseller=reseller
        ),
        _("Customers assigned to %(reseller)s.") % {"reseller": reseller.name},
    )
    return redirect("discovery_unassigned")


DRIFT_SHOWN = 500


@login_required
def drift_report(request):
    from seatkeeper.discovery import drift
    from seatkeeper.subscriptions.models import Subscription

    partner = _require_viewer(request)
    subscriptions = Subscription.objects.filter(customer__path__startswith=partner.path)
    return render(
        request,
        "discovery/drift_report.html",
        {"states": drift.drifting(subscriptions)[:DRIFT_SHOWN], "nav_active": "discovery"},
    )
