"""The sandbox ASGI application: routes from each module plus one middleware that does what the
Partner Center front door does to every call (request/correlation id echo, MS-CV, throttling),
the opt-in production faults (latency, 5xx, timeouts) and the opt-in dialect (the shapes real
answers take, dialect.py)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import (
    admin,
    audit,
    billing,
    catalog,
    customers,
    exports,
    identity,
    onboarding,
    orders,
    pricesheets,
    subscriptions,
    users,
)
from .state import Call, Sandbox
from .store import dumps, iso
from .web import PCError, json_response

SERVER_ID = "sandbox-101"


class DroppedConnection(Exception):
    """Raised after the response has started so uvicorn closes the socket mid-response: the
    client sees a connection dropped without a complete answer, like a front-door timeout."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection | exports.BlobCut)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def _throttle_key(sandbox: Sandbox, path: str) -> str | None:
    """Customer, order and subscription resources are throttled per tenant key: the partner for
    partner-wide calls, partner + customer for calls under one customer."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "v1" or parts[1].lower() != "customers":
        return None
    partner = sandbox.identity.partner_tenant_id
    if len(parts) >= 3 and parts[2].lower() != "relationshiprequests":
        return f"{partner}:{parts[2].lower()}"
    return partner


class FrontDoor:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        path: str = scope["path"]
        method: str = scope["method"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request_id = headers.get("ms-requestid") or ""
        correlation_id = headers.get("ms-correlationid") or ""
        is_admin = path.startswith("/_sandbox")
        is_pc = path.startswith("/v1/") or path == "/v1"
        status_box = {"status": 0}
        fault: str | None = None
        # The dialect rewrites whole JSON answers: their start is held until the body is read.
        rewrite = is_pc and sandbox.dialect.active
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        extra: list[tuple[bytes, bytes]] = []
        if is_pc:
            cv = secrets.token_urlsafe(12)[:16] + ".0"
            extra = [
                (b"ms-requestid", (request_id or str(uuid.uuid4())).encode()),
                (b"ms-correlationid", (correlation_id or str(uuid.uuid4())).encode()),
                (b"ms-cv", cv.encode()),
                (b"ms-serverid", SERVER_ID.encode()),
                (b"x-locale", (headers.get("x-locale") or "en-US").encode()),
                (b"request-context", b"appId=cid-v1:03ce8ca8-8373-4021-8c3d-5c0e7a3e1b0a"),
            ]

        async def send_plain(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        async def send_wrapper(message: Message) -> None:
            if not rewrite:
                await send_plain(message)
                return
            if message["type"] == "http.response.start":
                held["start"] = message
                return
            if message["type"] != "http.response.body" or "start" not in held:
                await send_plain(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            start = held.pop("start")
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if body and b"json" in content_type.lower():
                body, added = sandbox.dialect.rewrite(body)
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers += [(b"content-length", str(len(body)).encode()), *added]
            await send_plain({**start, "headers": headers})
            await send_plain({"type": "http.response.body", "body": body})

        try:
            if not is_admin:
                response = await self._front(scope, method, path)
                if isinstance(response, str):
                    fault = response
                    if response == "lost":
                        # The vendor acts, then its answer is lost on the way back.
                        async def discard(message: Message) -> None:
                            return None

                        await self.app(scope, receive, discard)
                        await send_plain(
                            {"type": "http.response.start", "status": 504, "headers": []}
                        )
                        raise DroppedConnection(path)
                    if response == "timeout":
                        await asyncio.sleep(sandbox.faults.timeout_s)
                        await send_plain(
                            {"type": "http.response.start", "status": 504, "headers": []}
                        )
                        raise DroppedConnection(path)
                elif response is not None:
                    fault = str(response.status_code)
                    await response(scope, receive, send_wrapper)
                    return
            await self.app(scope, receive, send_wrapper)
        finally:
            call = Call(
                at=iso(sandbox.clock.now()),
                method=method,
                path=path,
                query=scope.get("query_string", b"").decode(),
                status=status_box["status"],
                request_id=request_id,
                correlation_id=correlation_id,
                fault=fault,
            )
            if not is_admin:
                with sandbox.calls_lock:
                    sandbox.calls.append(call)

    async def _front(self, scope: Scope, method: str, path: str) -> Response | str | None:
        sandbox = self.sandbox
        faults = sandbox.faults
        if faults.latency_ms and path.startswith(faults.path_prefix or "/"):
            await asyncio.sleep(faults.latency_ms / 1000)
        rolled = faults.roll(method, path)
        if rolled in ("timeout", "lost"):
            return str(rolled)
        if rolled is not None:
            status = int(rolled)
            if status == 429:
                return _throttled(30)
            return PCError(
                status, status, "The service is temporarily unavailable. Please retry."
            ).response()
        if faults.throttling:
            key = _throttle_key(sandbox, path)
            if key:
                retry = sandbox.throttler.hit(
                    key, sandbox.clock.timestamp(), faults.throttle_limit, faults.throttle_window_s
                )
                if retry is not None:
                    return _throttled(retry)
        return None


def _throttled(retry_after: int) -> Response:
    # APIM-style body (statusCode/message), not the PartnerFD error shape.
    body = {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
    }
    return Response(
        dumps(body), 429, headers={"Retry-After": str(retry_after)}, media_type="application/json"
    )


async def _pc_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PCError)
    return exc.response()


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/v1"):
        return PCError(404, 404, "The requested resource was not found.").response()
    return json_response({"error": "not_found"}, 404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return PCError(
        405, 405, "The requested HTTP method is not supported for this resource."
    ).response()


def create_app(sandbox: Sandbox) -> Any:
    routes: list[Route] = [
        *admin.routes(),
        *onboarding.routes(),
        *customers.routes(),
        *catalog.routes(),
        *orders.routes(),
        *subscriptions.routes(),
        *users.routes(),
        *billing.routes(),
        *exports.routes(),
        *audit.routes(),
        *pricesheets.routes(),
        *identity.routes(),  # last: its /{tenant}/... patterns are the most generic
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={PCError: _pc_error, 404: _not_found, 405: _method_not_allowed},
    )
    app.state.sandbox = sandbox
    return FrontDoor(app, sandbox)
