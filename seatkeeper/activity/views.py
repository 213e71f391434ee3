from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.activity.selectors import activity_in_context, activity_visible_to, filter_activity
from seatkeeper.ui.tables import Column, build_table, csv_response

COLUMNS = [
    Column("at", _("When"), lambda r: r.at, "at"),
    Column("actor", _("Done by"), lambda r: r.actor_name, "actor_name"),
    Column("organisation", _("Organisation"), lambda r: r.organisation.name, "organisation__name"),
    Column("object", _("Object"), lambda r: f"{r.object_type}: {r.object_repr}", "object_repr"),
    Column("operation", _("Operation"), lambda r: r.operation, "operation"),
    Column(
        "details",
        _("Details"),
        lambda r: "; ".join(f"{field}: {old} → {new}" for field, (old, new) in r.changes.items()),
    ),
]


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
def activity_list(request):
    organisation = None
    if request.GET.get("organisation"):
        organisation = get_organisation_for_user(request.user, request.GET["organisation"])
        queryset = activity_in_context(request.user, organisation)
    else:
        queryset = activity_visible_to(request.user)
    queryset = filter_activity(
        queryset,
        text=request.GET.get("q", "").strip(),
        operation=request.GET.get("operation", ""),
        object_type=request.GET.get("object_type", ""),
        actor=request.GET.get("actor", "").strip(),
        since=_date(request.GET.get("since", "")),
        until=_date(request.GET.get("until", "")),
    )
    if request.GET.get("export") == "csv":
        return csv_response(request, queryset, COLUMNS, default_sort="-at", filename="activity.csv")
    table = build_table(request, queryset, COLUMNS, default_sort="-at")
    operations = (
        activity_visible_to(request.user).order_by().values_list("operation", flat=True).distinct()
    )
    context = {"table": table, "organisation": organisation, "operations": sorted(set(operations))}
    if request.htmx:
        return render(request, "activity/activity_list.html#table", context)
    return render(request, "activity/activity_list.html", context)
