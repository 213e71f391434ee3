"""Who may see and change provider accounts: only the partner's cloud admins (DESIGN.md: they
register provider accounts and hold the vendor credentials). Partner operators, resellers and
customers never see them; another partner's accounts do not exist for anyone else."""

from __future__ import annotations

from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User


def is_cloud_admin_of(user: User, partner: Organisation) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.role == Role.CLOUD_ADMIN
        and user.organisation_id == partner.pk
        and partner.kind == OrganisationKind.PARTNER
    )


def can_manage_provider_accounts(user: User, partner: Organisation) -> bool:
    return is_cloud_admin_of(user, partner)
