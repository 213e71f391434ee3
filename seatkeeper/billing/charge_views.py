"""Billing pages: the billing report (range, expand in place, exports), the PDF statement per
customer and cycle, and the billing-cycle days. Thin: scoped reads through `reports`, every
change through a service."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.accounts.permissions import PARTNER_STAFF
from seatkeeper.accounts.selectors import get_organisation_for_user, organisations_visible_to
from seatkeeper.billing import cycles, exports, reports
from seatkeeper.billing.models import BillingCycleDay
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.wording import fill


def _filter_or_error(request):
    try:
        return reports.report_filter(request.user, request.GET), None
    except ServiceError as error:
        return None, error


@login_required
def billing_report(request):
    report_filter, error = _filter_or_error(request)
    context = {
        "organisations": reports.report_organisations(request.user),
        "params": request.GET,
        "error": error,
        "nav_active": "billing",
        "can_see_cycles": request.user.organisation_id is not None
        and request.user.organisation.kind != OrganisationKind.CUSTOMER,
    }
    if report_filter is not None:
        export = request.GET.get("export")
        if export in ("csv", "xlsx"):
            return exports.export_response(request.user, report_filter, export)
        report = reports.build_report(request.user, report_filter)
        context.update({"report": report, "filter": report_filter})
    return render(
        request, "billing/charges/report.html", context, status=400 if error is not None else 200
    )


@login_required
def billing_statement(request, customer_pk: int, end: str):
    customer = get_organisation_for_user(request.user, customer_pk)
    try:
        end_date = dt.date.fromisoformat(end)
    except ValueError:
        raise Http404("Not a date") from None
    cycle = reports.statement_cycle(request.user, customer, end_date)
    return exports.statement_response(request.user, customer, cycle)


def _accounts(request) -> list[Organisation]:
    visible = organisations_visible_to(request.user).filter(
        kind__in=[OrganisationKind.PARTNER, OrganisationKind.RESELLER]
    )
    return list(visible.order_by("path"))


@login_required
def billing_cycles(request):
    """Each billing account's cycle day: partner staff change it, others read it."""
    user = request.user
    if user.organisation_id is None or user.organisation.kind == OrganisationKind.CUSTOMER:
        raise Http404("Customers have no billing cycles of their own")
    errors: dict[str, str] = {}
    if request.method == "POST":
        account = get_organisation_for_user(user, request.POST.get("organisation"))
        try:
            day = int(request.POST.get("day", ""))
        except ValueError:
            day = 0
        try:
            cycles.billing_cycle_day_set(
                actor=user,
                organisation=account,
                day=day,
                time_zone=request.POST.get("time_zone", ""),
            )
        except ValidationError as error:
            errors = {key: " ".join(value) for key, value in error.message_dict.items()}
        except ServiceError as error:
            errors = {error.field or "form": error.message}
        else:
            messages.success(
                request,
                fill(
                    _("The billing cycle of %(name)s changes from its next cycle."),
                    {"name": account.name},
                ),
            )
            return redirect("billing_cycles")
    rows = []
    settings = cycles.settings_by_account([account.pk for account in _accounts(request)])
    pending = {
        row.organisation_id: row
        for row in BillingCycleDay.objects.filter(organisation_id__in=list(settings)).order_by(
            "effective_from"
        )
    }
    for account in _accounts(request):
        account_settings = settings[account.pk]
        today = cycles.today_for(account_settings)
        current = cycles.setting_on(account_settings, today)
        upcoming = pending.get(account.pk)
        rows.append(
            {
                "account": account,
                "setting": current,
                "cycle": cycles.cycle_holding(account_settings, today),
                "upcoming": upcoming if upcoming and upcoming.effective_from > today else None,
            }
        )
    return render(
        request,
        "billing/charges/cycles.html",
        {
            "rows": rows,
            "can_change": user.role in PARTNER_STAFF,
            "errors": errors,
            "posted": request.POST,
            "nav_active": "billing",
        },
        status=400 if errors else 200,
    )
