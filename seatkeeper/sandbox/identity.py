"""Microsoft Entra ID (login host) emulation: OpenID metadata, JWKS, instance discovery, and the
pieces the sign-in pages (`signin.py`) and the token endpoint (`token_endpoint.py`) share:
issuing access, id and refresh tokens, and the Entra error body.

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
import json
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlparse

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .state import (
    GRAPH_WINDOWS_AUDIENCE,
    MICROSOFT_GRAPH_AUDIENCE,
    PARTNER_BILLING_ROLE,
    PARTNER_CENTER_AUDIENCE,
    Sandbox,
)
from .web import json_response, sandbox_of

ACCESS_TOKEN_LIFETIME = 3599
CODE_LIFETIME = 600
REFRESH_INACTIVITY = 90 * 24 * 3600
RESOURCES = (PARTNER_CENTER_AUDIENCE, GRAPH_WINDOWS_AUDIENCE, "https://api.partner.microsoft.com")
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}


async def read_form(request: Request) -> dict[str, str]:
    """application/x-www-form-urlencoded body (parsed with the stdlib: no python-multipart)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(raw, keep_blank_values=True))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def known_tenant(sandbox: Sandbox, tenant: str) -> str | None:
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


def aad_error(request: Request, error: str, code: int, message: str, status: int = 400) -> Response:
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
    tid = known_tenant(sandbox, request.path_params["tenant"])
    if tid is None:
        return aad_error(request, "invalid_tenant", 90002, "Tenant not found.")
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
    tid = known_tenant(sandbox, request.path_params["tenant"])
    if tid is None:
        return aad_error(request, "invalid_tenant", 90002, "Tenant not found.")
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
        "n": b64url(n),
        "e": b64url(e),
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
        "uti": b64url(secrets.token_bytes(16)),
    }
    if oid:
        claims.update(
            {
                "oid": oid,
                "sub": b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()),
                "upn": upn,
                "unique_name": upn,
                "name": name or upn,
                "scp": "user_impersonation",
                "amr": ["pwd", "mfa"] if mfa else ["pwd"],
                "tenant_region_scope": "EU",
            }
        )
    else:
        # Graph app-only tokens list the application permissions granted to the app; the demo
        # app holds PartnerBilling.Read.All unless a test takes it away (fault
        # `graph_billing_permission=off`).
        roles = (
            [PARTNER_BILLING_ROLE]
            if resource == MICROSOFT_GRAPH_AUDIENCE and sandbox.faults.graph_billing_permission
            else []
        )
        claims.update(
            {
                "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
                "idtyp": "app",
                "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
                "roles": roles,
            }
        )
    return _sign(sandbox, claims), now + lifetime


def issue_id_token(
    sandbox: Sandbox,
    *,
    client_id: str,
    oid: str,
    upn: str,
    name: str,
    nonce: str | None,
    v1: bool,
    mfa: bool = True,
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
        "sub": b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()),
        "tid": tid,
        "ver": "1.0" if v1 else "2.0",
    }
    if v1:
        claims.update({"upn": upn, "unique_name": upn, "amr": ["pwd", "mfa"] if mfa else ["pwd"]})
    if nonce:
        claims["nonce"] = nonce
    return _sign(sandbox, claims)


def mint_refresh_token(
    sandbox: Sandbox, *, client_id: str, oid: str, scope: str, mfa: bool = True
) -> str:
    token = "0.A" + b64url(secrets.token_bytes(48))
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


# -- applications ---------------------------------------------------------------------------------


def redirect_uris_of(sandbox: Sandbox, client_id: str) -> list[str]:
    """The redirect URIs registered for the application (exact match, as Entra compares them)."""
    row = sandbox.store.one("SELECT redirect_uris FROM apps WHERE client_id = ?", (client_id,))
    return list(json.loads(row[0])) if row else []


def register_redirect_uri(sandbox: Sandbox, client_id: str, redirect_uri: str) -> list[str]:
    """Add a redirect URI to the application's registration (idempotent)."""
    parsed = urlparse(redirect_uri)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.fragment:
        raise ValueError(f"{redirect_uri!r} is not an absolute http(s) URI without a fragment")
    with sandbox.store.tx():
        uris = redirect_uris_of(sandbox, client_id)
        if sandbox.store.one("SELECT 1 FROM apps WHERE client_id = ?", (client_id,)) is None:
            raise ValueError(f"unknown application {client_id!r}")
        if redirect_uri not in uris:
            uris.append(redirect_uri)
            sandbox.store.run(
                "UPDATE apps SET redirect_uris = ? WHERE client_id = ?",
                (json.dumps(uris), client_id),
            )
    return uris


def resource_from_scopes(scopes: list[str]) -> tuple[str | None, list[str]]:
    """v2: the first non-OIDC scope names the resource (``<resource>/.default`` or
    ``<resource>/user_impersonation``)."""
    resource_scopes = [s for s in scopes if s.lower() not in OIDC_SCOPES]
    if not resource_scopes:
        return None, []
    first = resource_scopes[0]
    resource, _, _perm = first.rpartition("/")
    return (resource or first), resource_scopes


async def not_implemented(request: Request) -> Response:
    return aad_error(
        request,
        "invalid_request",
        900144,
        "Device code and logout are not supported by the sandbox.",
    )


def routes() -> list[Route]:
    # Imported here: both modules build on the helpers above.
    from . import signin, token_endpoint

    return [
        Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
        Route("/common/discovery/keys", jwks, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_v2, methods=["GET"]),
        Route("/{tenant}/.well-known/openid-configuration", openid_v1, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
        Route("/{tenant}/discovery/keys", jwks, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token_endpoint.token, methods=["POST"]),
        Route("/{tenant}/oauth2/token", token_endpoint.token, methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/authorize", signin.authorize, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/authorize", signin.authorize, methods=["GET", "POST"]),
    ]
