"""Navigation by role: the menu shows only what the signed-in person may open."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts import permissions
from seatkeeper.accounts.models import Role
from seatkeeper.billing.permissions import can_read_invoices
from seatkeeper.discovery.permissions import can_see_discovery


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.organisation_id is None:
        return {"nav_items": []}
    items = [("dashboard", _("Dashboard"), reverse("dashboard"))]
    if user.role in permissions.PARTNER_STAFF | {Role.RESELLER_ADMIN} or (
        user.role == Role.READ_ONLY and user.organisation.kind != "customer"
    ):
        items.append(("organisations", _("Organisations"), reverse("organisation_list")))
    items.append(
        (
            "my_organisation",
            _("My organisation"),
            reverse("organisation_detail", args=[user.organisation_id]),
        )
    )
    items.append(("catalog", _("Catalog"), reverse("catalog_offers")))
    if user.organisation.kind != "customer":
        items.append(("pricing", _("Pricing"), reverse("pricing_whatif")))
    if user.organisation.kind == "customer":
        subscriptions = reverse("customer_subscriptions", args=[user.organisation_id])
    else:
        subscriptions = reverse("subscription_list_all")
    items.append(("subscriptions", _("Subscriptions"), subscriptions))
    items.append(("billing", _("Billing"), reverse("billing_report")))
    if user.role in permissions.PARTNER_STAFF:
        items.append(("fulfilment", _("Fulfilment"), reverse("fulfilment_queue")))
    if user.role == Role.CLOUD_ADMIN and user.organisation.kind == "partner":
        items.append(("providers", _("Provider accounts"), reverse("provider_accounts")))
    if can_see_discovery(user, user.organisation):
        items.append(("discovery", _("Discovery"), reverse("discovery_runs")))
    if can_read_invoices(user):
        items.append(("invoices", _("Vendor invoices"), reverse("invoice_list")))
    items.append(("activity", _("Activity log"), reverse("activity_list")))
    if permissions.can_use_admin_site(user):
        items.append(("admin", _("Administration"), reverse("admin:index")))
    return {"nav_items": items}
