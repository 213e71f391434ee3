"""Discovery is the partner's own working: its staff (cloud admins and partner operators) start
and stop runs and assign the customers it finds; read-only partner logins see the runs.
Resellers and customers never see any of it."""

from __future__ import annotations

from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User

STAFF_ROLES = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR}


def _of_partner(user: User, partner: Organisation) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and partner.kind == OrganisationKind.PARTNER
        and user.organisation_id == partner.pk
    )


def can_see_discovery(user: User, partner: Organisation) -> bool:
    return _of_partner(user, partner) and user.role in {*STAFF_ROLES, Role.READ_ONLY}


def can_run_discovery(user: User, partner: Organisation) -> bool:
    return _of_partner(user, partner) and user.role in STAFF_ROLES


def can_assign_customers(user: User, partner: Organisation) -> bool:
    return _of_partner(user, partner) and user.role in STAFF_ROLES
