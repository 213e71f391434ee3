"""The sandbox's own admin API under ``/_sandbox/`` (not part of Partner Center), protected by
the admin key from sandbox.json sent as ``X-Sandbox-Key``."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import identity, signin
from .state import PARTNER_CENTER_AUDIENCE, Sandbox
from .store import dumps, iso, parse_iso
from .web import json_response, sandbox_of


class AdminDenied(Exception):
    pass


def _check(request: Request) -> Sandbox:
    sandbox = sandbox_of(request)
    key = request.headers.get("X-Sandbox-Key", "")
    if not secrets.compare_digest(key, sandbox.identity.admin_key):
        raise AdminDenied
    return sandbox


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    value = await request.json()
    return value if isinstance(value, dict) else {}


def _guard(handler: Any) -> Any:
    async def wrapped(request: Request) -> Response:
        try:
            sandbox = _check(request)
        except AdminDenied:
            return json_response({"error": "admin key missing or wrong (X-Sandbox-Key)"}, 401)
        try:
            return await handler(request, sandbox)
        except (ValueError, TypeError, KeyError) as exc:
            return json_response({"error": str(exc)}, 400)

    return wrapped


async def info(request: Request, sandbox: Sandbox) -> Response:
    return json_response(sandbox_info(sandbox))


def sandbox_info(sandbox: Sandbox) -> dict[str, Any]:
    ident = sandbox.identity
    agent_password = sandbox.store.one(
        "SELECT password FROM agents WHERE oid = ?", (ident.agent_oid,)
    )
    return {
        "base_url": sandbox.base_url,
        "authority_url": sandbox.authority_url,
        "partner_tenant_id": ident.partner_tenant_id,
        "partner_domain": ident.partner_domain,
        "partner_name": ident.partner_name,
        "client_id": ident.client_id,
        "client_secret": ident.client_secret,
        "agent_upn": ident.agent_upn,
        "agent_password": agent_password[0] if agent_password else None,
        "agent_totp_secret": signin.totp_secret(sandbox, ident.agent_oid),
        "admin_key": ident.admin_key,
        "ca_cert": str(sandbox.data_dir / "tls" / "ca.pem"),
        # Microsoft Graph (billing reconciliation exports) is served from the same host.
        "graph_base_url": sandbox.base_url,
        "demo_customers": [
            {"tenant_id": r[0], "domain": r[1], "company_name": r[2]}
            for r in sandbox.store.all(
                "SELECT id, domain, company_name FROM customers ORDER BY seq LIMIT 20"
            )
        ],
    }


async def get_faults(request: Request, sandbox: Sandbox) -> Response:
    return json_response(sandbox.faults.as_json())


async def put_faults(request: Request, sandbox: Sandbox) -> Response:
    """Body: ``{"spec": "eventual,error_rate=0.1"}`` and/or individual keys, e.g.
    ``{"latency_ms": 50, "script": [{"method": "POST", "path": "/v1/customers/*/carts/*/checkout",
    "status": "timeout"}]}``. ``{"reset": true}`` first restores the defaults."""
    body = await _json(request)
    if body.pop("reset", False):
        from .faults import Faults

        sandbox.faults = Faults()
        sandbox.throttler.reset()
    spec = body.pop("spec", None)
    sandbox.faults.apply_spec(spec)
    sandbox.faults.update(body)
    return json_response(sandbox.faults.as_json())


async def get_dialect(request: Request, sandbox: Sandbox) -> Response:
    return json_response(sandbox.dialect.as_json())


async def put_dialect(request: Request, sandbox: Sandbox) -> Response:
    """Body: ``{"spec": "bom,pascal_case"}`` and/or variants, e.g. ``{"offset_dates": true}``.
    ``{"reset": true}`` first turns every variant off. Answers the variants now in force."""
    from .dialect import Dialect

    body = await _json(request)
    # Built aside and swapped in whole: a refused variant leaves the current dialect as it was.
    dialect = Dialect() if body.pop("reset", False) else Dialect(**sandbox.dialect.as_json())
    dialect.apply_spec(body.pop("spec", None))
    dialect.update(body)
    sandbox.dialect = dialect
    return json_response(dialect.as_json())


async def get_clock(request: Request, sandbox: Sandbox) -> Response:
    return json_response({"now": iso(sandbox.clock.now()), "offsetSeconds": sandbox.clock.offset})


async def move_clock(request: Request, sandbox: Sandbox) -> Response:
    """Body: ``{"advanceSeconds": 3600}`` or ``{"set": "2026-12-01T00:00:00Z"}``."""
    body = await _json(request)
    if "set" in body:
        target = parse_iso(str(body["set"])).timestamp()
        sandbox.clock.offset += target - sandbox.clock.timestamp()
    else:
        sandbox.clock.offset += float(body.get("advanceSeconds", 0))
    sandbox.store.set_meta("clock_offset", repr(sandbox.clock.offset))
    return json_response({"now": iso(sandbox.clock.now()), "offsetSeconds": sandbox.clock.offset})


async def list_calls(request: Request, sandbox: Sandbox) -> Response:
    with sandbox.calls_lock:
        calls = [c.as_json() for c in sandbox.calls]
    method = request.query_params.get("method")
    prefix = request.query_params.get("path")
    if method:
        calls = [c for c in calls if c["method"] == method.upper()]
    if prefix:
        calls = [c for c in calls if c["path"].startswith(prefix)]
    return json_response({"totalCount": len(calls), "items": calls})


async def clear_calls(request: Request, sandbox: Sandbox) -> Response:
    with sandbox.calls_lock:
        sandbox.calls.clear()
    return Response(status_code=204)


async def refresh_token(request: Request, sandbox: Sandbox) -> Response:
    """Pre-granted consent: mint a refresh token for an app + partner agent without a browser.
    Body (all optional): ``{"clientId", "upn", "scope", "mfa": true}``."""
    body = await _json(request)
    client_id = body.get("clientId") or sandbox.identity.client_id
    upn = body.get("upn") or sandbox.identity.agent_upn
    agent = sandbox.store.one("SELECT oid FROM agents WHERE upn = ? COLLATE NOCASE", (upn,))
    if (
        agent is None
        or sandbox.store.one("SELECT 1 FROM apps WHERE client_id = ?", (client_id,)) is None
    ):
        raise ValueError("unknown clientId or upn")
    scope = (
        body.get("scope")
        or f"{PARTNER_CENTER_AUDIENCE}/user_impersonation offline_access openid profile"
    )
    token = identity.mint_refresh_token(
        sandbox, client_id=client_id, oid=agent[0], scope=scope, mfa=bool(body.get("mfa", True))
    )
    return json_response(
        {"refresh_token": token, "client_id": client_id, "upn": upn, "scope": scope}
    )


async def access_token(request: Request, sandbox: Sandbox) -> Response:
    """Shortcut for tests.

    Body: ``{"appOnly": false, "mfa": true, "resource": ..., "lifetime": 3599}``."""
    body = await _json(request)
    resource = body.get("resource") or PARTNER_CENTER_AUDIENCE
    lifetime = int(body.get("lifetime", identity.ACCESS_TOKEN_LIFETIME))
    if body.get("appOnly"):
        token, exp = identity.issue_access_token(
            sandbox, client_id=sandbox.identity.client_id, resource=resource, lifetime=lifetime
        )
    else:
        token, exp = identity.issue_access_token(
            sandbox,
            client_id=sandbox.identity.client_id,
            resource=resource,
            oid=sandbox.identity.agent_oid,
            upn=sandbox.identity.agent_upn,
            mfa=bool(body.get("mfa", True)),
            lifetime=lifetime,
        )
    return json_response({"access_token": token, "expires_on": exp})


async def mfa_code(request: Request, sandbox: Sandbox) -> Response:
    """The partner agent's current one-time code (what its authenticator app shows now, by the
    sandbox's clock). Query: ``upn`` (default: the demo agent)."""
    upn = request.query_params.get("upn") or sandbox.identity.agent_upn
    agent = sandbox.store.one("SELECT oid, upn FROM agents WHERE upn = ? COLLATE NOCASE", (upn,))
    if agent is None:
        raise ValueError(f"unknown agent {upn!r}")
    now = sandbox.clock.timestamp()
    return json_response(
        {
            "upn": agent[1],
            "code": signin.totp_code(signin.totp_secret(sandbox, agent[0]), now),
            "validForSeconds": int(signin.TOTP_STEP - now % signin.TOTP_STEP),
        }
    )


async def add_redirect_uri(request: Request, sandbox: Sandbox) -> Response:
    """Register a redirect URI for an application, as its owner does in the Entra portal.

    Body: ``{"redirectUri": "https://seatkeeper.example/providers/consent/callback/",
    "clientId"?: <default: the demo application>}`` -> ``{clientId, redirectUris}``."""
    body = await _json(request)
    client_id = str(body.get("clientId") or sandbox.identity.client_id)
    uris = identity.register_redirect_uri(sandbox, client_id, str(body["redirectUri"]))
    return json_response({"clientId": client_id, "redirectUris": uris})


async def accept_relationship(request: Request, sandbox: Sandbox) -> Response:
    """A foreign tenant accepts the reseller relationship request: it becomes a customer.

    Body: ``{"domain": "tailspintoys.onmicrosoft.com", "companyName"?: ..., "country"?: "US"}``.
    """
    import secrets as _secrets

    from . import audit, customers, users

    body = await _json(request)
    domain = str(body.get("domain") or "").lower()
    with sandbox.store.tx():
        row = sandbox.store.one("SELECT customer_id FROM domains WHERE domain = ?", (domain,))
        if row is None or row[0]:
            raise ValueError(f"{domain!r} is not a foreign tenant (unknown, or already a customer)")
        prefix = domain.split(".")[0]
        country = str(body.get("country") or "US").upper()
        company = str(body.get("companyName") or prefix.capitalize())
        address = {
            "country": country,
            "city": "Redmond",
            "addressLine1": "1 Main Street",
            "postalCode": "98052",
            "firstName": "Pat",
            "lastName": "Admin",
        }
        if country == "US":
            address["state"] = "WA"
        customer = customers.build_customer(
            tenant_id=sandbox.new_id(),
            domain=domain,
            company_name=company,
            billing_id=sandbox.new_id().replace("-", ""),
            first_name="Pat",
            last_name="Admin",
            email=f"admin@{domain}",
            culture="en-US",
            language="en",
            address=address,
            etag=str(_secrets.randbits(62)),
            commerce_id=sandbox.new_id(),
        )
        now = sandbox.clock.now()
        sandbox.store.run(
            "INSERT INTO customers (id, company_name, domain, created, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (customer["id"], company, domain, now.timestamp(), dumps(customer)),
        )
        sandbox.store.run(
            "UPDATE domains SET customer_id = ? WHERE domain = ?", (customer["id"], domain)
        )
        admin_user = users.build_user(
            user_id=sandbox.new_id(),
            customer_id=customer["id"],
            upn=f"admin@{domain}",
            first_name="Pat",
            last_name="Admin",
            display_name="Pat Admin",
            usage_location=country,
            created=now,
        )
        sandbox.store.run(
            "INSERT INTO users (id, customer_id, upn, state, data) VALUES (?, ?, ?, 'active', ?)",
            (admin_user["id"], customer["id"], admin_user["userPrincipalName"], dumps(admin_user)),
        )
        audit.record(
            sandbox,
            operation="add_customer",
            resource_type="customer",
            customer=customer,
            actor=f"admin@{domain}",
            application_id="Partner Center Native App",
            new=customer,
            customized={"PrimaryDomainName": domain},
        )
    return json_response(customers.render(customer), 201)


async def reset(request: Request, sandbox: Sandbox) -> Response:
    """Rebuild the world from the generator options it was built with, reset faults, and put
    the clock back where the world started (the machine's time unless it was given a start)."""
    from . import generator
    from .faults import Faults

    generator.rebuild(sandbox)
    sandbox.faults = Faults()
    sandbox.throttler.reset()
    with sandbox.calls_lock:
        sandbox.calls.clear()
    return json_response(sandbox_info(sandbox))


async def _synthesize(request: Request, sandbox: Sandbox) -> Response:
    from .volume import synthesize_view

    return await synthesize_view(request, sandbox)


def routes() -> list[Route]:
    g = _guard
    return [
        Route("/_sandbox/info", g(info), methods=["GET"]),
        Route("/_sandbox/faults", g(get_faults), methods=["GET"]),
        Route("/_sandbox/faults", g(put_faults), methods=["PUT", "POST"]),
        Route("/_sandbox/dialect", g(get_dialect), methods=["GET"]),
        Route("/_sandbox/dialect", g(put_dialect), methods=["PUT", "POST"]),
        Route("/_sandbox/clock", g(get_clock), methods=["GET"]),
        Route("/_sandbox/clock", g(move_clock), methods=["POST"]),
        Route("/_sandbox/calls", g(list_calls), methods=["GET"]),
        Route("/_sandbox/calls", g(clear_calls), methods=["DELETE"]),
        Route("/_sandbox/refresh-token", g(refresh_token), methods=["POST"]),
        Route("/_sandbox/access-token", g(access_token), methods=["POST"]),
        Route("/_sandbox/accept-relationship", g(accept_relationship), methods=["POST"]),
        Route("/_sandbox/mfa-code", g(mfa_code), methods=["GET"]),
        Route("/_sandbox/apps/redirect-uris", g(add_redirect_uri), methods=["POST"]),
        Route("/_sandbox/reset", g(reset), methods=["POST"]),
        Route("/_sandbox/billing/synthesize", g(_synthesize), methods=["POST"]),
    ]
