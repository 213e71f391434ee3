"""Scoped reads: a partner's staff (and its read-only logins) see the runs of its own provider
accounts and the customers they brought in; everyone else sees none, and answers 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from seatkeeper.accounts.models import User
from seatkeeper.core.validation import object_id
from seatkeeper.discovery import permissions
from seatkeeper.discovery.models import Assignment, DiscoveryRun
from seatkeeper.providers.models import ProviderAccount


def _partner(user: User):
    organisation = user.organisation if user.is_authenticated else None
    if organisation is None or not permissions.can_see_discovery(user, organisation):
        return None
    return organisation


def runs_visible_to(user: User) -> QuerySet[DiscoveryRun]:
    partner = _partner(user)
    if partner is None:
        return DiscoveryRun.objects.none()
    return DiscoveryRun.objects.filter(account__organisation=partner).select_related(
        "account", "started_by"
    )


def get_run_for_user(user: User, pk: object) -> DiscoveryRun:
    try:
        return runs_visible_to(user).get(pk=object_id(pk))  # type: ignore[arg-type]
    except (DiscoveryRun.DoesNotExist, TypeError, ValueError):
        raise Http404("No such discovery run") from None


def accounts_for_discovery(user: User) -> QuerySet[ProviderAccount]:
    partner = _partner(user)
    if partner is None:
        return ProviderAccount.objects.none()
    return ProviderAccount.objects.filter(organisation=partner, is_active=True)


def get_account_for_discovery(user: User, pk: object) -> ProviderAccount:
    try:
        return accounts_for_discovery(user).get(pk=object_id(pk))  # type: ignore[arg-type]
    except (ProviderAccount.DoesNotExist, TypeError, ValueError):
        raise Http404("No such provider account") from None


def unassigned_visible_to(user: User) -> QuerySet[Assignment]:
    from seatkeeper.discovery.assignments import unassigned

    partner = _partner(user)
    if partner is None:
        return Assignment.objects.none()
    return unassigned(partner)


def get_assignment_for_user(user: User, pk: object) -> Assignment:
    try:
        return unassigned_visible_to(user).get(pk=object_id(pk))  # type: ignore[arg-type]
    except (Assignment.DoesNotExist, TypeError, ValueError):
        raise Http404("No such customer waiting for an assignment") from None


def latest_run(account: ProviderAccount) -> DiscoveryRun | None:
    return account.discovery_runs.order_by("-created_at", "-pk").first()
