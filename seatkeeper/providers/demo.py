"""The demo partner connected to a running Partner Center sandbox, the way an operator connects a
partner to the real service, through the same services (each write audited):

1. `connect`: our callback is added to the sandbox app's redirect URIs (the app owner's step in
   the Entra portal), the provider account is registered (or brought up to date), and consent is
   stored: pre-granted by the sandbox's admin API, since nobody is at a browser. A person can
   still sign in with "Login with Microsoft" on the account page later.
2. `connect_catalog`: the Microsoft vendor of the partner's catalog, imported over HTTP.
3. `link_tenants`: each demo customer is linked to the sandbox tenant of the same company (same
   initial domain or same company name, never by position in a list); a customer the sandbox
   has no tenant for gets one created, as an operator onboards a new customer.

Running it again changes nothing that is already right.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import httpx

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import CatalogRefresh, Vendor, VendorKind
from seatkeeper.providers import services
from seatkeeper.providers.consent_session import callback_url
from seatkeeper.providers.models import ConsentStatus, ProviderAccount, ProviderKind
from seatkeeper.providers.registry import get_provider

# Legal forms dropped when comparing company names ("Contoso Ltd" is "Contoso").
LEGAL_FORMS = frozenset({"sarl", "sas", "sa", "selarl", "ltd", "llp", "llc", "inc", "gmbh"})


def _admin(info: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=info["base_url"],
        verify=ssl.create_default_context(cafile=info["ca_cert"]),
        headers={"X-Sandbox-Key": info["admin_key"]},
        timeout=30,
    )


def connect(info: dict[str, Any], *, partner: Organisation) -> ProviderAccount:
    """Register (or update) `partner`'s account at the sandbox described by sandbox.json
    `info`, with consent."""
    with _admin(info) as admin:
        admin.post(
            "/_sandbox/apps/redirect-uris",
            json={"clientId": info["client_id"], "redirectUri": callback_url()},
        ).raise_for_status()
        values = {
            "name": f"Partner Center sandbox ({info.get('partner_name') or 'demo'})",
            "application_id": info["client_id"],
            "application_secret": info["client_secret"],
            "authority_url": info["base_url"],
            "api_base_url": info["base_url"],
            # The sandbox serves Microsoft Graph's billing exports from its own host.
            "graph_base_url": info.get("graph_base_url") or info["base_url"],
            "ca_bundle_path": info["ca_cert"],
        }
        account = ProviderAccount.objects.filter(
            organisation=partner,
            kind=ProviderKind.MICROSOFT,
            partner_tenant_id=info["partner_tenant_id"],
        ).first()
        if account is None:
            account = services.account_register(
                actor=None, partner=partner, partner_tenant_id=info["partner_tenant_id"], **values
            )
        else:
            account = services.account_update(actor=None, account=account, **values)
        if account.consent_status != ConsentStatus.GRANTED:
            response = admin.post("/_sandbox/refresh-token", json={"clientId": info["client_id"]})
            response.raise_for_status()
            account = services.account_consent_store(
                actor=None,
                account=account,
                refresh_token=response.json()["refresh_token"],
                consented_by=info["agent_upn"],
            )
    return account


def connect_catalog(account: ProviderAccount) -> CatalogRefresh:
    """The partner's Microsoft vendor, its catalog imported from the account's API."""
    partner = account.organisation
    vendor = Vendor.objects.filter(organisation=partner, provider_account=account).first()
    if vendor is None:
        vendor = catalog_services.vendor_create(
            actor=None,
            partner=partner,
            name="Microsoft",
            kind=VendorKind.API,
            provider_account=account,
            country=partner.country,
        )
    return catalog_services.catalog_refresh(vendor=vendor)


@dataclass
class TenantLinks:
    matched: list[str] = field(default_factory=list)  # "customer -> domain"
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # with the reason


def company_key(name: str) -> str:
    """A company name compared without case, accents, punctuation or legal form."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    words = [word for word in re.split(r"[^a-z0-9]+", plain) if word]
    return " ".join(word for word in words if word not in LEGAL_FORMS)


def initial_domain(customer: Organisation) -> str:
    """The `<prefix>.onmicrosoft.com` a tenant of `customer` gets: its name, letters and digits."""
    prefix = re.sub(r"[^a-z0-9]", "", company_key(customer.name))[:27] or f"customer{customer.pk}"
    return f"{prefix}.onmicrosoft.com"


def _onboard(customer: Organisation, domain: str) -> tuple[bool, str]:
    """A new tenant for `customer`, as an operator onboards one: through the people services
    (address checked against the market's rules, the agreement's acceptance recorded as the
    contact's, the administrator's password sent through a one-time link), then carried out
    at once by the same worker step the queue runs."""
    from seatkeeper.core import clock
    from seatkeeper.core.errors import ServiceError
    from seatkeeper.people import services as people_services
    from seatkeeper.people.models import TenantOnboarding
    from seatkeeper.subscriptions.models import OperationState

    profile = people_services.TenantProfile.of(customer)
    try:
        onboarding = people_services.tenant_create(
            actor=None,
            customer=customer,
            domain=domain,
            profile=profile,
            mca=people_services.AgreementAcceptance(
                first_name=profile.contact_first_name or customer.name,
                last_name=profile.contact_last_name or customer.name,
                email=profile.contact_email,
                # The demo customers accepted the agreement when they signed up, an hour before
                # the partner connected; never "now", which a vendor whose clock is a few seconds
                # behind ours refuses as a date in the future (600059).
                accepted_at=clock.now() - dt.timedelta(hours=1),
            ),
        )
    except ServiceError as error:
        fields = getattr(error, "fields", {}) or {}
        reasons = "; ".join(f"{name}: {text[0]}" for name, text in fields.items())
        return False, f"{customer.name}: not created ({reasons or error.message})"
    people_services.run_onboarding(onboarding.pk)
    onboarding = TenantOnboarding.objects.get(pk=onboarding.pk)
    if onboarding.state == OperationState.DONE:
        return True, f"{customer.name} -> {onboarding.domain}"
    status = onboarding.get_sync_status_display()
    return True, f"{customer.name} -> {onboarding.domain} ({status}: {onboarding.error_message})"


def link_tenants(account: ProviderAccount) -> TenantLinks:
    """Link every customer of the account's partner to its own company's tenant."""
    from seatkeeper.subscriptions import services as subscription_services
    from seatkeeper.subscriptions.models import Tenant

    report = TenantLinks()
    partner = account.organisation
    linked = Tenant.objects.filter(account=account)
    taken_ids = set(linked.values_list("vendor_customer_id", flat=True))
    waiting = list(
        Organisation.objects.filter(kind=OrganisationKind.CUSTOMER, path__startswith=partner.path)
        .exclude(pk__in=linked.values("customer_id"))
        .order_by("pk")
    )
    if not waiting:
        return report
    with get_provider(account) as provider:
        tenants = list(provider.list_customers())
        by_domain = {tenant.domain.lower(): tenant for tenant in tenants}
        by_name = {company_key(tenant.company_name): tenant for tenant in tenants}
        for customer in waiting:
            domain = initial_domain(customer)
            tenant = (
                by_domain.get(domain)
                or by_name.get(company_key(customer.name))
                or by_name.get(company_key(customer.legal_name))
            )
            if tenant is not None and tenant.id in taken_ids:
                report.skipped.append(f"{customer.name}: {tenant.domain} is linked to another")
                continue
            if tenant is None:
                if not provider.check_domain_available(domain=domain):
                    # Another company's tenant: that is a relationship request, not a link.
                    report.skipped.append(f"{customer.name}: {domain} belongs to another company")
                    continue
                created, line = _onboard(customer, domain)
                (report.created if created else report.skipped).append(line)
                continue
            else:
                report.matched.append(f"{customer.name} -> {tenant.domain}")
            subscription_services.tenant_link(
                actor=None,
                customer=customer,
                account=account,
                vendor_customer_id=tenant.id,
                domain=tenant.domain,
            )
            taken_ids.add(tenant.id)
    return report
