"""Scoped reads: every list and detail of organisations and logins loads through here.

An object outside the asker's tree raises Http404, the same answer as a missing one, so a
person can never learn whether another organisation's object exists.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, StringAgg, Value
from django.db.models.functions import Coalesce, Concat
from django.http import Http404

from seatkeeper.accounts.models import ApiToken, Organisation, OrganisationKind, User
from seatkeeper.core.validation import object_id


def organisation_in_service(organisation: Organisation) -> bool:
    """False when `organisation` or any organisation above it is deactivated: deactivating a
    reseller shuts out its customers too."""
    if not organisation.is_active:
        return False
    ancestors = organisation.ancestor_ids
    return (
        not ancestors or not Organisation.objects.filter(pk__in=ancestors, is_active=False).exists()
    )


def partner_of(organisation: Organisation) -> Organisation:
    """The partner at the root of `organisation`'s tree."""
    if organisation.kind == OrganisationKind.PARTNER:
        return organisation
    return Organisation.objects.get(pk=int(organisation.path.strip("/").split("/")[0]))


def organisations_visible_to(user: User) -> QuerySet[Organisation]:
    if not user.is_authenticated or not user.is_active or user.organisation_id is None:
        return Organisation.objects.none()
    return Organisation.objects.filter(path__startswith=user.organisation.path)


def get_organisation_for_user(user: User, pk: object) -> Organisation:
    try:
        return organisations_visible_to(user).select_related("parent").get(pk=object_id(pk))
    except (Organisation.DoesNotExist, TypeError, ValueError):
        raise Http404("No such organisation") from None


def users_visible_to(user: User) -> QuerySet[User]:
    if not user.is_authenticated or not user.is_active or user.organisation_id is None:
        return User.objects.none()
    return User.objects.filter(
        organisation__path__startswith=user.organisation.path
    ).select_related("organisation")


def get_user_for_user(user: User, pk: object) -> User:
    try:
        return users_visible_to(user).get(pk=object_id(pk))
    except (User.DoesNotExist, TypeError, ValueError):
        raise Http404("No such user") from None


def search_organisations(queryset: QuerySet[Organisation], text: str) -> QuerySet[Organisation]:
    text = text.strip()
    if not text:
        return queryset
    return queryset.filter(
        Q(name__icontains=text)
        | Q(legal_name__icontains=text)
        | Q(contact_email__icontains=text)
        | Q(vat_number__icontains=text)
        | Q(city__icontains=text)
    )


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def with_providers(queryset: QuerySet[Organisation]) -> QuerySet[Organisation]:
    """Annotate each organisation with its subscriptions' count and the names of the vendors it
    holds subscriptions or tenants at (newline-separated, repeats included: SQLite cannot
    aggregate DISTINCT with a delimiter, so the list column removes the repeats)."""
    return queryset.annotate(
        subscription_count=Count("subscriptions", distinct=True),
        vendor_names=StringAgg(
            Concat(
                Coalesce("subscriptions__offer__vendor__name", Value("")),
                Value("\n"),
                Coalesce("tenants__account__vendors__name", Value("")),
            ),
            delimiter=Value("\n"),
            default=Value(""),
        ),
    )
