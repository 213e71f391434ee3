"""Onboarding a customer's Microsoft tenant: create one from the customer's profile, or link one
the customer already has once it accepted the reseller relationship; record the Microsoft
Customer Agreement acceptance and send it before anything is ordered; hand the new
administrator's password over through a one-time link.

Every check that can be made before anything is sent is made here, in the request: the domain's
form and availability, the address against the market's rules (each wrong field named). The
vendor calls themselves are the worker's (`run_onboarding`), step by step, retried like the
subscriptions' operations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock, crypto
from seatkeeper.core.errors import Conflict, ServiceError
from seatkeeper.core.wording import fill
from seatkeeper.people.models import (
    CredentialLink,
    OnboardingKind,
    OnboardingStep,
    TenantOnboarding,
)
from seatkeeper.people.permissions import check_onboard
from seatkeeper.people.selectors import microsoft_account_for
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError, ValidationFailed
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions.models import OperationState, SyncStatus, Tenant
from seatkeeper.subscriptions.provisioning import CLAIM_TIMEOUT, MAX_ATTEMPTS, backoff

logger = logging.getLogger(__name__)

INITIAL_DOMAIN_SUFFIX = ".onmicrosoft.com"
# Partner Center: the initial domain's prefix is 1-27 letters, digits or hyphens.
DOMAIN_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,26}$")
TENANT_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
CREDENTIAL_LIFETIME = dt.timedelta(hours=72)
# Partner Center's error when the same agreement confirmation is sent again.
AGREEMENT_EXISTS = "600061"

ProviderFactory = Callable[[ProviderAccount], vendor.Provider]


class AddressRefused(ServiceError):
    """The profile does not meet the market's rules; `fields` names each wrong field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(
            _("The address does not meet Microsoft's rules for this country."), code="invalid"
        )
        self.fields = {name: [message] for name, message in fields.items()}


@dataclass(frozen=True)
class TenantProfile:
    """What the tenant is created from, pre-filled from the organisation's profile."""

    company_name: str
    contact_first_name: str
    contact_last_name: str
    contact_email: str
    contact_phone: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    region: str
    country: str
    language: str

    @classmethod
    def of(cls, customer: Organisation) -> TenantProfile:
        first, _, last = customer.contact_name.strip().partition(" ")
        return cls(
            company_name=customer.legal_name or customer.name,
            contact_first_name=first,
            contact_last_name=last.strip(),
            contact_email=customer.contact_email,
            contact_phone=customer.contact_phone,
            address_line1=customer.address_line1,
            address_line2=customer.address_line2,
            city=customer.city,
            postal_code=customer.postal_code,
            region=customer.region,
            country=customer.country,
            language=customer.default_language or "en",
        )


PROFILE_FIELDS = tuple(TenantProfile.__dataclass_fields__)


def initial_domain_suggestion(customer: Organisation) -> str:
    """A first guess at the domain's name: the company's name, letters and digits only."""
    plain = unicodedata.normalize("NFKD", customer.name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())[:27] or f"customer{customer.pk}"


@dataclass(frozen=True)
class AgreementAcceptance:
    """Who at the customer accepted the Microsoft Customer Agreement, and when."""

    first_name: str
    last_name: str
    email: str
    accepted_at: dt.datetime
    phone: str = ""


@dataclass(frozen=True)
class DomainCheck:
    domain: str
    available: bool | None  # None: the name itself is not valid
    message: str


class VendorUnavailable(ServiceError):
    """Microsoft did not answer a check made while the person waits: nothing was recorded."""

    status_code = 409

    def __init__(self, error: ProviderError) -> None:
        super().__init__(
            _("Microsoft did not answer (%(error)s): nothing was done, try again in a moment.")
            % {"error": error.message},
            code="vendor_unavailable",
        )


@contextmanager
def _vendor_checks() -> Iterator[None]:
    """Vendor calls made in the request: an outage is a refusal saying so, not a crash."""
    try:
        yield
    except ValidationFailed:
        raise
    except ProviderError as error:
        raise VendorUnavailable(error) from error


# --- checks made before anything is sent ------------------------------------------------------


def initial_domain(text: str) -> str:
    """`contoso` or `Contoso.onmicrosoft.com` -> `contoso.onmicrosoft.com`; ServiceError when the
    prefix is not 1-27 letters, digits or hyphens."""
    value = text.strip().lower()
    prefix = value.removesuffix(INITIAL_DOMAIN_SUFFIX)
    if not DOMAIN_PREFIX_RE.match(prefix):
        raise ServiceError(
            _(
                "The domain name must be 1 to 27 letters, digits or hyphens, starting with a "
                "letter or digit."
            ),
            field="domain",
        )
    return prefix + INITIAL_DOMAIN_SUFFIX


def domain_check(
    *,
    actor: User,
    customer: Organisation,
    domain: str,
    provider_factory: ProviderFactory | None = None,
) -> DomainCheck:
    """Is `<domain>.onmicrosoft.com` free at Microsoft? A taken domain means the company already
    has a tenant: that is a relationship request, not a new tenant."""
    check_onboard(actor, customer)
    account = microsoft_account_for(customer)
    try:
        full = initial_domain(domain)
    except ServiceError as error:
        return DomainCheck(domain=domain.strip().lower(), available=None, message=error.message)
    with _vendor_checks(), (provider_factory or get_provider)(account) as provider:
        free = provider.check_domain_available(domain=full)
    if free:
        return DomainCheck(
            domain=full, available=True, message=_("%(domain)s is free.") % {"domain": full}
        )
    return DomainCheck(
        domain=full,
        available=False,
        message=_(
            "%(domain)s is taken: the company may already have a tenant. Send it the reseller "
            "relationship request, then link its tenant."
        )
        % {"domain": full},
    )


def address_problems(profile: TenantProfile, rules: vendor.CountryRules) -> dict[str, str]:
    """Each field of `profile` that Partner Center would refuse for the market, with why."""
    problems: dict[str, str] = {}
    required = _("Microsoft needs this to create the tenant.")
    for name in ("company_name", "contact_first_name", "contact_last_name", "contact_email"):
        if not getattr(profile, name).strip():
            problems[name] = required
    for name, limit in (("contact_first_name", 50), ("contact_last_name", 50)):
        if len(getattr(profile, name)) > limit:
            problems[name] = _("At most %(n)s characters.") % {"n": limit}
    if not profile.address_line1.strip():
        problems["address_line1"] = required
    if rules.city_required and not profile.city.strip():
        problems["city"] = required
    postal = profile.postal_code.strip()
    if rules.postal_code_required and not postal:
        problems["postal_code"] = required
    elif postal and rules.postal_code_regex and not _matches(rules.postal_code_regex, postal):
        problems["postal_code"] = _("This is not a postal code of %(country)s.") % {
            "country": rules.country
        }
    if rules.state_required:
        region = profile.region.strip().upper()
        if not region:
            problems["region"] = _(
                "Microsoft needs the state (two-letter code) in %(country)s."
            ) % {"country": rules.country}
        elif rules.states and region not in rules.states:
            problems["region"] = _(
                "Not a state Microsoft knows in %(country)s: use its two-letter code."
            ) % {"country": rules.country}
    if rules.phone_required and not profile.contact_phone.strip():
        problems["contact_phone"] = _("Microsoft needs a phone number in %(country)s.") % {
            "country": rules.country
        }
    return problems


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.match(pattern, value) is not None
    except re.error:  # a rule we cannot read is the vendor's to enforce
        return True


def _language_and_culture(profile: TenantProfile, rules: vendor.CountryRules) -> tuple[str, str]:
    language = (profile.language or "en").lower()
    if rules.languages and language not in rules.languages:
        language = rules.languages[0]
    culture = f"{language}-{rules.country}"
    if rules.cultures and culture not in rules.cultures:
        culture = rules.default_culture or rules.cultures[0]
    return language, culture


def _open_onboarding(customer: Organisation, account: ProviderAccount) -> TenantOnboarding | None:
    return (
        TenantOnboarding.objects.filter(customer=customer, account=account)
        .exclude(state__in=[OperationState.DONE, OperationState.REJECTED])
        .first()
    )


def _refuse_if_onboarded(customer: Organisation, account: ProviderAccount) -> None:
    if customer.kind != OrganisationKind.CUSTOMER:
        raise ServiceError(_("Only customers have tenants."))
    if Tenant.objects.filter(customer=customer, account=account).exists():
        raise Conflict(
            _("%(customer)s already has a Microsoft tenant.") % {"customer": customer.name}
        )
    if _open_onboarding(customer, account) is not None:
        raise Conflict(
            fill(
                _("The tenant of %(customer)s is already being onboarded."),
                {"customer": customer.name},
            )
        )


def _check_acceptance(mca: AgreementAcceptance) -> None:
    for name in ("first_name", "last_name", "email"):
        if not getattr(mca, name).strip():
            raise ServiceError(
                _("Say who accepted the Microsoft Customer Agreement at the customer."),
                field=f"mca_{name}",
            )
    if mca.accepted_at > clock.now():
        raise ServiceError(
            _("The agreement cannot be accepted in the future."), field="mca_accepted_at"
        )


# --- the services -----------------------------------------------------------------------------


def tenant_create(
    *,
    actor: User,
    customer: Organisation,
    domain: str,
    profile: TenantProfile,
    mca: AgreementAcceptance,
    provider_factory: ProviderFactory | None = None,
) -> TenantOnboarding:
    """Ask for `customer`'s new tenant `<domain>.onmicrosoft.com`. Refused at once, with each
    wrong field named, when the domain is taken or the address breaks the market's rules;
    otherwise recorded and carried out by the worker."""
    check_onboard(actor, customer)
    account = microsoft_account_for(customer)
    _refuse_if_onboarded(customer, account)
    full = initial_domain(domain)
    _check_acceptance(mca)
    with _vendor_checks(), (provider_factory or get_provider)(account) as provider:
        try:
            rules = provider.country_rules(country=profile.country)
        except ValidationFailed:
            raise AddressRefused(
                {"country": _("Microsoft does not sell in this country.")}
            ) from None
        problems = address_problems(profile, rules)
        if problems:
            raise AddressRefused(problems)
        if not provider.check_domain_available(domain=full):
            raise ServiceError(
                _("%(domain)s is taken: the company may already have a tenant.") % {"domain": full},
                field="domain",
                code="domain_taken",
            )
    language, culture = _language_and_culture(profile, rules)
    sent = {
        "company_name": profile.company_name.strip(),
        "email": profile.contact_email.strip(),
        "language": language,
        "culture": culture,
        "address": {
            "first_name": profile.contact_first_name.strip(),
            "last_name": profile.contact_last_name.strip(),
            "address_line1": profile.address_line1.strip(),
            "address_line2": profile.address_line2.strip(),
            "city": profile.city.strip(),
            "postal_code": profile.postal_code.strip(),
            "state": profile.region.strip().upper() if rules.state_required else "",
            "country": rules.country,
            "phone_number": profile.contact_phone.strip(),
        },
    }
    return _record(
        actor=actor,
        customer=customer,
        account=account,
        kind=OnboardingKind.CREATE,
        domain=full,
        profile=sent,
        mca=mca,
    )


def tenant_link(
    *,
    actor: User,
    customer: Organisation,
    tenant: str,
    mca: AgreementAcceptance | None = None,
) -> TenantOnboarding:
    """Link the tenant `customer` already has (its tenant id or one of its domains), once it has
    accepted the reseller relationship. The agreement acceptance, when given, is sent too."""
    check_onboard(actor, customer)
    account = microsoft_account_for(customer)
    _refuse_if_onboarded(customer, account)
    value = tenant.strip().lower()
    if not (TENANT_ID_RE.match(value) or re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", value)):
        raise ServiceError(_("Give the tenant id or one of the tenant's domains."), field="tenant")
    if mca is not None:
        _check_acceptance(mca)
    return _record(
        actor=actor,
        customer=customer,
        account=account,
        kind=OnboardingKind.LINK,
        domain=value,
        profile={},
        mca=mca,
    )


def _record(
    *,
    actor: User,
    customer: Organisation,
    account: ProviderAccount,
    kind: str,
    domain: str,
    profile: dict,
    mca: AgreementAcceptance | None,
) -> TenantOnboarding:
    from seatkeeper.people.tasks import onboard

    try:
        with transaction.atomic():
            onboarding = TenantOnboarding.objects.create(
                customer=customer,
                account=account,
                kind=kind,
                domain=domain,
                profile=profile,
                mca_first_name=mca.first_name.strip() if mca else "",
                mca_last_name=mca.last_name.strip() if mca else "",
                mca_email=mca.email.strip() if mca else "",
                mca_phone=mca.phone.strip() if mca else "",
                mca_accepted_at=mca.accepted_at if mca else None,
                requested_by=actor if actor and actor.pk else None,
                requested_by_name=actor.get_full_name() or actor.email if actor else "Seatkeeper",
                next_attempt_at=clock.now(),
            )
            activity_record(
                actor=actor,
                organisation=customer,
                obj=onboarding,
                operation="tenant.create"
                if kind == OnboardingKind.CREATE
                else "tenant.link_requested",
                details={"domain": domain},
            )
            if mca is not None:
                activity_record(
                    actor=actor,
                    organisation=customer,
                    obj=onboarding,
                    operation="tenant.mca_accepted",
                    details={
                        "accepted_by": f"{mca.first_name} {mca.last_name}".strip(),
                        "email": mca.email,
                        "accepted_at": mca.accepted_at.isoformat(),
                    },
                )
            transaction.on_commit(partial(onboard.enqueue, onboarding_id=onboarding.pk))
    except IntegrityError:
        raise Conflict(
            fill(
                _("The tenant of %(customer)s is already being onboarded."),
                {"customer": customer.name},
            )
        ) from None
    return onboarding


@transaction.atomic
def onboarding_retry(*, actor: User, onboarding: TenantOnboarding) -> TenantOnboarding:
    """Send a failed onboarding again from the step where it stopped."""
    from seatkeeper.people.tasks import onboard

    check_onboard(actor, onboarding.customer)
    onboarding = TenantOnboarding.objects.select_for_update().get(pk=onboarding.pk)
    if onboarding.state != OperationState.FAILED:
        raise Conflict(_("Only a failed onboarding can be retried."))
    onboarding.state = OperationState.PENDING
    onboarding.sync_status = SyncStatus.PENDING
    onboarding.attempts = 0
    onboarding.next_attempt_at = clock.now()
    onboarding.save()
    activity_record(
        actor=actor,
        organisation=onboarding.customer,
        obj=onboarding,
        operation="tenant.retry",
        details={"domain": onboarding.domain},
    )
    transaction.on_commit(partial(onboard.enqueue, onboarding_id=onboarding.pk))
    return onboarding


@transaction.atomic
def onboarding_cancel(*, actor: User, onboarding: TenantOnboarding) -> TenantOnboarding:
    """Give up a failed onboarding (another domain, or a link instead). A tenant Microsoft
    already created stays there and can be linked."""
    check_onboard(actor, onboarding.customer)
    onboarding = TenantOnboarding.objects.select_for_update().get(pk=onboarding.pk)
    if onboarding.state != OperationState.FAILED:
        raise Conflict(_("Only a failed onboarding can be given up."))
    onboarding.state = OperationState.REJECTED
    onboarding.save(update_fields=["state", "updated_at"])
    activity_record(
        actor=actor,
        organisation=onboarding.customer,
        obj=onboarding,
        operation="tenant.cancel",
        details={"domain": onboarding.domain},
    )
    return onboarding


def relationship_request_send(
    *, actor: User, customer: Organisation, provider_factory: ProviderFactory | None = None
) -> str:
    """E-mail the customer's contact Partner Center's reseller relationship request link, with
    what to do; returns the link."""
    check_onboard(actor, customer)
    account = microsoft_account_for(customer)
    if not customer.contact_email:
        raise ServiceError(_("The customer has no contact e-mail."), field="contact_email")
    with _vendor_checks(), (provider_factory or get_provider)(account) as provider:
        url = provider.relationship_request_url()
    partner = account.organisation
    with translation.override(customer.default_language or settings.LANGUAGE_CODE):
        context = {"customer": customer, "partner": partner, "url": url}
        subject = render_to_string("people/email/relationship_request_subject.txt", context)
        body = render_to_string("people/email/relationship_request.txt", context)
    with transaction.atomic():
        activity_record(
            actor=actor,
            organisation=customer,
            obj=customer,
            operation="tenant.relationship_request",
            details={"sent_to": customer.contact_email},
        )
        transaction.on_commit(
            partial(send_mail, subject.strip(), body, None, [customer.contact_email])
        )
    return url


# --- the worker -------------------------------------------------------------------------------


def run_onboarding(onboarding_id: int, *, provider_factory: ProviderFactory | None = None) -> str:
    """Carry the onboarding's remaining steps out at the vendor; returns why it stopped."""
    now = clock.now()
    claimable = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    won = TenantOnboarding.objects.filter(claimable, pk=onboarding_id).update(
        state=OperationState.RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not won:
        return "busy"
    onboarding = TenantOnboarding.objects.select_related("account", "customer").get(
        pk=onboarding_id
    )
    try:
        with (provider_factory or get_provider)(onboarding.account) as provider:
            while onboarding.step != OnboardingStep.DONE:
                _STEPS[onboarding.step](onboarding, provider)
    except ProviderError as error:
        return _failed(onboarding, error)
    except ServiceError as error:
        return _failed(onboarding, ProviderError(error.message, code=error.code, retryable=False))
    except Exception as error:  # a bug or an outage must not lose the onboarding
        logger.exception("onboarding %s failed unexpectedly", onboarding_id)
        return _failed(
            onboarding, ProviderError(str(error) or type(error).__name__, retryable=True)
        )
    return "done"


def _create_customer(onboarding: TenantOnboarding, provider: vendor.Provider) -> None:
    profile = onboarding.profile
    address = profile["address"]
    created = provider.create_customer(
        customer=vendor.NewCustomer(
            domain=onboarding.domain,
            company_name=profile["company_name"],
            email=profile["email"],
            culture=profile["culture"],
            language=profile["language"],
            address=vendor.Address(
                country=address["country"],
                city=address["city"],
                postal_code=address["postal_code"],
                address_line1=address["address_line1"],
                address_line2=address["address_line2"],
                state=address["state"],
                first_name=address["first_name"],
                last_name=address["last_name"],
                phone_number=address["phone_number"],
                email=profile["email"],
            ),
        ),
        request_key=str(onboarding.request_key),
    )
    # The tenant id and the administrator's password are kept in one commit with the next
    # step: a retry after a crash sends the same request key and gets the same tenant back.
    with transaction.atomic():
        onboarding.vendor_customer_id = created.customer.id
        onboarding.domain = created.customer.domain or onboarding.domain
        onboarding.admin_user_name = _admin_upn(created.admin_user_name, onboarding.domain)
        onboarding.step = OnboardingStep.AGREEMENT
        onboarding.save(
            update_fields=["vendor_customer_id", "domain", "admin_user_name", "step", "updated_at"]
        )
        credential_issue(
            customer=onboarding.customer,
            user_name=onboarding.admin_user_name,
            password=created.admin_password,
            recipient=profile["email"],
        )


def _admin_upn(user_name: str, domain: str) -> str:
    # Partner Center answers the administrator's alias ("admin"); people sign in with the UPN.
    return user_name if "@" in user_name else f"{user_name}@{domain}"


def _find_tenant(onboarding: TenantOnboarding, provider: vendor.Provider) -> None:
    wanted = onboarding.domain
    found: vendor.Customer | None = None
    if TENANT_ID_RE.match(wanted):
        try:
            found = provider.get_customer(customer_id=wanted)
        except ProviderError as error:
            if error.retryable:
                raise
    else:
        found = provider.find_customer_by_domain(domain=wanted)
    if found is None:
        raise ServiceError(
            _(
                "Microsoft does not list %(tenant)s among your customers: the customer must "
                "accept the reseller relationship request first."
            )
            % {"tenant": wanted},
            code="no_relationship",
        )
    other = Tenant.objects.filter(account=onboarding.account, vendor_customer_id=found.id).first()
    if other is not None:
        raise ServiceError(
            _("This tenant is already linked to %(customer)s.") % {"customer": other.customer.name},
            code="already_linked",
        )
    if not onboarding.mca_accepted_at:
        # Without a confirmed Microsoft Customer Agreement every New Commerce order would be
        # refused (13605): a tenant is linked only once Microsoft holds one.
        confirmed = [
            agreement
            for agreement in provider.list_agreements(customer_id=found.id)
            if agreement.type == vendor.AgreementType.MICROSOFT_CUSTOMER_AGREEMENT
        ]
        if not confirmed:
            raise ServiceError(
                _(
                    "Microsoft holds no acceptance of the Microsoft Customer Agreement for this "
                    "customer: give this up and link the tenant again, saying who accepted the "
                    "agreement and when."
                ),
                code="mca_missing",
            )
        onboarding.mca_email = confirmed[0].email
        onboarding.mca_accepted_at = confirmed[0].accepted_at
        onboarding.mca_confirmed_at = confirmed[0].accepted_at
    onboarding.vendor_customer_id = found.id
    onboarding.domain = found.domain or wanted
    onboarding.step = (
        OnboardingStep.LINK if onboarding.mca_confirmed_at else OnboardingStep.AGREEMENT
    )
    onboarding.save(
        update_fields=[
            "vendor_customer_id",
            "domain",
            "step",
            "mca_email",
            "mca_accepted_at",
            "mca_confirmed_at",
            "updated_at",
        ]
    )


def _customer_step(onboarding: TenantOnboarding, provider: vendor.Provider) -> None:
    if onboarding.kind == OnboardingKind.CREATE:
        _create_customer(onboarding, provider)
    else:
        _find_tenant(onboarding, provider)


def _agreement_step(onboarding: TenantOnboarding, provider: vendor.Provider) -> None:
    """Confirm the customer's acceptance of the Microsoft Customer Agreement: Partner Center
    refuses New Commerce orders for a customer without it, so it goes before the tenant is
    linked (and so before anything can be ordered)."""
    acceptance = vendor.AgreementAcceptance(
        first_name=onboarding.mca_first_name,
        last_name=onboarding.mca_last_name,
        email=onboarding.mca_email,
        phone_number=onboarding.mca_phone,
        accepted_at=onboarding.mca_accepted_at,
    )
    try:
        provider.confirm_agreement(customer_id=onboarding.vendor_customer_id, acceptance=acceptance)
    except ProviderError as error:
        # Sent before, the answer lost: Partner Center already holds this very confirmation.
        if error.code != AGREEMENT_EXISTS:
            raise
    onboarding.mca_confirmed_at = clock.now()
    onboarding.step = OnboardingStep.LINK
    onboarding.save(update_fields=["mca_confirmed_at", "step", "updated_at"])


@transaction.atomic
def _link_step(onboarding: TenantOnboarding, provider: vendor.Provider) -> None:
    from seatkeeper.subscriptions import services as subscription_services

    tenant = subscription_services.tenant_link(
        actor=onboarding.requested_by,
        customer=onboarding.customer,
        account=onboarding.account,
        vendor_customer_id=onboarding.vendor_customer_id,
        domain=onboarding.domain,
    )
    now = clock.now()
    onboarding.tenant = tenant
    onboarding.step = OnboardingStep.DONE
    onboarding.state = OperationState.DONE
    onboarding.sync_status = SyncStatus.SYNCHRONIZED
    onboarding.done_at = now
    onboarding.claimed_at = None
    onboarding.error_code = ""
    onboarding.error_message = ""
    onboarding.save()


_STEPS = {
    OnboardingStep.CUSTOMER: _customer_step,
    OnboardingStep.AGREEMENT: _agreement_step,
    OnboardingStep.LINK: _link_step,
}


def _failed(onboarding: TenantOnboarding, error: ProviderError) -> str:
    code = (error.code or (str(error.http_status) if error.http_status else "error"))[:40]
    permanent = not error.retryable or onboarding.attempts >= MAX_ATTEMPTS
    values = {"error_code": code, "error_message": error.message, "claimed_at": None}
    if permanent:
        values.update(state=OperationState.FAILED, sync_status=SyncStatus.FAILED)
    else:
        wait = backoff(onboarding.attempts)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            wait = max(wait, dt.timedelta(seconds=float(retry_after)))
        values.update(
            state=OperationState.PENDING,
            sync_status=SyncStatus.PENDING,
            next_attempt_at=clock.now() + wait,
        )
    TenantOnboarding.objects.filter(pk=onboarding.pk).update(**values)
    if permanent:
        from seatkeeper.people import notifications

        transaction.on_commit(partial(notifications.onboarding_failed, onboarding_id=onboarding.pk))
    return "failed" if permanent else "retrying"


def due_onboarding_ids(now: dt.datetime, limit: int = 200) -> list[int]:
    due = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    return list(TenantOnboarding.objects.filter(due).values_list("pk", flat=True)[:limit])


# --- one-time credential links ----------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credential_issue(
    *, customer: Organisation, user_name: str, password: str, recipient: str
) -> CredentialLink:
    """Keep `password` encrypted behind a one-time link and e-mail the link (never the password)
    to `recipient`, once the surrounding transaction commits."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    link = CredentialLink.objects.create(
        customer=customer,
        token_hash=_token_hash(token),
        user_name=user_name,
        recipient=recipient,
        secret=crypto.encrypt(password),
        created_at=now,
        expires_at=now + CREDENTIAL_LIFETIME,
    )
    url = settings.SITE_URL.rstrip("/") + reverse("credential_reveal", args=[token])
    with translation.override(customer.default_language or settings.LANGUAGE_CODE):
        context = {"customer": customer, "link": link, "url": url}
        subject = render_to_string("people/email/credential_subject.txt", context).strip()
        body = render_to_string("people/email/credential.txt", context)
    transaction.on_commit(partial(send_mail, subject, body, None, [recipient]))
    return link


def credential_link_for(token: str) -> CredentialLink | None:
    """The link a token opens while it can still be seen (None: unknown, seen or expired)."""
    link = CredentialLink.objects.filter(token_hash=_token_hash(token)).first()
    if link is None or not link.secret or link.viewed_at is not None:
        return None
    if link.expires_at <= clock.now():
        CredentialLink.objects.filter(pk=link.pk).update(secret="")
        return None
    return link


@transaction.atomic
def credential_reveal(token: str) -> tuple[str, str] | None:
    """The user name and password behind `token`, once: the secret is erased as it is read."""
    link = CredentialLink.objects.select_for_update().filter(token_hash=_token_hash(token)).first()
    if link is None or not link.secret or link.viewed_at is not None:
        return None
    now = clock.now()
    if link.expires_at <= now:
        link.secret = ""
        link.save(update_fields=["secret"])
        return None
    password = crypto.decrypt(link.secret)
    link.secret = ""
    link.viewed_at = now
    link.save(update_fields=["secret", "viewed_at"])
    activity_record(
        actor=None,
        organisation=link.customer,
        obj=link,
        operation="credential.viewed",
        details={"user_name": link.user_name},
        actor_name=link.recipient,
    )
    return link.user_name, password


def credentials_purge(now: dt.datetime | None = None) -> int:
    """Erase the secrets of links nobody opened in time."""
    return (
        CredentialLink.objects.filter(expires_at__lte=now or clock.now())
        .exclude(secret="")
        .update(secret="")
    )
