"""Reads of the people domain, scoped to the person asking."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.accounts.selectors import organisations_visible_to
from seatkeeper.core.errors import ServiceError
from seatkeeper.people.models import TenantOnboarding
from seatkeeper.providers.models import ProviderAccount, ProviderKind
from seatkeeper.subscriptions.models import OperationState, Tenant


def microsoft_account_for(customer: Organisation) -> ProviderAccount:
    """The Microsoft provider account of the partner above `customer`."""
    ancestors = [int(part) for part in customer.path.strip("/").split("/") if part]
    account = (
        ProviderAccount.objects.filter(organisation_id__in=ancestors, kind=ProviderKind.MICROSOFT)
        .order_by("pk")
        .first()
    )
    if account is None:
        raise ServiceError(_("Your partner has no Microsoft provider account yet."))
    return account


def onboardings_visible_to(user: User) -> QuerySet[TenantOnboarding]:
    return TenantOnboarding.objects.filter(
        customer__in=organisations_visible_to(user)
    ).select_related("customer", "tenant")


def get_onboarding_for_user(user: User, pk: object) -> TenantOnboarding:
    try:
        return onboardings_visible_to(user).get(pk=int(str(pk)))
    except (TenantOnboarding.DoesNotExist, TypeError, ValueError):
        raise Http404("No such onboarding") from None


def current_onboarding(customer: Organisation) -> TenantOnboarding | None:
    """The onboarding under way (or failed) for `customer`, else its last finished one."""
    open_one = (
        TenantOnboarding.objects.filter(customer=customer)
        .exclude(state__in=[OperationState.DONE, OperationState.REJECTED])
        .order_by("-pk")
        .first()
    )
    return open_one or TenantOnboarding.objects.filter(customer=customer).order_by("-pk").first()


def microsoft_tenant_of(customer: Organisation) -> Tenant | None:
    return (
        Tenant.objects.filter(customer=customer, account__kind=ProviderKind.MICROSOFT)
        .order_by("pk")
        .first()
    )


def tenants_of(customer: Organisation):
    return Tenant.objects.filter(customer=customer).select_related("account").order_by("pk")
