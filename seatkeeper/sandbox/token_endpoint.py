"""The token endpoint, v1 (`/{tenant}/oauth2/token`) and v2 (`/{tenant}/oauth2/v2.0/token`).

A request is read once into a `TokenRequest` (tenant, client, form, the resource it names), the
client is authenticated, then one handler per grant answers: `client_credentials` (app-only),
`authorization_code` (the code the sign-in pages issued), `refresh_token` (Secure Application
Model), and `password`, which Entra refuses for partner agents because they must use MFA.
Stored codes and refresh tokens are read into named records, never indexed tuples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from starlette.requests import Request
from starlette.responses import Response

from .identity import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    REFRESH_INACTIVITY,
    RESOURCES,
    aad_error,
    b64url,
    issue_access_token,
    issue_id_token,
    known_tenant,
    mint_refresh_token,
    read_form,
    resource_from_scopes,
)
from .state import (
    GRAPH_WINDOWS_AUDIENCE,
    MICROSOFT_GRAPH_AUDIENCE,
    PARTNER_CENTER_AUDIENCE,
    Sandbox,
)
from .store import Store
from .web import json_response, sandbox_of

NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


@dataclass(frozen=True, kw_only=True)
class TokenRequest:
    request: Request
    sandbox: Sandbox
    v1: bool
    tenant_id: str
    client_id: str
    params: dict[str, str]

    @property
    def scopes(self) -> list[str]:
        return self.params.get("scope", "").split()

    @property
    def resource(self) -> str | None:
        """v1 takes `resource=`; clients that discovered the v1 metadata (MSAL's oidc_authority)
        still post `scope=<resource>/.default`, which Entra accepts too. v2 takes the scope."""
        if self.v1 and self.params.get("resource"):
            return self.params["resource"]
        return resource_from_scopes(self.scopes)[0]

    @property
    def wants_client_info(self) -> bool:
        return self.params.get("client_info") == "1"

    def error(self, error: str, code: int, message: str, status: int = 400) -> Response:
        return aad_error(self.request, error, code, message, status)


@dataclass(frozen=True, kw_only=True)
class AuthCode:
    COLUMNS: ClassVar[str] = (
        "client_id, oid, redirect_uri, scope, resource, nonce, challenge, mfa, created, used"
    )
    code: str
    client_id: str
    oid: str
    redirect_uri: str | None
    scope: str
    resource: str
    nonce: str | None
    challenge: str | None
    mfa: bool
    created: float
    used: bool

    @classmethod
    def load(cls, store: Store, code: str) -> Self | None:
        row = store.one(f"SELECT {cls.COLUMNS} FROM auth_codes WHERE code = ?", (code,))  # noqa: S608
        if row is None:
            return None
        client_id, oid, redirect_uri, scope, resource, nonce, challenge, mfa, created, used = row
        return cls(
            code=code,
            client_id=client_id,
            oid=oid,
            redirect_uri=redirect_uri,
            scope=scope,
            resource=resource,
            nonce=nonce,
            challenge=challenge,
            mfa=bool(mfa),
            created=created,
            used=bool(used),
        )


@dataclass(frozen=True, kw_only=True)
class StoredRefreshToken:
    COLUMNS: ClassVar[str] = "client_id, oid, scope, mfa, last_used, revoked"
    token: str
    client_id: str
    oid: str
    scope: str
    mfa: bool
    last_used: float
    revoked: bool

    @classmethod
    def load(cls, store: Store, token: str) -> Self | None:
        row = store.one(f"SELECT {cls.COLUMNS} FROM refresh_tokens WHERE token = ?", (token,))  # noqa: S608
        if row is None:
            return None
        client_id, oid, scope, mfa, last_used, revoked = row
        return cls(
            token=token,
            client_id=client_id,
            oid=oid,
            scope=scope,
            mfa=bool(mfa),
            last_used=last_used,
            revoked=bool(revoked),
        )


async def token(request: Request) -> Response:
    sandbox = sandbox_of(request)
    tenant = request.path_params["tenant"]
    tenant_id = known_tenant(sandbox, tenant)
    if tenant_id is None:
        return aad_error(request, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
    params = await read_form(request)
    client_id, secret = _client_credentials_of(request, params)
    if not client_id:
        return aad_error(
            request,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app_secret = sandbox.store.one("SELECT secret FROM apps WHERE client_id = ?", (client_id,))
    if app_secret is None:
        return aad_error(
            request,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant_id}'.",
        )
    grant = params.get("grant_type", "")
    call = TokenRequest(
        request=request,
        sandbox=sandbox,
        v1=not request.url.path.endswith("/v2.0/token"),
        tenant_id=tenant_id,
        client_id=client_id,
        params=params,
    )
    if grant == "password":
        # Refused before the secret is even looked at, as Entra does for MFA-bound accounts.
        return _password(call)
    if secret is None:
        return call.error(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
            401,
        )
    if not secrets.compare_digest(secret, app_secret[0]):
        return call.error(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID.",
            401,
        )
    handler = GRANTS.get(grant)
    if handler is None:
        return call.error(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )
    return handler(call)


def _client_credentials_of(request: Request, params: dict[str, str]) -> tuple[str, str | None]:
    """Client id and secret from the form (client_secret_post) or HTTP Basic."""
    client_id, secret = params.get("client_id", ""), params.get("client_secret")
    basic = request.headers.get("Authorization", "")
    if basic.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
        except ValueError:
            return client_id, secret
        client_id, secret = client_id or user, password
    return client_id, secret


# -- one handler per grant ------------------------------------------------------------------------


def _password(call: TokenRequest) -> Response:
    return call.error(
        "interaction_required",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new "
        "location, you must use multi-factor authentication to access the resource.",
    )


def _client_credentials(call: TokenRequest) -> Response:
    resource = call.resource
    if not resource:
        return call.error(
            "invalid_request" if call.v1 else "invalid_scope",
            50001 if call.v1 else 1002012,
            "The provided value for scope or resource is not valid.",
        )
    if not call.v1 and not any(scope.endswith("/.default") for scope in call.scopes):
        return call.error(
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier.",
        )
    # App-only tokens: Partner Center (either audience) or Microsoft Graph (billing exports).
    if resource not in (PARTNER_CENTER_AUDIENCE, GRAPH_WINDOWS_AUDIENCE, MICROSOFT_GRAPH_AUDIENCE):
        return call.error(
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{call.tenant_id}.",
        )
    access, expires_on = issue_access_token(
        call.sandbox, client_id=call.client_id, resource=resource
    )
    return _token_response(
        v1=call.v1,
        access=access,
        expires_on=expires_on,
        resource=resource,
        scope=f"{resource}/.default",
    )


def _authorization_code(call: TokenRequest) -> Response:
    sandbox = call.sandbox
    code = AuthCode.load(sandbox.store, call.params.get("code", ""))
    if code is None or code.client_id != call.client_id:
        return call.error(
            "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
        )
    if code.used or code.created + CODE_LIFETIME < sandbox.clock.timestamp():
        return call.error(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. "
            "Send a new interactive authorization request for this user and resource.",
        )
    redirect_uri = call.params.get("redirect_uri")
    if code.redirect_uri and redirect_uri and redirect_uri != code.redirect_uri:
        return call.error(
            "invalid_grant",
            50011,
            "The redirect URI specified in the request does not match the redirect URIs "
            "configured for the application.",
        )
    if code.challenge:
        verifier = call.params.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
            return call.error(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
    sandbox.store.run("UPDATE auth_codes SET used = 1 WHERE code = ?", (code.code,))
    return _user_tokens(
        call,
        oid=code.oid,
        resource=call.resource or code.resource,
        nonce=code.nonce,
        mfa=code.mfa,
        scope=code.scope,
    )


def _refresh_token(call: TokenRequest) -> Response:
    sandbox = call.sandbox
    stored = StoredRefreshToken.load(sandbox.store, call.params.get("refresh_token", ""))
    if stored is None or stored.client_id != call.client_id:
        return call.error(
            "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
        )
    if stored.revoked:
        return call.error(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
        )
    if stored.last_used + REFRESH_INACTIVITY < sandbox.clock.timestamp():
        return call.error(
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on an earlier "
            "date and was inactive for 90.00:00:00.",
        )
    sandbox.store.run(
        "UPDATE refresh_tokens SET last_used = ? WHERE token = ?",
        (sandbox.clock.timestamp(), stored.token),
    )
    stored_resource, _ = resource_from_scopes(stored.scope.split())
    return _user_tokens(
        call,
        oid=stored.oid,
        resource=call.resource or stored_resource or PARTNER_CENTER_AUDIENCE,
        nonce=None,
        mfa=stored.mfa,
        scope=stored.scope,
    )


GRANTS: dict[str, Callable[[TokenRequest], Response]] = {
    "client_credentials": _client_credentials,
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
}


# -- answers --------------------------------------------------------------------------------------


def _user_tokens(
    call: TokenRequest, *, oid: str, resource: str, nonce: str | None, mfa: bool, scope: str
) -> Response:
    """App+User tokens for a partner agent: access, a new (rotating) refresh token, id token."""
    sandbox = call.sandbox
    agent = sandbox.store.one("SELECT upn, name FROM agents WHERE oid = ?", (oid,))
    if agent is None:
        return call.error(
            "invalid_grant", 50034, "The user account does not exist in the directory."
        )
    if resource not in RESOURCES:
        return call.error(
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant.",
        )
    upn, name = agent
    access, expires_on = issue_access_token(
        sandbox, client_id=call.client_id, resource=resource, oid=oid, upn=upn, name=name, mfa=mfa
    )
    scope_text = " ".join(s for s in scope.split() if s) or f"{resource}/user_impersonation"
    refresh = mint_refresh_token(
        sandbox, client_id=call.client_id, oid=oid, scope=scope_text, mfa=mfa
    )
    extra: dict[str, Any] = {
        "refresh_token": refresh,
        "id_token": issue_id_token(
            sandbox,
            client_id=call.client_id,
            oid=oid,
            upn=upn,
            name=name,
            nonce=nonce,
            v1=call.v1,
            mfa=mfa,
        ),
    }
    if call.wants_client_info:
        info = {"uid": oid, "utid": sandbox.identity.partner_tenant_id}
        extra["client_info"] = b64url(json.dumps(info).encode())
    granted = (
        "user_impersonation"
        if call.v1
        else f"{resource}/user_impersonation openid profile offline_access"
    )
    return _token_response(
        v1=call.v1,
        access=access,
        expires_on=expires_on,
        resource=resource,
        scope=granted,
        extra=extra,
    )


def _token_response(
    *,
    v1: bool,
    access: str,
    expires_on: int,
    resource: str,
    scope: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    # Derived from the token itself, so expires_in never drifts by a second.
    lifetime = ACCESS_TOKEN_LIFETIME
    issued = expires_on - lifetime
    body: dict[str, Any]
    if v1:
        # v1 serialises every number as a string (reference §2.2).
        body = {
            "token_type": "Bearer",
            "expires_in": str(lifetime),
            "ext_expires_in": str(lifetime),
            "expires_on": str(expires_on),
            "not_before": str(issued),
            "resource": resource,
            "access_token": access,
        }
        if scope == "user_impersonation":
            body = {"token_type": "Bearer", "scope": scope, **body}
    else:
        body = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }
    body.update(extra or {})
    return json_response(body, headers=NO_STORE)
