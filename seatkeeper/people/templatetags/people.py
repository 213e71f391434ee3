"""`{% tenant_notice customer %}`: on the customer's pages and in the store, the way to its
Microsoft tenant when it has none yet (for those who may onboard it)."""

from __future__ import annotations

from django import template

from seatkeeper.core.errors import ServiceError
from seatkeeper.people import selectors
from seatkeeper.people.permissions import can_onboard

register = template.Library()


@register.inclusion_tag("people/_tenant_notice.html", takes_context=True)
def tenant_notice(context, customer) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    shown = {"show": False, "customer": customer}
    if customer is None or user is None or not can_onboard(user, customer):
        return shown
    try:
        selectors.microsoft_account_for(customer)
    except ServiceError:
        return shown
    if selectors.microsoft_tenant_of(customer) is not None:
        return shown
    return {**shown, "show": True, "onboarding": selectors.current_onboarding(customer)}


@register.inclusion_tag("people/_customer_tenants.html")
def customer_tenants(customer) -> dict:
    """The customer's tenants at its vendors (domain, tenant id, provider account), for its
    organisation page; the page itself is already scoped to who may see the customer."""
    return {"tenants": list(selectors.tenants_of(customer))}
