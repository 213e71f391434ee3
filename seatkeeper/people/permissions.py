"""Who may onboard a customer's tenant: partner staff, and the admins of the reseller the
customer belongs to. Customer admins and read-only logins may not (their reseller does it)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, Role, User
from seatkeeper.accounts.permissions import PARTNER_STAFF, can_read
from seatkeeper.core.errors import PermissionRefused

ONBOARDING_ROLES = {*PARTNER_STAFF, Role.RESELLER_ADMIN}


def can_onboard(actor: User, customer: Organisation) -> bool:
    return (
        actor is not None
        and actor.is_authenticated
        and can_read(actor, customer)
        and actor.role in ONBOARDING_ROLES
        and actor.organisation_id != customer.pk
    )


def check_onboard(actor: User | None, customer: Organisation) -> None:
    """`actor` None is Seatkeeper itself (the operator's `connect_sandbox` command)."""
    if actor is not None and not can_onboard(actor, customer):
        raise PermissionRefused(_("Only your reseller or partner can onboard the tenant."))
