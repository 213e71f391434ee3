"""Scoped reads of provider accounts: a cloud admin sees their own partner's, nobody else sees
any. Anything outside that answers 404, like a missing account."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from seatkeeper.accounts.models import OrganisationKind, Role, User
from seatkeeper.core.validation import object_id
from seatkeeper.providers.models import ProviderAccount


def accounts_visible_to(user: User) -> QuerySet[ProviderAccount]:
    if (
        not user.is_authenticated
        or not user.is_active
        or user.role != Role.CLOUD_ADMIN
        or user.organisation_id is None
        or user.organisation.kind != OrganisationKind.PARTNER
    ):
        return ProviderAccount.objects.none()
    return ProviderAccount.objects.filter(organisation_id=user.organisation_id).select_related(
        "organisation"
    )


def get_account_for_user(user: User, pk: object) -> ProviderAccount:
    try:
        return accounts_visible_to(user).get(pk=object_id(pk))  # type: ignore[arg-type]
    except (ProviderAccount.DoesNotExist, TypeError, ValueError):
        raise Http404("No such provider account") from None
