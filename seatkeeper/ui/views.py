from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.accounts.selectors import organisations_visible_to, users_visible_to
from seatkeeper.activity.selectors import last_records
from seatkeeper.billing.dashboard import money_summary
from seatkeeper.core.validation import InvalidQuery
from seatkeeper.subscriptions.selectors import dashboard_summary
from seatkeeper.ui import dashboard as figures


@login_required
def dashboard(request):
    organisations = organisations_visible_to(request.user)
    counts = dict(organisations.order_by().values_list("kind").annotate(n=Count("pk")))
    return render(
        request,
        "ui/dashboard.html",
        {
            "counts": counts,
            "user_count": users_visible_to(request.user).count(),
            "activity": last_records(request.user, request.user.organisation),
            "subscriptions": dashboard_summary(request.user),
            "money": money_summary(request.user),
            "figures": figures.summary(request.user),
            # a customer's own people see their organisation, not a count of one customer
            "shows_customers": request.user.organisation_id is not None
            and request.user.organisation.kind != OrganisationKind.CUSTOMER,
        },
    )


def health(request) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def bad_request(request, exception=None) -> HttpResponse:
    """400: a query that cannot be read says which field and why (core.validation.InvalidQuery);
    other bad requests say nothing more (their details are not for the person asking)."""
    message = str(exception) if isinstance(exception, InvalidQuery) else ""
    return render(request, "ui/400.html", {"message": message}, status=400)


def forbidden(request, exception=None) -> HttpResponse:
    """403 anywhere: the styled "Not allowed" page with the refusal's own words (a view refuses
    by raising PermissionDenied with the service's or the rights' message), never Django's
    plain one."""
    message = str(exception) if exception is not None and str(exception) else ""
    return render(
        request, "ui/403.html", {"message": message or _("You may not do this.")}, status=403
    )
