"""E-mail about provider accounts to the partner's cloud admins (the only people who can sign in
again at the vendor), each in their own language: a consent refused by the vendor, and a refresh
token about to lapse after 90 days unused.

Expiry warnings go out once per threshold (14 days, 3 days, lapsed) and per token lifetime: the
threshold sent is kept on the account and cleared when the token is used again, and it is claimed
by a conditional UPDATE, so two schedulers never send the same warning twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from seatkeeper.accounts.models import Role, User
from seatkeeper.providers.models import ProviderAccount

# Days before expiry at which the cloud admins hear about it; 0 = it has lapsed.
EXPIRY_WARNING_DAYS = (14, 3, 0)


def _cloud_admins(account: ProviderAccount) -> list[User]:
    return list(
        User.objects.filter(
            organisation_id=account.organisation_id, role=Role.CLOUD_ADMIN, is_active=True
        )
        .exclude(email="")
        .select_related("organisation")
    )


def _send(template: str, recipients: Iterable[User], context: dict) -> int:
    sent = 0
    for user in recipients:
        with translation.override(user.preferred_language):
            subject = render_to_string(f"providers/email/{template}_subject.txt", context).strip()
            body = render_to_string(f"providers/email/{template}.txt", {**context, "user": user})
        send_mail(subject, body, None, [user.email])
        sent += 1
    return sent


def _link(account: ProviderAccount) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("provider_account", args=[account.pk])


def consent_lost(*, account_id: int) -> int:
    account = ProviderAccount.objects.select_related("organisation").get(pk=account_id)
    return _send(
        "consent_lost",
        _cloud_admins(account),
        {"account": account, "link": _link(account)},
    )


def vendor_outage(*, account_id: int) -> int:
    """One notice for an outage, however many operations wait behind it."""
    account = ProviderAccount.objects.select_related("organisation").get(pk=account_id)
    return _send(
        "vendor_outage",
        _cloud_admins(account),
        {"account": account, "link": _link(account)},
    )


def _due_threshold(remaining: dt.timedelta) -> int | None:
    due = [days for days in EXPIRY_WARNING_DAYS if remaining <= dt.timedelta(days=days)]
    return min(due) if due else None


def expiring_consents(now: dt.datetime) -> int:
    """Warn about refresh tokens within 14 days (then 3 days) of lapsing, and lapsed ones."""
    accounts = (
        ProviderAccount.objects.filter(is_active=True, consent_lost_at__isnull=True)
        .exclude(refresh_token_encrypted="")
        .select_related("organisation")
    )
    sent = 0
    for account in accounts:
        expires_at = account.refresh_token_expires_at
        if expires_at is None:
            continue
        due = _due_threshold(expires_at - now)
        already = account.expiry_warning_days
        if due is None or (already is not None and already <= due):
            continue
        claimed = ProviderAccount.objects.filter(pk=account.pk, expiry_warning_days=already).update(
            expiry_warning_days=due
        )
        if claimed != 1:
            continue  # another scheduler sent it, or the token was used meanwhile
        sent += _send(
            "consent_expiring",
            _cloud_admins(account),
            {
                "account": account,
                "expires_at": expires_at,
                "lapsed": due == 0,
                "link": _link(account),
            },
        )
    return sent
