"""Shared Partner Center wire helpers: JSON out, case-insensitive JSON in, errors, links,
collection envelopes, seek paging, bearer-token checks and MS-RequestId idempotency."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from .state import GRAPH_WINDOWS_AUDIENCE, PARTNER_CENTER_AUDIENCE, Sandbox
from .store import dumps, loads


class PCError(Exception):
    """A Partner Center error: body ``{code, description, data, source: "PartnerFD"}``."""

    def __init__(
        self,
        status: int,
        code: int | str,
        description: str,
        data: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.data = data or []
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {
            "code": self.code,
            "description": self.description[:1024],
            "data": self.data,
            "source": "PartnerFD",
        }
        return json_response(body, self.status, self.headers)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json; charset=utf-8",
    )


def sandbox_of(request: Request) -> Sandbox:
    return request.app.state.sandbox


class CI(dict[str, Any]):
    """A JSON object read case-insensitively: Partner Center accepts ``Quantity`` as well as
    ``quantity`` in request bodies (docs send PascalCase, SDKs camelCase)."""

    def __init__(self, source: Mapping[str, Any]) -> None:
        super().__init__({str(k).lower(): _ci(v) for k, v in source.items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key).lower())


def _ci(value: Any) -> Any:
    if isinstance(value, Mapping):
        return CI(value)
    if isinstance(value, list):
        return [_ci(v) for v in value]
    return value


async def read_body(request: Request, *, required: bool = True) -> CI:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise PCError(400, 800002, "The request body is missing or invalid.")
        return CI({})
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise PCError(400, 800002, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PCError(400, 800002, "The request body must be a JSON object.")
    return CI(value)


def link(uri: str, method: str = "GET", headers: list[dict[str, str]] | None = None) -> dict:
    return {"uri": uri, "method": method, "headers": headers or []}


def collection(
    items: list[dict[str, Any]],
    self_uri: str,
    *,
    next_link: dict[str, Any] | None = None,
    continuation_token: str | None = None,
) -> dict[str, Any]:
    # totalCount is the number of items in this page, as in every documented sample.
    body: dict[str, Any] = {"totalCount": len(items), "items": items}
    if continuation_token:
        body["continuationToken"] = continuation_token
    links: dict[str, Any] = {"self": link(self_uri)}
    if next_link:
        links["next"] = next_link
    body["links"] = links
    body["attributes"] = {"objectType": "Collection"}
    return body


# -- seek paging -----------------------------------------------------------------------------


def encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(dumps(state).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return value
    except (ValueError, UnicodeDecodeError) as exc:
        raise PCError(400, 800002, "The continuation token is invalid.") from exc


def seek_state(request: Request, kind: str, default_size: int, max_size: int) -> dict[str, Any]:
    """Read the paging state: the first page from query parameters, the next ones from the
    MS-ContinuationToken header (when ``seekOperation=Next``), which carries size and filter."""
    params = {k.lower(): v for k, v in request.query_params.items()}
    if params.get("seekoperation", "").lower() == "next":
        token = request.headers.get("MS-ContinuationToken") or params.get("continuationtoken")
        if not token:
            raise PCError(400, 800002, "MS-ContinuationToken header is required for seek.")
        state = decode_token(token)
        if state.get("k") != kind:
            raise PCError(400, 800002, "The continuation token is invalid.")
        return state
    try:
        size = int(params.get("size") or 0)
    except ValueError as exc:
        raise PCError(400, 800002, "size must be an integer.") from exc
    if size <= 0:
        size = default_size  # size=0 means "server default" (SDK default)
    return {"k": kind, "size": min(size, max_size), "after": 0, "filter": params.get("filter")}


def seek_next(base_uri: str, state: dict[str, Any], last_seq: int) -> tuple[str, dict]:
    token = encode_token({**state, "after": last_seq})
    sep = "&" if "?" in base_uri else "?"
    uri = f"{base_uri}{sep}seekOperation=Next"
    return token, link(uri, "GET", [{"key": "MS-ContinuationToken", "value": token}])


def offset_params(request: Request, default_size: int, max_size: int) -> tuple[int, int]:
    params = {k.lower(): v for k, v in request.query_params.items()}
    try:
        size = int(params.get("size") or default_size)
        offset = int(params.get("offset") or 0)
    except ValueError as exc:
        raise PCError(400, 800002, "size and offset must be integers.") from exc
    if size <= 0:
        size = default_size
    return min(size, max_size), max(offset, 0)


# -- authentication ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    app_only: bool
    client_id: str
    tenant_id: str
    oid: str | None
    upn: str | None

    @property
    def display(self) -> str:
        return self.upn or self.client_id


def _unauthorized(description: str, code: int = 800001, error: str = "invalid_token") -> PCError:
    sandbox_realm = f'Bearer error="{error}"'
    return PCError(401, code, description, headers={"WWW-Authenticate": sandbox_realm})


def authenticate(
    request: Request, *, user_only: bool = False, license_call: bool = False
) -> Principal:
    """Validate the bearer token like Partner Center: signature, expiry, audience, tenant, MFA.

    App-only tokens may carry either the Partner Center or the legacy graph.windows.net audience
    (docs and SDK request the latter). App+User tokens must show ``mfa`` in ``amr``. Endpoints that
    need App+User refuse app-only tokens with 403 900329, licence calls with 400 900316.
    """
    sandbox = sandbox_of(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Partner token is missing or invalid.", 400)
    try:
        claims = jwt.decode(
            token.strip(),
            sandbox.signing_key.public_key(),
            algorithms=["RS256"],
            audience=[PARTNER_CENTER_AUDIENCE, GRAPH_WINDOWS_AUDIENCE],
            # Expiry is checked below against the sandbox's clock, not the machine's: the
            # sandbox's clock can be anywhere (tests start it on a fixed day and move it, even
            # backwards, so "issued in the future" is not checked).
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "aud"],
            },
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"The access token is invalid: {exc}") from exc
    if claims["exp"] <= sandbox.clock.timestamp():
        raise _unauthorized("The access token has expired.")
    if claims.get("tid") != sandbox.identity.partner_tenant_id:
        raise _unauthorized("The access token is not for this partner tenant.")
    app_only = "scp" not in claims
    if not app_only:
        if claims.get("aud") != PARTNER_CENTER_AUDIENCE:
            raise _unauthorized("App+User tokens must be issued for Partner Center.")
        if "mfa" not in (claims.get("amr") or []):
            raise PCError(
                401,
                800001,
                "MFA required",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
    if app_only and license_call:
        raise PCError(400, 900316, "App only token is not supported for this API.")
    if app_only and user_only:
        raise PCError(403, 900329, "Requested API is not supported for App only access token.")
    return Principal(
        app_only=app_only,
        client_id=claims.get("appid", ""),
        tenant_id=claims["tid"],
        oid=claims.get("oid") if not app_only else None,
        upn=claims.get("upn"),
    )


# -- idempotency ------------------------------------------------------------------------------


def idempotent(
    request: Request, route: str, produce: Callable[[], tuple[int, dict[str, Any]]]
) -> Response:
    """Replay the first answer for a repeated MS-RequestId on create calls (customers, orders,
    checkout), so a client retrying a timed-out POST never creates a duplicate."""
    sandbox = sandbox_of(request)
    request_id = request.headers.get("MS-RequestId")
    with sandbox.store.tx():
        if request_id:
            row = sandbox.store.one(
                "SELECT status, body FROM idempotency WHERE request_id = ? AND route = ?",
                (request_id.lower(), route),
            )
            if row:
                return json_response(loads(row[1]), row[0])
        status, body = produce()
        if request_id:
            sandbox.store.run(
                "INSERT INTO idempotency (request_id, route, status, body) VALUES (?, ?, ?, ?)",
                (request_id.lower(), route, status, dumps(body)),
            )
    return json_response(body, status)
