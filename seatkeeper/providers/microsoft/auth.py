"""Access tokens for Partner Center, through msal's ConfidentialClientApplication.

Two kinds of token (protocol facts):
- App-only: client-credentials grant for `https://api.partnercenter.microsoft.com/.default`.
  No MFA, no refresh token; accepted by most endpoints.
- App+User (Secure Application Model): the partner consented once, interactively with MFA, and
  we keep the refresh token it produced. Redeeming it gives an access token carrying `mfa` in
  `amr`, which users, licences and provisioning-status endpoints insist on. Each redemption may
  hand back a NEW refresh token with a fresh 90-day inactivity lifetime; we store it at once,
  otherwise the consent silently dies after 90 days.
Access tokens are cached per process until shortly before they expire; a 401 from the API makes
the client call `invalidate()` and fetch a fresh one (the server's idea of "expired" wins).
Every redemption of the refresh token is reported (`on_redeemed`), so the account can show when
the consent was last used and when it will lapse; a redemption refused as `invalid_grant` (expired,
revoked) or `interaction_required` is reported too (`on_consent_lost`): only a new consent helps.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from seatkeeper.core import clock
from seatkeeper.providers.errors import AuthFailed, Unavailable

logger = logging.getLogger(__name__)

API_RESOURCE = "https://api.partnercenter.microsoft.com"
APP_SCOPES = [f"{API_RESOURCE}/.default"]
USER_SCOPES = [f"{API_RESOURCE}/user_impersonation"]
# Hosts msal knows; for any other host (the sandbox) instance discovery would call
# login.microsoftonline.com over the real network, so it is turned off.
KNOWN_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login-us.microsoftonline.com",
    }
)
# Renew a little early so a token never expires between our check and the server's.
EXPIRY_MARGIN = dt.timedelta(minutes=2)
# Token endpoint errors after which the stored refresh token is of no more use.
CONSENT_LOST_ERRORS = frozenset({"invalid_grant", "interaction_required"})


class TokenKind(enum.StrEnum):
    APP = "app"
    USER = "user"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    authority_host: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_bundle: str | None = None
    timeout: float = 30.0

    @property
    def authority(self) -> str:
        """`https://host/{tenant}`: the login host plus the partner tenant, unless the
        configured URL already names a tenant (a full authority URL)."""
        base = self.authority_host.rstrip("/")
        if urlsplit(base).path.strip("/"):
            return base
        return f"{base}/{self.tenant_id}"

    def cache_key(self) -> str:
        material = "\n".join(
            [self.authority, self.client_id, self.client_secret, self.ca_bundle or ""]
        )
        return hashlib.sha256(material.encode()).hexdigest()


@dataclass(slots=True)
class _Cached:
    token: str
    expires_at: dt.datetime


def build_msal_app(
    credentials: Credentials,
) -> tuple[msal.ConfidentialClientApplication, requests.Session]:
    """An msal application for these credentials, and the HTTP session it uses (close it).

    msal reads the authority's metadata over the network here. Instance discovery (a call to
    login.microsoftonline.com) is only for Microsoft's own hosts: the sandbox is unreachable from
    Microsoft and the real network is unreachable from tests."""
    host = urlsplit(credentials.authority_host).hostname or ""
    session = _TokenHttpSession(verify=credentials.ca_bundle or True, timeout=credentials.timeout)
    try:
        app = msal.ConfidentialClientApplication(
            credentials.client_id,
            client_credential=credentials.client_secret,
            authority=credentials.authority,
            http_client=session,
            # Ignored by msal once http_client is given (the session carries the bundle); kept
            # so the trust setting reads the same here as everywhere else.
            verify=credentials.ca_bundle or True,
            timeout=credentials.timeout,
            instance_discovery=host in KNOWN_AUTHORITY_HOSTS,
        )
    except BaseException:
        session.close()
        raise
    return app, session


class TokenSource:
    """Hands out bearer tokens; safe to share between threads."""

    def __init__(
        self,
        *,
        credentials: Credentials,
        refresh_token: str | None = None,
        on_refresh_token: Callable[[str], None] | None = None,
        on_redeemed: Callable[[], None] | None = None,
        on_consent_lost: Callable[[str, str, str], None] | None = None,
        app_scopes: list[str] | None = None,
    ) -> None:
        self.credentials = credentials
        # What an app-only token is asked for: Partner Center's API unless told otherwise
        # (Microsoft Graph's billing reports take a token of their own).
        self.app_scopes = list(app_scopes or APP_SCOPES)
        self._refresh_token = refresh_token
        # Tokens we issued or were given: a stale copy read from the database is not a change.
        self._known_refresh_tokens = {refresh_token} if refresh_token else set()
        self._on_refresh_token = on_refresh_token
        self._on_redeemed = on_redeemed
        self._on_consent_lost = on_consent_lost
        self._lock = threading.Lock()
        self._cached: dict[TokenKind, _Cached] = {}
        # Built on first use: msal reads the authority's metadata over the network when it
        # is constructed, and building a connector must not need the vendor to be reachable.
        self._app: msal.ConfidentialClientApplication | None = None
        self.acquisitions = 0  # how many times we went to the token endpoint

    def _msal(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def _build_app(self) -> msal.ConfidentialClientApplication:
        app, self._session = build_msal_app(self.credentials)
        return app

    def close(self) -> None:
        if self._app is not None:
            # msal wraps our session; closing ours releases the pooled connections.
            self._session.close()

    def adopt_refresh_token(self, refresh_token: str | None) -> None:
        """Take the stored refresh token when it was replaced (the partner consented again)."""
        with self._lock:
            if refresh_token and refresh_token not in self._known_refresh_tokens:
                self._refresh_token = refresh_token
                self._known_refresh_tokens.add(refresh_token)
                self._cached.pop(TokenKind.USER, None)

    @property
    def has_user_consent(self) -> bool:
        return bool(self._refresh_token)

    def token(self, *, kind: TokenKind) -> str:
        if kind is TokenKind.USER and not self._refresh_token:
            # No consent stored: app-only is the best we have; the API says if it is not enough.
            kind = TokenKind.APP
        with self._lock:
            cached = self._cached.get(kind)
            if cached and clock.now() < cached.expires_at - EXPIRY_MARGIN:
                return cached.token
            fresh = self._acquire(kind)
            self._cached[kind] = fresh
            return fresh.token

    def invalidate(self, *, kind: TokenKind) -> None:
        with self._lock:
            self._cached.pop(kind, None)
            if kind is TokenKind.APP or not self._refresh_token:
                self._cached.pop(TokenKind.APP, None)
                # msal keeps its own cache of client-credential tokens; drop it too, or it
                # would hand back the token the API just refused.
                if self._app is not None:
                    self._app.remove_tokens_for_client()

    def _acquire(self, kind: TokenKind) -> _Cached:
        self.acquisitions += 1
        try:
            if kind is TokenKind.APP:
                result = self._msal().acquire_token_for_client(scopes=self.app_scopes)
            else:
                result = self._msal().acquire_token_by_refresh_token(
                    self._refresh_token, scopes=USER_SCOPES
                )
        except (OSError, ValueError) as error:
            # requests' connection errors are OSErrors; msal raises ValueError when the
            # authority's metadata cannot be read.
            raise Unavailable(f"token endpoint unreachable: {error}", retryable=True) from error
        return self._read(kind, result)

    def _read(self, kind: TokenKind, result: dict[str, Any]) -> _Cached:
        if "access_token" not in result:
            error = result.get("error", "unknown_error")
            description = str(result.get("error_description", "")).split("\r\n")[0]
            # Entra may list several codes (the refusal and its cause); all are kept.
            raw_codes = result.get("error_codes") or []
            if not isinstance(raw_codes, list):
                raw_codes = [raw_codes]
            codes = tuple(str(c) for c in raw_codes) or (str(error),)
            # Throttled or failing token endpoint: msal reports it as an error dict too.
            retryable = error in {"temporarily_unavailable", "server_error"}
            logger.warning(
                "token request refused: %s %s (codes %s)", error, description, ", ".join(codes)
            )
            if (
                kind is TokenKind.USER
                and error in CONSENT_LOST_ERRORS
                and self._on_consent_lost is not None
            ):
                refused = self._refresh_token or ""
                self._on_consent_lost(refused, str(error), description)
            raise AuthFailed(
                f"token request refused ({error}): {description}",
                code=codes[0],
                codes=codes,
                retryable=retryable,
            )
        new_refresh_token = result.get("refresh_token")
        if (
            kind is TokenKind.USER
            and new_refresh_token
            and new_refresh_token != self._refresh_token
        ):
            self._refresh_token = new_refresh_token
            self._known_refresh_tokens.add(new_refresh_token)
            if self._on_refresh_token is not None:
                self._on_refresh_token(new_refresh_token)
        if kind is TokenKind.USER and self._on_redeemed is not None:
            self._on_redeemed()
        expires_in = int(result.get("expires_in") or 600)
        return _Cached(
            token=result["access_token"],
            expires_at=clock.now() + dt.timedelta(seconds=expires_in),
        )


class _TokenHttpSession(requests.Session):
    """The HTTP session msal uses, with our CA bundle and timeout applied to every request.

    Why not msal's `verify=`: msal sets it on the session, and requests lets the
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE environment variables override a session-level value, so
    the configured bundle would be silently ignored on hosts that set them. Passed per request,
    it wins. Verification stays on either way.
    """

    def __init__(self, *, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self._verify = verify
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("verify", self._verify)
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


_sources: dict[str, TokenSource] = {}
_sources_lock = threading.Lock()


def shared_token_source(
    *,
    credentials: Credentials,
    refresh_token: str | None,
    on_refresh_token: Callable[[str], None] | None,
    scope: str,
    on_redeemed: Callable[[], None] | None = None,
    on_consent_lost: Callable[[str, str, str], None] | None = None,
    app_scopes: list[str] | None = None,
) -> TokenSource:
    """One TokenSource per account and credentials per process, so tokens are reused by every
    adapter built for that account. Changing the secret or the refresh token gives a new one.
    `app_scopes` names another resource for app-only tokens (Microsoft Graph)."""
    key = f"{scope}:{' '.join(app_scopes or APP_SCOPES)}:{credentials.cache_key()}"
    with _sources_lock:
        source = _sources.get(key)
        if source is None:
            source = TokenSource(
                credentials=credentials,
                refresh_token=refresh_token,
                on_refresh_token=on_refresh_token,
                on_redeemed=on_redeemed,
                on_consent_lost=on_consent_lost,
                app_scopes=app_scopes,
            )
            _sources[key] = source
        else:
            source.adopt_refresh_token(refresh_token)
        return source


def forget_token_sources() -> None:
    """Drop every cached TokenSource and close its HTTP connections (tests, shutdown)."""
    with _sources_lock:
        sources = list(_sources.values())
        _sources.clear()
    for source in sources:
        source.close()
