from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.activity.selectors import activity_in_context, activity_visible_to, filter_activity
from seatkeeper.activity.wording import (
    action_choices,
    action_label,
    describe_record,
    object_type_label,
)
from seatkeeper.ui.tables import Column, build_table, csv_response


def _columns(viewer) -> list[Column]:
    """The log's columns, in words: labels for actions and object types, a sentence for what
    happened (customers do not see their sellers' internal details)."""
    return [
        Column("at", _("When"), lambda r: r.at, "at"),
        Column("actor", _("Done by"), lambda r: r.actor_name, "actor_name"),
        Column(
            "organisation", _("Organisation"), lambda r: r.organisation.name, "organisation__name"
        ),
        Column(
            "object",
            _("Object"),
            lambda r: (
                gettext("%(label)s: %(value)s")
                % {"label": object_type_label(r.object_type), "value": r.object_repr}
            ),
            "object_repr",
        ),
        Column("operation", _("Operation"), lambda r: action_label(r.operation), "operation"),
        Column("details", _("Details"), lambda r: str(describe_record(r, viewer=viewer))),
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
    columns = _columns(request.user)
    if request.GET.get("export") == "csv":
        return csv_response(request, queryset, columns, default_sort="-at", filename="activity.csv")
    table = build_table(request, queryset, columns, default_sort="-at")
    operations = (
        activity_visible_to(request.user).order_by().values_list("operation", flat=True).distinct()
    )
    context = {
        "table": table,
        "organisation": organisation,
        "operations": action_choices(operations),
    }
    if request.htmx:
        return render(request, "activity/activity_list.html#table", context)
    return render(request, "activity/activity_list.html", context)
