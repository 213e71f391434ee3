"""Customers and their tenants. A tenant Seatkeeper already knows (same account, same tenant id)
keeps its customer; a new one brings a customer in under the partner, "unassigned", with its
company, address and contacts from the vendor's billing profile."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts import services as accounts_services
from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.discovery import assignments
from seatkeeper.discovery.kinds import CustomerContext
from seatkeeper.subscriptions import services as subscription_services
from seatkeeper.subscriptions.models import Tenant

NAME = "customers"
LABEL = _("Customers")


def _cut(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]


def _known(context: CustomerContext) -> Tenant | None:
    return (
        Tenant.objects.select_related("customer")
        .filter(account=context.account, vendor_customer_id=context.facts.id)
        .first()
    )


def fetch(context: CustomerContext) -> None:
    """A customer new to Seatkeeper needs its billing profile (address and contacts)."""
    if _known(context) is None:
        context.data[NAME] = context.provider.get_billing_profile(customer_id=context.facts.id)


def _customer_values(context: CustomerContext) -> dict[str, str]:
    facts = context.facts
    partner = context.account.organisation
    profile = context.data.get(NAME) or context.provider.get_billing_profile(customer_id=facts.id)
    address = profile.address
    company = _cut(facts.company_name or profile.company_name or facts.domain, 200)
    contact = _cut(f"{profile.first_name} {profile.last_name}", 200) or company
    email = (profile.email or (address.email if address else "")).strip()
    if "@" not in email:
        email = f"admin@{facts.domain}"
    country = (address.country if address else "") or partner.country
    return {
        "name": company,
        "legal_name": _cut(profile.company_name or company, 200),
        "address_line1": _cut(address.address_line1 if address else "", 200) or "-",
        "address_line2": _cut(address.address_line2 if address else "", 200),
        "city": _cut(address.city if address else "", 100) or "-",
        "postal_code": _cut(address.postal_code if address else "", 20) or "-",
        "region": _cut((address.state or address.region) if address else "", 100),
        "country": country[:2].upper(),
        "contact_name": contact,
        "contact_email": email,
        "contact_phone": _cut(address.phone_number if address else "", 40),
        "default_language": "fr" if profile.language.lower().startswith("fr") else "en",
        "default_currency": partner.default_currency,
    }


def import_customer(context: CustomerContext) -> None:
    facts = context.facts
    tenant = _known(context)
    if tenant is not None:
        context.tenant, context.customer = tenant, tenant.customer
        changed = False
        if facts.domain and tenant.domain != facts.domain:
            Tenant.objects.filter(pk=tenant.pk).update(domain=facts.domain)
            tenant.domain = facts.domain
            changed = True
        changed |= assignments.note_vendor_reseller(
            tenant.customer, facts.associated_partner_id or ""
        )
        context.count(NAME, "updated" if changed else "unchanged")
        return
    customer = accounts_services.organisation_create(
        actor=None,
        parent=context.account.organisation,
        kind=OrganisationKind.CUSTOMER,
        **_customer_values(context),
    )
    context.tenant = subscription_services.tenant_link(
        actor=None,
        customer=customer,
        account=context.account,
        vendor_customer_id=facts.id,
        domain=facts.domain,
    )
    context.customer = customer
    assignments.discovered(
        customer=customer,
        account=context.account,
        vendor_reseller_id=facts.associated_partner_id or "",
        run=context.run,
    )
    context.count(NAME, "created")
