"""Customers and their tenants. A tenant Seatkeeper already knows (same account, same tenant id)
keeps its customer; a new one brings a customer in under the partner, "unassigned", with its
company, address and contacts from the vendor's billing profile."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts import services as accounts_services
from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.discovery import assignments
from seatkeeper.discovery.kinds import CustomerContext, PartnerContext
from seatkeeper.discovery.models import GoneCustomer
from seatkeeper.providers.errors import AuthFailed, NotFound, ProviderError
from seatkeeper.subscriptions import services as subscription_services
from seatkeeper.subscriptions.models import OPEN_STATES, Status, Subscription, Tenant

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


def prepare(context: CustomerContext) -> None:
    context.data["known"] = _known(context) is not None


def fetch(context: CustomerContext) -> None:
    """A customer new to Seatkeeper needs its billing profile (address and contacts)."""
    if not context.data["known"]:
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
        # Listed again after a run found it gone: it is the partner's customer again.
        changed |= bool(GoneCustomer.objects.filter(tenant=tenant).delete()[0])
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


def mark_gone(context: PartnerContext, listed) -> None:
    """After a full run read the whole customer list: each tenant of the account the list no
    longer holds, and the vendor confirms it does not know (one read each, so a list the vendor
    answered short never marks a customer gone), is gone. Its subscriptions are marked gone
    (unless a change of ours is pending) and its users deleted; every one is counted removed.
    `listed`: the vendor customer ids the run listed (a query, not a list in memory)."""
    from seatkeeper.discovery.kinds import subscriptions as subscription_kind
    from seatkeeper.people.models import DirectoryUser, UserLicence, UserStatus

    tenants = (
        Tenant.objects.filter(account=context.account, vendor_gone__isnull=True)
        .exclude(vendor_customer_id__in=listed)
        .select_related("customer")
        .order_by("pk")
    )
    for tenant in tenants:
        try:
            context.provider.get_customer(customer_id=tenant.vendor_customer_id)
            continue  # still known: the list left it out, nothing is concluded
        except NotFound:
            pass
        except AuthFailed:
            raise
        except ProviderError as error:
            context.skip(NAME, tenant.vendor_customer_id, error.message)
            continue
        now = clock.now()
        with transaction.atomic():
            GoneCustomer.objects.create(tenant=tenant, run=context.run, gone_at=now)
            subscriptions = Subscription.objects.filter(tenant=tenant).exclude(
                status=Status.CANCELLED
            )
            removed_subscriptions = 0
            for subscription in subscriptions.exclude(operations__state__in=OPEN_STATES):
                subscription_kind.mark_gone(subscription, run=context.run)
                removed_subscriptions += 1
            users = DirectoryUser.objects.filter(tenant=tenant).exclude(status=UserStatus.DELETED)
            removed_users = list(users.values_list("pk", flat=True))
            UserLicence.objects.filter(user_id__in=removed_users).delete()
            DirectoryUser.objects.filter(pk__in=removed_users).update(
                status=UserStatus.DELETED, deleted_at=now, updated_at=now
            )
            activity_record(
                actor=None,
                organisation=tenant.customer,
                obj=tenant.customer,
                operation="customer.gone",
                details={
                    "run": context.run.pk,
                    "tenant": tenant.vendor_customer_id,
                    "subscriptions": removed_subscriptions,
                    "users": len(removed_users),
                },
            )
        context.count(NAME, "removed")
        if removed_subscriptions:
            context.count(subscription_kind.NAME, "removed", removed_subscriptions)
        if removed_users:
            context.count("users", "removed", len(removed_users))
