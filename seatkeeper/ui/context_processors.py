"""Navigation by role: the menu shows only what the signed-in person may open, in a few top-level
entries; the rest sits in groups (a <details> menu each: keyboard and no-JS friendly). A group
holding one entry only shows as that entry."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts import permissions
from seatkeeper.accounts.models import Role
from seatkeeper.billing.permissions import can_read_invoices
from seatkeeper.discovery.permissions import can_see_discovery


@dataclass(frozen=True)
class NavLink:
    key: str
    label: str
    url: str

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str
    items: tuple[NavLink, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)


def _group(key: str, label, items: list[NavLink]) -> list[NavLink | NavGroup]:
    if len(items) > 1:
        return [NavGroup(key, label, tuple(items))]
    return list(items)


def _ordering_allowed(user) -> bool:
    from seatkeeper.subscriptions.display import ActionGate
    from seatkeeper.subscriptions.permissions import Action

    return ActionGate(user).allowed(user.organisation, Action.ORDER)


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.organisation_id is None:
        return {"nav_items": []}
    organisation = user.organisation
    is_customer = organisation.kind == "customer"
    # The brand at the left of the menu is the link to the dashboard.
    entries: list[NavLink | NavGroup] = []
    if user.role in permissions.PARTNER_STAFF | {Role.RESELLER_ADMIN} or (
        user.role == Role.READ_ONLY and not is_customer
    ):
        entries.append(NavLink("organisations", _("Organisations"), reverse("organisation_list")))
    if is_customer:
        subscriptions = reverse("customer_subscriptions", args=[user.organisation_id])
    else:
        subscriptions = reverse("subscription_list_all")
    entries.append(NavLink("subscriptions", _("Subscriptions"), subscriptions))
    if is_customer and _ordering_allowed(user):
        store = reverse("estore", args=[user.organisation_id])
        entries.append(NavLink("store", _("E-store"), store))
    if user.role in permissions.PARTNER_STAFF:
        entries.append(NavLink("fulfilment", _("Fulfilment"), reverse("fulfilment_queue")))
    catalog = [NavLink("catalog", _("Catalog"), reverse("catalog_offers"))]
    if not is_customer:
        catalog.append(NavLink("pricing", _("Pricing"), reverse("pricing_whatif")))
    entries += _group("catalog_pricing", _("Catalog & pricing"), catalog)
    billing = [NavLink("billing", _("Billing report"), reverse("billing_report"))]
    if can_read_invoices(user):
        billing.append(NavLink("invoices", _("Vendor invoices"), reverse("invoice_list")))
    entries += _group("billing_group", _("Billing"), billing)
    settings = [
        NavLink(
            "my_organisation",
            _("My organisation"),
            reverse("organisation_detail", args=[user.organisation_id]),
        )
    ]
    if is_customer:
        users = reverse("customer_users", args=[user.organisation_id])
        settings.append(NavLink("people", _("Users and licences"), users))
    if user.role == Role.CLOUD_ADMIN and organisation.kind == "partner":
        settings.append(NavLink("providers", _("Provider accounts"), reverse("provider_accounts")))
    if can_see_discovery(user, organisation):
        settings.append(NavLink("discovery", _("Discovery"), reverse("discovery_runs")))
    settings.append(NavLink("activity", _("Activity log"), reverse("activity_list")))
    if permissions.can_use_admin_site(user):
        settings.append(NavLink("admin", _("Administration"), reverse("admin:index")))
    entries += _group("settings", _("Settings"), settings)
    return {"nav_items": entries}
