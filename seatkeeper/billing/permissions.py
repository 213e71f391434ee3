"""Who may see and import the vendor's invoices.

They are the partner's cost: what the vendor charges the partner. Only the partner's own people
see them — cloud admins, partner operators and the partner's read-only logins (who see what
their organisation sees). Resellers and customers never do, not even their own tenants' lines:
those are the partner's buying prices. Importing (and importing again) is for cloud admins.
"""

from __future__ import annotations

from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User

READERS = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR, Role.READ_ONLY}


def can_read_invoices(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.organisation_id is not None
        and user.organisation.kind == OrganisationKind.PARTNER
        and user.role in READERS
    )


def can_import_invoices(user: User, partner: Organisation) -> bool:
    return bool(
        user.is_active
        and user.role == Role.CLOUD_ADMIN
        and user.organisation_id == partner.pk
        and partner.kind == OrganisationKind.PARTNER
    )
