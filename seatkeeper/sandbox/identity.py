"""Microsoft Entra ID (login host) emulation: OpenID metadata, JWKS, instance discovery, an
authorize page with a consent screen, and the v1/v2 token endpoints.

Protocol facts relied on (reference §2): v1 token responses carry numbers as strings and a
``resource``; v2 responses carry integers and take ``scope=<resource>/.default``. Errors use the
Entra body ``{error, error_description: "AADSTSnnnn: ...", error_codes, timestamp, trace_id,
correlation_id, error_uri}`` with 400 (401 for bad client credentials). MSAL Python reads
``{authority}/v2.0/.well-known/openid-configuration`` and re-parses the tenant from the token
endpoint's first path segment, posts ``client_info=1`` and builds accounts from ``client_info``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .state import GRAPH_WINDOWS_AUDIENCE, PARTNER_CENTER_AUDIENCE, Sandbox
from .web import json_response, sandbox_of

ACCESS_TOKEN_LIFETIME = 3599
CODE_LIFETIME = 600
REFRESH_INACTIVITY = 90 * 24 * 3600
RESOURCES = (PARTNER_CENTER_AUDIENCE, GRAPH_WINDOWS_AUDIENCE, "https://api.partner.microsoft.com")
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}


async def _form(request: Request) -> dict[str, str]:
    """application/x-www-form-urlencoded body (parsed with the stdlib: no python-multipart)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(raw, keep_blank_values=True))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _known_tenant(sandbox: Sandbox, tenant: str) -> str | None:
    """Resolve a tenant path segment to the partner tenant id (or None if unknown)."""
    ident = sandbox.identity
    if tenant.lower() in (
        ident.partner_tenant_id.lower(),
        ident.partner_domain.lower(),
        "common",
        "organizations",
    ):
        return ident.partner_tenant_id
    return None


def _v2_issuer(sandbox: Sandbox, tid: str) -> str:
    return f"{sandbox.base_url}/{tid}/v2.0"


def _v1_issuer(tid: str) -> str:
    # Partner Center access tokens are v1 tokens whatever endpoint issued them.
    return f"https://sts.windows.net/{tid}/"


# -- metadata -------------------------------------------------------------------------------------


def _metadata_headers() -> dict[str, str]:
    return {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"}


def _aad_error(
    request: Request, error: str, code: int, message: str, status: int = 400
) -> Response:
    trace, correlation = (
        str(uuid.uuid4()),
        request.headers.get("client-request-id", str(uuid.uuid4())),
    )
    stamp = sandbox_of(request).clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\n"
        f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{sandbox_of(request).base_url}/error?code={code}",
    }
    return json_response(body, status, {"Cache-Control": "no-store, no-cache"})


async def openid_v2(request: Request) -> Response:
    sandbox = sandbox_of(request)
    tid = _known_tenant(sandbox, request.path_params["tenant"])
    if tid is None:
        return _aad_error(request, "invalid_tenant", 90002, "Tenant not found.")
    base = f"{sandbox.base_url}/{tid}"
    doc = {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": _v2_issuer(sandbox, tid),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return json_response(doc, headers=_metadata_headers())


async def openid_v1(request: Request) -> Response:
    sandbox = sandbox_of(request)
    tid = _known_tenant(sandbox, request.path_params["tenant"])
    if tid is None:
        return _aad_error(request, "invalid_tenant", 90002, "Tenant not found.")
    base = f"{sandbox.base_url}/{tid}"
    doc = {
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{sandbox.base_url}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": [
            "code",
            "id_token",
            "code id_token",
            "token id_token",
            "token",
        ],
        "scopes_supported": ["openid"],
        "issuer": _v1_issuer(tid),
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "email",
            "given_name",
            "family_name",
            "nickname",
        ],
        "check_session_iframe": f"{base}/oauth2/checksession",
        "userinfo_endpoint": f"{base}/openid/userinfo",
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return json_response(doc, headers=_metadata_headers())


def _jwk(sandbox: Sandbox) -> dict[str, Any]:
    numbers = sandbox.signing_key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {
        "kty": "RSA",
        "use": "sig",
        "kid": sandbox.kid,
        "x5t": sandbox.kid,
        "n": _b64url(n),
        "e": _b64url(e),
        "alg": "RS256",
        "issuer": f"{sandbox.base_url}/{{tenantid}}/v2.0",
    }


async def jwks(request: Request) -> Response:
    return json_response({"keys": [_jwk(sandbox_of(request))]}, headers=_metadata_headers())


async def instance_discovery(request: Request) -> Response:
    """``/common/discovery/instance``: MSAL's instance discovery reply (api-version 1.1 shape)."""
    sandbox = sandbox_of(request)
    host = urlparse(sandbox.base_url).netloc
    endpoint = request.query_params.get("authorization_endpoint", "")
    if endpoint and urlparse(endpoint).netloc.lower() != host.lower():
        return json_response(
            {
                "error": "invalid_instance",
                "error_description": "AADSTS50049: Unknown or invalid instance.",
                "error_codes": [50049],
            },
            400,
        )
    tenant = "common"
    if endpoint:
        parts = urlparse(endpoint).path.strip("/").split("/")
        tenant = parts[0] if parts and parts[0] else "common"
    body = {
        "tenant_discovery_endpoint": (
            f"{sandbox.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
        ),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
    return json_response(body, headers=_metadata_headers())


# -- tokens ---------------------------------------------------------------------------------------


def _sign(sandbox: Sandbox, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims,
        sandbox.signing_key,
        algorithm="RS256",
        headers={"kid": sandbox.kid, "x5t": sandbox.kid},
    )


def issue_access_token(
    sandbox: Sandbox,
    *,
    client_id: str,
    resource: str,
    oid: str | None = None,
    upn: str | None = None,
    name: str | None = None,
    mfa: bool = True,
    lifetime: int = ACCESS_TOKEN_LIFETIME,
) -> tuple[str, int]:
    now = int(sandbox.clock.timestamp())
    tid = sandbox.identity.partner_tenant_id
    claims: dict[str, Any] = {
        "aud": resource,
        "iss": _v1_issuer(tid),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": client_id,
        "appidacr": "1",
        "idp": _v1_issuer(tid),
        "tid": tid,
        "ver": "1.0",
        "uti": _b64url(secrets.token_bytes(16)),
    }
    if oid:
        claims.update(
            {
                "oid": oid,
                "sub": _b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()),
                "upn": upn,
                "unique_name": upn,
                "name": name or upn,
                "scp": "user_impersonation",
                "amr": ["pwd", "mfa"] if mfa else ["pwd"],
                "tenant_region_scope": "EU",
            }
        )
    else:
        claims.update(
            {
                "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
                "idtyp": "app",
                "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
                "roles": [],
            }
        )
    return _sign(sandbox, claims), now + lifetime


def _id_token(
    sandbox: Sandbox, *, client_id: str, oid: str, upn: str, name: str, nonce: str | None, v1: bool
) -> str:
    now = int(sandbox.clock.timestamp())
    tid = sandbox.identity.partner_tenant_id
    claims: dict[str, Any] = {
        "aud": client_id,
        "iss": _v1_issuer(tid) if v1 else _v2_issuer(sandbox, tid),
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
        "name": name,
        "oid": oid,
        "preferred_username": upn,
        "sub": _b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()),
        "tid": tid,
        "ver": "1.0" if v1 else "2.0",
    }
    if v1:
        claims.update({"upn": upn, "unique_name": upn, "amr": ["pwd", "mfa"]})
    if nonce:
        claims["nonce"] = nonce
    return _sign(sandbox, claims)


def mint_refresh_token(
    sandbox: Sandbox, *, client_id: str, oid: str, scope: str, mfa: bool = True
) -> str:
    token = "0.A" + _b64url(secrets.token_bytes(48))
    with sandbox.store.tx():
        sandbox.store.run(
            (
                "INSERT INTO refresh_tokens (token, client_id, oid, scope, mfa, last_used) VALUES "
                "(?, ?, ?, ?, ?, ?)"
            ),
            (token, client_id, oid, scope, int(mfa), sandbox.clock.timestamp()),
        )
        sandbox.store.run(
            "INSERT OR IGNORE INTO consents (client_id, oid) VALUES (?, ?)", (client_id, oid)
        )
    return token


def _resource_from_scopes(scopes: list[str]) -> tuple[str | None, list[str]]:
    """v2: the first non-OIDC scope names the resource (``<resource>/.default`` or
    ``<resource>/user_impersonation``)."""
    resource_scopes = [s for s in scopes if s.lower() not in OIDC_SCOPES]
    if not resource_scopes:
        return None, []
    first = resource_scopes[0]
    resource, _, _perm = first.rpartition("/")
    return (resource or first), resource_scopes


async def token(request: Request) -> Response:
    sandbox = sandbox_of(request)
    v1 = not request.url.path.endswith("/v2.0/token")
    tid = _known_tenant(sandbox, request.path_params["tenant"])
    if tid is None:
        return _aad_error(
            request,
            "invalid_request",
            90002,
            f"Tenant '{request.path_params['tenant']}' not found.",
        )
    params = await _form(request)
    client_id, secret = params.get("client_id", ""), params.get("client_secret")
    basic = request.headers.get("Authorization", "")
    if basic.lower().startswith("basic "):
        try:
            user, _, pwd = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, secret = client_id or user, pwd
        except ValueError:
            pass
    if not client_id:
        return _aad_error(
            request,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app = sandbox.store.one("SELECT secret, name FROM apps WHERE client_id = ?", (client_id,))
    if app is None:
        return _aad_error(
            request,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tid}'.",
        )
    grant = params.get("grant_type", "")
    if grant == "password":
        return _aad_error(
            request,
            "interaction_required",
            50076,
            (
                "Due to a configuration change made by your administrator, or because you moved to "
                "a new location, you must use multi-factor authentication to access the resource."
            ),
        )
    if secret is None:
        return _aad_error(
            request,
            "invalid_client",
            7000218,
            (
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'."
            ),
            401,
        )
    if not secrets.compare_digest(secret, app[0]):
        return _aad_error(
            request,
            "invalid_client",
            7000215,
            (
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID."
            ),
            401,
        )

    scopes = params.get("scope", "").split()
    if v1:
        # v1 takes resource=; clients that discovered the v1 metadata (MSAL's oidc_authority)
        # still post scope=<resource>/.default, which Entra accepts too.
        resource = params.get("resource") or _resource_from_scopes(scopes)[0]
    else:
        resource, _ = _resource_from_scopes(scopes)
    if grant == "client_credentials":
        if not resource:
            return _aad_error(
                request,
                "invalid_request" if v1 else "invalid_scope",
                1002012 if not v1 else 50001,
                "The provided value for scope or resource is not valid.",
            )
        if not v1 and not any(scope.endswith("/.default") for scope in scopes):
            return _aad_error(
                request,
                "invalid_scope",
                1002012,
                (
                    "The provided value for scope is not valid. Client credential flows must have "
                    "a scope value with /.default suffixed to the resource identifier."
                ),
            )
        if resource not in (PARTNER_CENTER_AUDIENCE, GRAPH_WINDOWS_AUDIENCE):
            return _aad_error(
                request,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named {tid}.",
            )
        access, expires_on = issue_access_token(sandbox, client_id=client_id, resource=resource)
        return _token_response(
            sandbox,
            v1=v1,
            access=access,
            expires_on=expires_on,
            resource=resource,
            scope=f"{resource}/.default",
        )

    if grant == "authorization_code":
        row = sandbox.store.one(
            (
                "SELECT client_id, oid, redirect_uri, resource, nonce, challenge, mfa, created, "
                "used, scope FROM auth_codes WHERE code = ?"
            ),
            (params.get("code", ""),),
        )
        if row is None or row[0] != client_id:
            return _aad_error(
                request,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            )
        if row[8] or row[7] + CODE_LIFETIME < sandbox.clock.timestamp():
            return _aad_error(
                request,
                "invalid_grant",
                70008,
                (
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user "
                    "and resource."
                ),
            )
        if row[2] and params.get("redirect_uri") and params["redirect_uri"] != row[2]:
            return _aad_error(
                request,
                "invalid_grant",
                50011,
                (
                    "The redirect URI specified in the request does not match the redirect URIs "
                    "configured for the application."
                ),
            )
        if row[5]:
            verifier = params.get("code_verifier", "")
            if _b64url(hashlib.sha256(verifier.encode()).digest()) != row[5]:
                return _aad_error(
                    request,
                    "invalid_grant",
                    501481,
                    (
                        "The Code_Verifier does not match the code_challenge supplied in the "
                        "authorization request."
                    ),
                )
        sandbox.store.run("UPDATE auth_codes SET used = 1 WHERE code = ?", (params["code"],))
        return _user_tokens(
            request,
            sandbox,
            v1=v1,
            client_id=client_id,
            oid=row[1],
            resource=resource or row[3],
            nonce=row[4],
            mfa=bool(row[6]),
            scope=row[9],
            client_info=params.get("client_info") == "1",
        )

    if grant == "refresh_token":
        row = sandbox.store.one(
            (
                "SELECT client_id, oid, scope, mfa, last_used, revoked FROM refresh_tokens WHERE "
                "token = ?"
            ),
            (params.get("refresh_token", ""),),
        )
        if row is None or row[0] != client_id:
            return _aad_error(
                request,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            )
        if row[5]:
            return _aad_error(
                request,
                "invalid_grant",
                50173,
                (
                    "The provided grant has expired due to it being revoked, a fresh auth token is "
                    "needed."
                ),
            )
        if row[4] + REFRESH_INACTIVITY < sandbox.clock.timestamp():
            return _aad_error(
                request,
                "invalid_grant",
                700082,
                (
                    "The refresh token has expired due to inactivity. The token was issued on an "
                    "earlier date and was inactive for 90.00:00:00."
                ),
            )
        sandbox.store.run(
            "UPDATE refresh_tokens SET last_used = ? WHERE token = ?",
            (sandbox.clock.timestamp(), params["refresh_token"]),
        )
        stored_resource, _ = _resource_from_scopes(row[2].split())
        return _user_tokens(
            request,
            sandbox,
            v1=v1,
            client_id=client_id,
            oid=row[1],
            resource=resource or stored_resource or PARTNER_CENTER_AUDIENCE,
            nonce=None,
            mfa=bool(row[3]),
            scope=row[2],
            client_info=params.get("client_info") == "1",
        )

    return _aad_error(
        request,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant}'.",
    )


def _user_tokens(
    request: Request,
    sandbox: Sandbox,
    *,
    v1: bool,
    client_id: str,
    oid: str,
    resource: str,
    nonce: str | None,
    mfa: bool,
    scope: str,
    client_info: bool,
) -> Response:
    agent = sandbox.store.one("SELECT upn, name FROM agents WHERE oid = ?", (oid,))
    if agent is None:
        return _aad_error(
            request, "invalid_grant", 50034, "The user account does not exist in the directory."
        )
    if resource not in RESOURCES:
        return _aad_error(
            request,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant.",
        )
    upn, name = agent
    access, expires_on = issue_access_token(
        sandbox, client_id=client_id, resource=resource, oid=oid, upn=upn, name=name, mfa=mfa
    )
    scope_text = " ".join(s for s in scope.split() if s) or f"{resource}/user_impersonation"
    refresh = mint_refresh_token(sandbox, client_id=client_id, oid=oid, scope=scope_text, mfa=mfa)
    extra: dict[str, Any] = {
        "refresh_token": refresh,
        "id_token": _id_token(
            sandbox, client_id=client_id, oid=oid, upn=upn, name=name, nonce=nonce, v1=v1
        ),
    }
    if client_info:
        info = {"uid": oid, "utid": sandbox.identity.partner_tenant_id}
        extra["client_info"] = _b64url(json.dumps(info).encode())
    granted = (
        "user_impersonation"
        if v1
        else f"{resource}/user_impersonation openid profile offline_access"
    )
    return _token_response(
        sandbox,
        v1=v1,
        access=access,
        expires_on=expires_on,
        resource=resource,
        scope=granted,
        extra=extra,
    )


def _token_response(
    sandbox: Sandbox,
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
    now = expires_on - lifetime
    if v1:
        # v1 serialises every number as a string (reference §2.2).
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": scope if scope == "user_impersonation" else "",
            "expires_in": str(lifetime),
            "ext_expires_in": str(lifetime),
            "expires_on": str(expires_on),
            "not_before": str(now),
            "resource": resource,
            "access_token": access,
        }
        if not body["scope"]:
            del body["scope"]
    else:
        body = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }
    body.update(extra or {})
    return json_response(
        body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
    )


# -- authorize + consent --------------------------------------------------------------------------

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in - Sandbox</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f2f2f2}}
main{{max-width:440px;margin:60px auto;background:#fff;padding:32px;box-shadow:0 2px 6px #0003}}
input[type=text],input[type=password]{{width:100%;padding:6px;margin:4px 0 12px}}
button{{padding:8px 20px;margin-right:8px}} .err{{color:#a00}}
</style></head>
<body><main><h1>Seatkeeper Partner Center sandbox</h1>
<p><strong>{app}</strong> wants to access <strong>{resource}</strong> on behalf of the
signed-in partner agent (permission: <code>user_impersonation</code>).
Sign in and approve to grant consent.</p>
<p class="err">{error}</p>
<form method="post">{hidden}
<label>User principal name
<input type="text" name="login" value="{upn}" autocomplete="username"></label>
<label>Password
<input type="password" name="password" value="" autocomplete="current-password"></label>
<label><input type="checkbox" name="mfa" value="1" checked>
Multi-factor authentication completed</label>
<p><button type="submit" name="decision" value="approve">Accept</button>
<button type="submit" name="decision" value="deny">Cancel</button></p></form>
<p><small>The demo agent password is in sandbox.json (<code>agent_password</code>).</small></p>
</main></body></html>"""

_AUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "resource",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
)


async def authorize(request: Request) -> Response:
    sandbox = sandbox_of(request)
    v1 = not request.url.path.endswith("/v2.0/authorize")
    if request.method == "POST":
        params = await _form(request)
    else:
        params = dict(request.query_params)
    tid = _known_tenant(sandbox, request.path_params["tenant"])
    app = sandbox.store.one(
        "SELECT name FROM apps WHERE client_id = ?", (params.get("client_id", ""),)
    )
    redirect_uri = params.get("redirect_uri", "")
    if tid is None or app is None or urlparse(redirect_uri).scheme not in ("http", "https"):
        return HTMLResponse(
            "<h1>AADSTS700016: unknown application, tenant or redirect URI</h1>", 400
        )
    if v1:
        resource = params.get("resource") or PARTNER_CENTER_AUDIENCE
        scope = f"{resource}/user_impersonation"
    else:
        scope = params.get("scope", "openid")
        resource = _resource_from_scopes(scope.split())[0] or PARTNER_CENTER_AUDIENCE
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in _AUTH_PARAMS
        if params.get(name)
    )
    agent_upn = params.get("login_hint") or sandbox.identity.agent_upn
    if request.method == "GET":
        page = _PAGE.format(
            app=html.escape(app[0]),
            resource=html.escape(resource),
            error="",
            hidden=hidden,
            upn=html.escape(agent_upn),
        )
        return HTMLResponse(page)
    if params.get("decision") != "approve":
        return _redirect(
            redirect_uri,
            params,
            {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "state": params.get("state", ""),
            },
        )
    agent = sandbox.store.one(
        "SELECT oid, password, upn, name FROM agents WHERE upn = ? COLLATE NOCASE",
        (params.get("login", ""),),
    )
    if agent is None or not secrets.compare_digest(agent[1], params.get("password", "")):
        page = _PAGE.format(
            app=html.escape(app[0]),
            resource=html.escape(resource),
            error="AADSTS50126: Invalid username or password.",
            hidden=hidden,
            upn=html.escape(params.get("login", "")),
        )
        return HTMLResponse(page, 200)
    code = "1.A" + _b64url(secrets.token_bytes(40))
    challenge = (
        params.get("code_challenge")
        if params.get("code_challenge_method", "S256") == "S256"
        else None
    )
    with sandbox.store.tx():
        sandbox.store.run(
            (
                "INSERT INTO auth_codes (code, client_id, oid, redirect_uri, scope, resource, "
                "nonce, challenge, mfa, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                code,
                params["client_id"],
                agent[0],
                redirect_uri,
                scope,
                resource,
                params.get("nonce"),
                challenge,
                int(params.get("mfa") == "1"),
                sandbox.clock.timestamp(),
            ),
        )
        sandbox.store.run(
            "INSERT OR IGNORE INTO consents (client_id, oid) VALUES (?, ?)",
            (params["client_id"], agent[0]),
        )
    reply = {"code": code, "state": params.get("state", ""), "session_state": str(uuid.uuid4())}
    if "id_token" in params.get("response_type", "").split():
        reply["id_token"] = _id_token(
            sandbox,
            client_id=params["client_id"],
            oid=agent[0],
            upn=agent[2],
            name=agent[3],
            nonce=params.get("nonce"),
            v1=v1,
        )
    return _redirect(redirect_uri, params, reply)


def _redirect(redirect_uri: str, params: dict[str, str], reply: dict[str, str]) -> Response:
    reply = {k: v for k, v in reply.items() if v}
    mode = params.get("response_mode") or (
        "fragment" if "id_token" in params.get("response_type", "") else "query"
    )
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in reply.items()
        )
        return HTMLResponse(
            '<html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(redirect_uri)}">{fields}'
            "<noscript><button>Continue</button></noscript></form></body></html>"
        )
    sep = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(reply)}", 302)


async def not_implemented(request: Request) -> Response:
    return _aad_error(
        request,
        "invalid_request",
        900144,
        "Device code and logout are not supported by the sandbox.",
    )


def routes() -> list[Route]:
    return [
        Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
        Route("/common/discovery/keys", jwks, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_v2, methods=["GET"]),
        Route("/{tenant}/.well-known/openid-configuration", openid_v1, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
        Route("/{tenant}/discovery/keys", jwks, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/{tenant}/oauth2/token", token, methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/authorize", authorize, methods=["GET", "POST"]),
    ]
