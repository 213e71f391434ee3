"""Who may change the catalog and prices (reads go through the selectors).

cloud admin       — the partner's catalog, manual vendors, vendor prices, exchange rates, price
                    lists, guardrails, and the margins towards resellers and customers
partner operator  — margins towards customers (day-to-day customer work)
reseller admin    — margins towards its own customers
anyone else       — nothing
"""

from __future__ import annotations

from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User


def is_cloud_admin_of(user: User, partner: Organisation) -> bool:
    return (
        user.is_active
        and user.role == Role.CLOUD_ADMIN
        and user.organisation_id == partner.pk
        and partner.kind == OrganisationKind.PARTNER
    )


def can_manage_catalog(user: User, partner: Organisation) -> bool:
    return is_cloud_admin_of(user, partner)


def can_manage_prices(user: User, partner: Organisation) -> bool:
    """Vendor prices, exchange rates, price lists and guardrails."""
    return is_cloud_admin_of(user, partner)


def can_set_rule(
    user: User, *, owner: Organisation, tier: str, target: Organisation | None
) -> bool:
    """May `user` write a rule set by `owner` for `tier` about `target` (None: all below)?"""
    if not user.is_active or user.organisation_id != owner.pk:
        return False
    if target is not None and not (target.is_within(owner) and target.pk != owner.pk):
        return False
    if owner.kind == OrganisationKind.PARTNER:
        if tier == "reseller":
            return user.role == Role.CLOUD_ADMIN and (
                target is None or target.kind == OrganisationKind.RESELLER
            )
        return user.role in {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR}
    if owner.kind == OrganisationKind.RESELLER:
        return (
            user.role == Role.RESELLER_ADMIN
            and tier == "customer"
            and (target is None or target.kind == OrganisationKind.CUSTOMER)
        )
    return False
