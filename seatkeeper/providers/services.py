"""Every write to provider accounts: registration, changes, the partner's consent, and the
bookkeeping of its refresh token (when it was last used, when the authority refused it).

Registration and changes check the actor's rights (the partner's cloud admins; `actor=None` is the
system: the demo, commands), validate, save and write an activity record in one transaction;
secrets never reach the activity log. Calls to the vendor (consent, connection test) happen
outside any transaction: only their result is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock, crypto
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.providers import notifications, permissions
from seatkeeper.providers.errors import AuthFailed, ProviderError
from seatkeeper.providers.models import (
    MICROSOFT_API_BASE_URL,
    MICROSOFT_AUTHORITY_HOST,
    MICROSOFT_GRAPH_BASE_URL,
    ProviderAccount,
    ProviderKind,
)

_https = URLValidator(schemes=["https"])


def _require_rights(actor: User | None, partner: Organisation) -> None:
    if actor is not None and not permissions.can_manage_provider_accounts(actor, partner):
        raise PermissionRefused(_("Only the partner's cloud admins manage provider accounts."))


def _guid(value: str, *, field: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise ServiceError(
            _("Enter the identifier as a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."),
            field=field,
        ) from None


def _https_url(value: str, *, field: str) -> str:
    value = value.strip().rstrip("/")
    try:
        _https(value)
    except ValidationError:
        raise ServiceError(_("Enter an https:// address."), field=field) from None
    return value


def _ca_bundle(value: str) -> str:
    """An extra CA bundle the server reads (the sandbox's, a proxy's): a PEM file it can read."""
    value = value.strip()
    if not value:
        return ""
    path = Path(value)
    try:
        text = path.read_text(encoding="ascii") if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ServiceError(
            _("No PEM certificate file can be read at this path on the server."),
            field="ca_bundle_path",
        )
    return str(path)


def _text(value: str, *, field: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise ServiceError(_("This field is required."), field=field)
    if len(value) > limit:
        raise ServiceError(
            _("Keep this under %(limit)d characters.") % {"limit": limit + 1}, field=field
        )
    return value


@transaction.atomic
def account_register(
    *,
    actor: User | None,
    partner: Organisation,
    name: str,
    partner_tenant_id: str,
    application_id: str,
    application_secret: str,
    authority_url: str = MICROSOFT_AUTHORITY_HOST,
    api_base_url: str = MICROSOFT_API_BASE_URL,
    ca_bundle_path: str = "",
    kind: str = ProviderKind.MICROSOFT,
    graph_base_url: str = MICROSOFT_GRAPH_BASE_URL,
) -> ProviderAccount:
    """Register `partner`'s account at a vendor (Microsoft: its partner tenant and the Secure
    Application Model app). Consent comes next, through `account_consent_complete`."""
    _require_rights(actor, partner)
    if partner.kind != OrganisationKind.PARTNER:
        raise ServiceError(_("Provider accounts belong to a partner."))
    if kind not in ProviderKind.values:
        raise ServiceError(_("Unknown provider."), field="kind")
    account = ProviderAccount(
        organisation=partner,
        kind=kind,
        name=_text(name, field="name", limit=200),
        partner_tenant_id=_guid(partner_tenant_id, field="partner_tenant_id"),
        application_id=_guid(application_id, field="application_id"),
        authority_url=_https_url(authority_url, field="authority_url"),
        api_base_url=_https_url(api_base_url, field="api_base_url"),
        graph_base_url=_https_url(graph_base_url, field="graph_base_url"),
        ca_bundle_path=_ca_bundle(ca_bundle_path),
    )
    account.set_application_secret(
        _text(application_secret, field="application_secret", limit=1000)
    )
    if ProviderAccount.objects.filter(
        organisation=partner, kind=kind, partner_tenant_id=account.partner_tenant_id
    ).exists():
        raise ServiceError(
            _("This partner already has an account for this tenant."), field="partner_tenant_id"
        )
    account.full_clean()
    account.save()
    activity_record(
        actor=actor,
        organisation=partner,
        obj=account,
        operation="provider_account.register",
        details={
            "kind": kind,
            "partner_tenant_id": account.partner_tenant_id,
            "application_id": account.application_id,
            "authority_url": account.authority_url,
            "api_base_url": account.api_base_url,
            "graph_base_url": account.graph_base_url,
        },
    )
    return account


def _readable_secret(account: ProviderAccount) -> str | None:
    try:
        return account.application_secret
    except crypto.SecretUnreadable:  # encrypted with a key since replaced: any secret is news
        return None


# Changing one of these makes the stored consent belong to another app or authority.
_CONSENT_BOUND_FIELDS = ("application_id", "authority_url")


@transaction.atomic
def account_update(
    *,
    actor: User | None,
    account: ProviderAccount,
    name: str,
    application_id: str,
    authority_url: str,
    api_base_url: str,
    ca_bundle_path: str = "",
    application_secret: str = "",
    graph_base_url: str | None = None,
) -> ProviderAccount:
    """Change an account's name, app, hosts or CA bundle, or rotate its secret (an empty
    `application_secret` keeps the current one). A new app or authority drops the consent: it
    was given to the old one."""
    _require_rights(actor, account.organisation)
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    values: dict[str, Any] = {
        "name": _text(name, field="name", limit=200),
        "application_id": _guid(application_id, field="application_id"),
        "authority_url": _https_url(authority_url, field="authority_url"),
        "api_base_url": _https_url(api_base_url, field="api_base_url"),
        "ca_bundle_path": _ca_bundle(ca_bundle_path),
    }
    if graph_base_url is not None:  # None: as it is
        values["graph_base_url"] = _https_url(graph_base_url, field="graph_base_url")
    changes = {
        field: [getattr(account, field), new]
        for field, new in values.items()
        if getattr(account, field) != new
    }
    secret = application_secret.strip()
    if secret:
        _text(secret, field="application_secret", limit=1000)
    secret_changed = bool(secret) and secret != _readable_secret(account)
    if not changes and not secret_changed:
        return account
    for field, value in values.items():
        setattr(account, field, value)
    fields = list(values)
    if secret_changed:
        account.set_application_secret(secret)
        fields.append("application_secret_encrypted")
    consent_dropped = bool(account.refresh_token_encrypted) and any(
        field in changes for field in _CONSENT_BOUND_FIELDS
    )
    if consent_dropped:
        account.set_refresh_token(None)
        account.consent_granted_at = account.consent_lost_at = None
        account.refresh_token_used_at = None
        account.consented_by = account.consent_error = ""
        account.expiry_warning_days = None
        fields += [
            "refresh_token_encrypted",
            "refresh_token_updated_at",
            "consent_granted_at",
            "consent_lost_at",
            "refresh_token_used_at",
            "consented_by",
            "consent_error",
            "expiry_warning_days",
        ]
    account.full_clean()
    account.save(update_fields=[*fields, "updated_at"])
    activity_record(
        actor=actor,
        organisation=account.organisation,
        obj=account,
        operation="provider_account.update",
        changes=changes,
        details={"secret_changed": secret_changed, "consent_dropped": consent_dropped},
    )
    return account


# --- consent -------------------------------------------------------------------------------------


def _credentials(account: ProviderAccount):
    from seatkeeper.providers.microsoft.auth import Credentials

    return Credentials(
        authority_host=account.authority_url,
        tenant_id=account.partner_tenant_id,
        client_id=account.application_id,
        client_secret=account.application_secret,
        ca_bundle=account.ca_bundle_path or None,
    )


def account_consent_begin(
    *, actor: User | None, account: ProviderAccount, redirect_uri: str
) -> dict[str, Any]:
    """Start "Login with Microsoft": the flow to keep (server-side) until the authority sends
    the browser back to `redirect_uri`; `flow["auth_uri"]` is where to send it. Writes nothing."""
    from seatkeeper.providers.microsoft import consent

    _require_rights(actor, account.organisation)
    if not account.is_active:
        raise ServiceError(_("This account is deactivated."))
    try:
        return consent.begin(_credentials(account), redirect_uri=redirect_uri)
    except ProviderError as error:
        raise ServiceError(
            _("Microsoft's sign-in could not be reached: %(reason)s") % {"reason": error.message}
        ) from error


def _consent_refusal(error: AuthFailed) -> ServiceError:
    messages = {
        "access_denied": _("Consent was declined at Microsoft's sign-in: nothing was changed."),
        "state_mismatch": _(
            "This sign-in answer does not belong to the sign-in started here. Start again with "
            "Login with Microsoft."
        ),
        "no_mfa": _(
            "The partner agent signed in without multi-factor authentication, which Partner "
            "Center refuses. Sign in again and complete the verification step."
        ),
        "wrong_tenant": _(
            "The person who signed in belongs to another directory than this account's partner "
            "tenant. Sign in with an agent of the partner tenant."
        ),
    }
    message = messages.get(str(error.code)) or _("Microsoft refused the sign-in: %(reason)s") % {
        "reason": error.message
    }
    return ServiceError(message, code=str(error.code or "auth_failed"))


def account_consent_complete(
    *,
    actor: User | None,
    account: ProviderAccount,
    flow: dict[str, Any],
    reply: dict[str, str],
) -> ProviderAccount:
    """Finish "Login with Microsoft": check the authority's answer against `flow`, redeem the
    code, keep the refresh token (encrypted). Refusals raise ServiceError and change nothing."""
    from seatkeeper.providers.microsoft import consent

    _require_rights(actor, account.organisation)
    try:
        granted = consent.complete(_credentials(account), flow=flow, reply=reply)
    except AuthFailed as error:
        raise _consent_refusal(error) from error
    except ProviderError as error:
        raise ServiceError(
            _("Microsoft's sign-in could not be reached: %(reason)s") % {"reason": error.message}
        ) from error
    return account_consent_store(
        actor=actor,
        account=account,
        refresh_token=granted.refresh_token,
        consented_by=granted.consented_by,
    )


@transaction.atomic
def account_consent_store(
    *, actor: User | None, account: ProviderAccount, refresh_token: str, consented_by: str
) -> ProviderAccount:
    """Keep a consented refresh token (from the sign-in above, or a sandbox's pre-granted
    consent for the demo); the consent is healthy again whatever happened before."""
    _require_rights(actor, account.organisation)
    if not refresh_token:
        raise ServiceError(_("No refresh token was given."))
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    account.set_refresh_token(refresh_token)
    account.consent_granted_at = clock.now()
    account.consented_by = consented_by[:255]
    account.consent_lost_at = None
    account.consent_error = ""
    account.expiry_warning_days = None
    account.save(
        update_fields=[
            "refresh_token_encrypted",
            "refresh_token_updated_at",
            "consent_granted_at",
            "consented_by",
            "consent_lost_at",
            "consent_error",
            "expiry_warning_days",
            "updated_at",
        ]
    )
    activity_record(
        actor=actor,
        organisation=account.organisation,
        obj=account,
        operation="provider_account.consent",
        details={"consented_by": account.consented_by},
    )
    return account


# --- the refresh token's health ------------------------------------------------------------------


def account_token_redeemed(*, account_id: int) -> None:
    """The refresh token was just redeemed: its 90 days start again, earlier expiry warnings no
    longer apply. Bookkeeping like a last-login time, so not an activity record (it happens
    about once an hour per worker while the vendor is being used)."""
    ProviderAccount.objects.filter(pk=account_id).update(
        refresh_token_used_at=clock.now(), expiry_warning_days=None
    )


def account_consent_lost(
    *, account_id: int, refresh_token: str, error: str, description: str
) -> bool:
    """The authority refused to redeem `refresh_token` (expired, revoked): the account needs a
    new consent. Recorded and e-mailed to the partner's cloud admins once; a refusal of a token
    that is no longer the stored one (a consent given since) changes nothing."""
    with transaction.atomic():
        account = (
            ProviderAccount.objects.select_for_update()
            .select_related("organisation")
            .filter(pk=account_id)
            .first()
        )
        if account is None or account.consent_lost_at is not None:
            return False
        try:
            current = account.refresh_token
        except crypto.SecretUnreadable:
            current = None
        if current != refresh_token:
            return False
        account.consent_lost_at = clock.now()
        account.consent_error = f"{error}: {description}"[:500]
        account.save(update_fields=["consent_lost_at", "consent_error", "updated_at"])
        activity_record(
            actor=None,
            organisation=account.organisation,
            obj=account,
            operation="provider_account.consent_lost",
            details={"error": error, "description": description},
        )
        transaction.on_commit(partial(notifications.consent_lost, account_id=account.pk))
    return True


# Operations meeting a vendor outage (no answer after the connector's own retries), in a row and
# with no answer in between, before the account's provisioning queue is paused.
OUTAGE_THRESHOLD = 3


def account_vendor_unavailable(*, account_id: int, error: str) -> bool:
    """An operation found the vendor not answering. Returns whether the account's queue is
    paused: from the OUTAGE_THRESHOLD-th operation in a row on, it is an outage rather than one
    operation's problem. The pause is recorded and e-mailed to the cloud admins once."""
    now = clock.now()
    with transaction.atomic():
        account = (
            ProviderAccount.objects.select_for_update()
            .select_related("organisation")
            .get(pk=account_id)
        )
        if account.outage_since is None:
            account.outage_since = now
            account.outage_failures = 0
        account.outage_failures += 1
        account.outage_error = error[:500]
        if account.outage_paused_at is None and account.outage_failures >= OUTAGE_THRESHOLD:
            account.outage_paused_at = now
            activity_record(
                actor=None,
                organisation=account.organisation,
                obj=account,
                operation="provider_account.outage",
                details={"error": error[:500]},
            )
            transaction.on_commit(partial(notifications.vendor_outage, account_id=account.pk))
        account.save(
            update_fields=[
                "outage_since",
                "outage_failures",
                "outage_paused_at",
                "outage_error",
                "updated_at",
            ]
        )
        return account.outage_paused_at is not None


def account_vendor_answered(*, account_id: int) -> bool:
    """The vendor answered again: the outage is over. Returns whether a paused queue resumes
    (recorded in the activity log)."""
    if not ProviderAccount.objects.filter(pk=account_id, outage_since__isnull=False).exists():
        return False  # the usual case, without a lock
    with transaction.atomic():
        account = (
            ProviderAccount.objects.select_for_update()
            .select_related("organisation")
            .get(pk=account_id)
        )
        if account.outage_since is None:
            return False
        paused = account.outage_paused_at is not None
        if paused:
            activity_record(
                actor=None,
                organisation=account.organisation,
                obj=account,
                operation="provider_account.outage_over",
                details={"since": account.outage_since.isoformat()},
            )
        account.outage_since = None
        account.outage_failures = 0
        account.outage_paused_at = None
        account.outage_error = ""
        account.save(
            update_fields=[
                "outage_since",
                "outage_failures",
                "outage_paused_at",
                "outage_error",
                "updated_at",
            ]
        )
        return paused


@dataclass(frozen=True, kw_only=True)
class ConnectionResult:
    ok: bool
    user_consent: bool = False
    reason: str = ""


def _connection_provider(account: ProviderAccount):
    from seatkeeper.providers.microsoft.retry import RetryPolicy
    from seatkeeper.providers.registry import get_provider

    # A person is waiting for the answer: one retry at most, never minutes of back-off.
    return get_provider(account, retry=RetryPolicy(max_attempts=2, max_delay=2.0))


def account_test_connection(
    *, actor: User | None, account: ProviderAccount, provider_factory=_connection_provider
) -> ConnectionResult:
    """Prove the account's credentials with the vendor now (a token, a freshly redeemed consent
    and one small read). Writes only what the connector records: the token's last use, or a
    refused consent."""
    _require_rights(actor, account.organisation)
    try:
        with provider_factory(account) as provider:
            check = provider.check_connection()
    except ProviderError as error:
        return ConnectionResult(ok=False, reason=str(error))
    except crypto.SecretUnreadable as error:
        return ConnectionResult(ok=False, reason=str(error))
    return ConnectionResult(ok=True, user_consent=check.user_consent)
