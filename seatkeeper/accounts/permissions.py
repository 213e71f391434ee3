"""Who may do what, in one place. Reads go through `selectors`; these answer the change questions.

Reading: a person sees their own organisation and everything below it, nothing above or beside.
Changing depends on the role (DESIGN.md, "Who uses it"):
  cloud admin       — their partner and everything below it
  partner operator  — everything below the partner, not the partner's own record or its staff
  reseller admin    — their reseller and its customers
  customer admin    — their own customer
  read-only         — nothing
Whether an organisation is active and its commercial settings (currency) are decided from above:
only the staff of an organisation above it change them, never its own people.
"""

from __future__ import annotations

from seatkeeper.accounts.models import (
    ALLOWED_CHILDREN,
    ROLE_KINDS,
    Organisation,
    OrganisationKind,
    Role,
    User,
)

# Organisation fields that only the staff above an organisation may change.
COMMERCIAL_FIELDS = frozenset({"is_active", "default_currency"})
PARTNER_STAFF = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR}
ADMIN_ROLES = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR, Role.RESELLER_ADMIN, Role.CUSTOMER_ADMIN}


def can_sign_in(user: User) -> bool:
    """A login works while it is active and its organisation and all above it are active."""
    from seatkeeper.accounts.selectors import organisation_in_service

    if not user.is_active:
        return False
    return user.organisation_id is None or organisation_in_service(user.organisation)


def can_read(user: User, organisation: Organisation) -> bool:
    home = user.organisation
    return home is not None and user.is_active and organisation.is_within(home)


def _can_administer(user: User, organisation: Organisation) -> bool:
    if not can_read(user, organisation):
        return False
    if user.role == Role.PARTNER_OPERATOR:
        return organisation.pk != user.organisation_id
    return user.role in ADMIN_ROLES


def can_change_organisation(user: User, organisation: Organisation) -> bool:
    return _can_administer(user, organisation)


def can_change_commercial_settings(user: User, organisation: Organisation) -> bool:
    """Activate, deactivate, change the currency: the admins of an organisation above it."""
    return (
        organisation.parent_id is not None
        and organisation.pk != user.organisation_id
        and _can_administer(user, organisation)
    )


def can_create_organisation(user: User, parent: Organisation, kind: str) -> bool:
    if kind not in ALLOWED_CHILDREN[parent.kind] or not can_read(user, parent):
        return False
    if user.role in PARTNER_STAFF:
        return True
    return user.role == Role.RESELLER_ADMIN and kind == OrganisationKind.CUSTOMER


def can_manage_users(user: User, organisation: Organisation) -> bool:
    """Invite, change and deactivate the logins of `organisation`."""
    return _can_administer(user, organisation)


def can_act_for_customers(user: User) -> bool:
    """Partner and reseller staff open customers below them and act in their context."""
    return user.role in PARTNER_STAFF | {Role.RESELLER_ADMIN}


def assignable_roles(user: User, organisation: Organisation) -> list[str]:
    """Roles `user` may give a login of `organisation`: valid for its kind, never above theirs."""
    if not can_manage_users(user, organisation):
        return []
    roles = [role for role in Role.values if organisation.kind in ROLE_KINDS[role]]
    if user.role != Role.CLOUD_ADMIN:
        roles = [role for role in roles if role != Role.CLOUD_ADMIN]
    return roles


def can_use_admin_site(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role == Role.CLOUD_ADMIN)
