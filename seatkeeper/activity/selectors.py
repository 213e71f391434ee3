from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.activity.wording import internal_actions

LAST_RECORDS = 5


def activity_visible_to(user: User) -> QuerySet[ActivityRecord]:
    if not user.is_authenticated or user.organisation_id is None:
        return ActivityRecord.objects.none()
    records = ActivityRecord.objects.filter(
        organisation__path__startswith=user.organisation.path
    ).select_related("organisation", "actor__organisation")
    if user.organisation.kind == OrganisationKind.CUSTOMER:
        # The sellers' own working (margin rules, price lists) is theirs alone.
        records = records.exclude(operation__in=internal_actions())
    return records


def activity_in_context(user: User, organisation: Organisation) -> QuerySet[ActivityRecord]:
    """Records about `organisation` and everything below it, as far as `user` may see."""
    return activity_visible_to(user).filter(organisation__path__startswith=organisation.path)


def last_records(user: User, organisation: Organisation) -> list[ActivityRecord]:
    return list(activity_in_context(user, organisation)[:LAST_RECORDS])


def filter_activity(
    queryset: QuerySet[ActivityRecord],
    *,
    text: str = "",
    operation: str = "",
    object_type: str = "",
    actor: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[ActivityRecord]:
    if text:
        queryset = queryset.filter(
            Q(object_repr__icontains=text)
            | Q(actor_name__icontains=text)
            | Q(operation__icontains=text)
        )
    if operation:
        queryset = queryset.filter(operation=operation)
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if actor:
        queryset = queryset.filter(actor_name__icontains=actor)
    if since:
        queryset = queryset.filter(at__date__gte=since)
    if until:
        queryset = queryset.filter(at__date__lte=until)
    return queryset
