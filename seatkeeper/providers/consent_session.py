"""The "Login with Microsoft" flow between its two legs, kept in the server-side session.

msal's flow (state, nonce, PKCE verifier, redirect URI) must survive the trip to the authority and
back, and must only be usable by the person who started it, for the account it was started for,
once, and not for long: the session holds one pending sign-in, bound to the user and the account,
which the callback takes (removes) before anything else.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from seatkeeper.core import clock
from seatkeeper.providers.models import ProviderAccount

SESSION_KEY = "providers.pending_consent"
# Long enough to sign in with MFA, short enough that a forgotten tab is not a standing invitation.
FLOW_LIFETIME = dt.timedelta(minutes=10)


def callback_url() -> str:
    """Our redirect URI, to register in the partner's app: the site's address + the callback."""
    return settings.SITE_URL.rstrip("/") + reverse("provider_consent_callback")


class Purpose(enum.StrEnum):
    REGISTER = "register"  # the last step of registering the account
    RECONSENT = "reconsent"  # consent given again to an existing account


@dataclass(frozen=True, kw_only=True)
class PendingConsent:
    account_id: int
    user_id: int
    purpose: Purpose
    started_at: dt.datetime
    flow: dict[str, Any]

    @property
    def is_expired(self) -> bool:
        return clock.now() > self.started_at + FLOW_LIFETIME


def remember(
    request: HttpRequest, *, account: ProviderAccount, flow: dict[str, Any], purpose: Purpose
) -> None:
    """Keep `flow` for the callback (replacing any sign-in this person left unfinished)."""
    request.session[SESSION_KEY] = {
        "account_id": account.pk,
        "user_id": request.user.pk,
        "purpose": purpose.value,
        "started_at": clock.now().isoformat(),
        "flow": flow,
    }


def take(request: HttpRequest) -> PendingConsent | None:
    """The pending sign-in of this person, removed from the session (a flow is used once)."""
    stored = request.session.pop(SESSION_KEY, None)
    if not isinstance(stored, dict) or stored.get("user_id") != request.user.pk:
        return None
    try:
        return PendingConsent(
            account_id=int(stored["account_id"]),
            user_id=int(stored["user_id"]),
            purpose=Purpose(stored["purpose"]),
            started_at=dt.datetime.fromisoformat(stored["started_at"]),
            flow=dict(stored["flow"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
