"""Customers (reference §3): list with seek paging and filter, get, create (idempotent on
MS-RequestId), sandbox delete, domain availability, relationship request link, profiles."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import audit
from .state import Sandbox
from .store import dumps, loads
from .web import (
    CI,
    PCError,
    authenticate,
    collection,
    idempotent,
    json_response,
    read_body,
    sandbox_of,
    seek_next,
    seek_state,
)

SANDBOX_CUSTOMER_LIMIT = 75
DOMAIN_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,26}$", re.IGNORECASE)
# Countries where the billing address needs a phone number (reference §3 Address).
PHONE_REQUIRED = {"AM", "AZ", "BY", "HU", "IN", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA"}


def build_customer(
    *,
    tenant_id: str,
    domain: str,
    company_name: str,
    billing_id: str,
    first_name: str,
    last_name: str,
    email: str,
    culture: str,
    language: str,
    address: dict[str, Any],
    etag: str,
    commerce_id: str,
    relationship: str = "reseller",
) -> dict[str, Any]:
    """The stored Customer document (camelCase, as returned by GET by id)."""
    return {
        "id": tenant_id,
        "commerceId": commerce_id,
        "companyProfile": {
            "tenantId": tenant_id,
            "domain": domain,
            "companyName": company_name,
            "address": address,
            "email": email,
            "links": {},
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "billingProfile": {
            "id": billing_id,
            "firstName": first_name,
            "lastName": last_name,
            "email": email,
            "culture": culture,
            "language": language,
            "companyName": company_name,
            "defaultAddress": address,
            "links": {},
            "attributes": {"etag": etag, "objectType": "CustomerBillingProfile"},
        },
        "relationshipToPartner": relationship,
        "allowDelegatedAccess": True,
        "customDomains": [],
        "attributes": {"objectType": "Customer"},
    }


def render(customer: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    cid = customer["id"]
    out = {k: v for k, v in customer.items() if not k.startswith("_")}
    out["companyProfile"] = {
        **customer["companyProfile"],
        "links": {"self": _link(f"/customers/{cid}/profiles/company")},
    }
    out["billingProfile"] = {
        **customer["billingProfile"],
        "links": {"self": _link(f"/customers/{cid}/profiles/billing")},
    }
    out["links"] = {"self": _link(f"/customers/{cid}")}
    if not full:
        # The list omits allowDelegatedAccess and the billing profile (reference §3).
        out.pop("allowDelegatedAccess", None)
        out.pop("billingProfile", None)
    return out


def _link(uri: str) -> dict[str, Any]:
    return {"uri": uri, "method": "GET", "headers": []}


def load(sandbox: Sandbox, customer_id: str) -> dict[str, Any]:
    """A customer of this partner, or 404 60003 (unknown tenant)."""
    doc = sandbox.store.doc(
        "SELECT data FROM customers WHERE id = ? COLLATE NOCASE", (customer_id,)
    )
    if doc is None:
        raise PCError(404, 60003, f"Customer {customer_id} was not found.", [customer_id])
    return doc


def save(sandbox: Sandbox, customer: dict[str, Any]) -> None:
    sandbox.store.run(
        "UPDATE customers SET data = ? WHERE id = ?", (dumps(customer), customer["id"])
    )


async def list_customers(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    state = seek_state(request, "customers", 500, 500)
    sql, args = "SELECT seq, data FROM customers WHERE seq > ?", [state["after"]]
    if state.get("filter"):
        clause, value = _filter_clause(state["filter"])
        sql += clause
        args.append(value)
    sql += " ORDER BY seq LIMIT ?"
    args.append(state["size"] + 1)
    rows = sandbox.store.all(sql, args)
    page, more = rows[: state["size"]], len(rows) > state["size"]
    items = [render(loads(r[1]), full=False) for r in page]
    token, next_link = (
        seek_next(f"/customers?size={state['size']}", state, page[-1][0]) if more else (None, None)
    )
    self_uri = f"/customers?size={state['size']}"
    return json_response(collection(items, self_uri, next_link=next_link, continuation_token=token))


def _filter_clause(raw: str) -> tuple[str, str]:
    try:
        parsed = loads(raw)
        flt = {str(k).lower(): v for k, v in parsed.items()}
    except (ValueError, AttributeError) as exc:
        raise PCError(400, 800002, "The filter is not valid JSON.") from exc
    field = str(flt.get("field", "")).lower()
    value = str(flt.get("value", ""))
    op = str(flt.get("operator", "")).lower()
    if op not in ("starts_with", "equals"):
        raise PCError(400, 2000, "Customer search only allows starts with and equals operation.")
    column = {"companyname": "company_name", "domain": "domain"}.get(field)
    if column is None:
        # IndirectReseller / IndirectCloudSolutionProvider: the sandbox has no indirect resellers.
        if field in ("indirectreseller", "indirectcloudsolutionprovider"):
            return " AND 0 = ?", "1"
        raise PCError(400, 800002, f"Filter field {flt.get('field')} is not supported.")
    if op == "equals":
        return f" AND {column} = ? COLLATE NOCASE", value
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f" AND {column} LIKE ? ESCAPE '\\'", escaped + "%"


async def get_customer(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    return json_response(render(load(sandbox, request.path_params["customer_id"])))


def _require(body: CI, path: str, errors: list[str], max_len: int | None = None) -> str:
    node: Any = body
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    value = "" if node is None else str(node).strip()
    if not value:
        errors.append(f"{path} is required.")
    elif max_len and len(value) > max_len:
        errors.append(f"{path} must be at most {max_len} characters.")
    return value


def _generate_password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{core[:4]}A{core[4:]}9!"


def create(
    sandbox: Sandbox, body: CI, actor: str, application_id: str
) -> tuple[int, dict[str, Any]]:
    errors: list[str] = []
    domain = _require(body, "companyProfile.domain", errors).lower()
    bp = "billingProfile"
    email = _require(body, f"{bp}.email", errors)
    culture = _require(body, f"{bp}.culture", errors)
    language = _require(body, f"{bp}.language", errors)
    company = _require(body, f"{bp}.companyName", errors, 256)
    addr_in = (body.get(bp) or CI({})).get("defaultAddress") or CI({})
    address: dict[str, Any] = {}
    for name, limit in (
        ("firstName", 50),
        ("lastName", 50),
        ("addressLine1", 200),
        ("city", 100),
        ("postalCode", 20),
        ("country", 2),
    ):
        address[name] = _require(body, f"{bp}.defaultAddress.{name}", errors, limit)
    for name in (
        "addressLine2",
        "addressLine3",
        "state",
        "region",
        "district",
        "middleName",
        "phoneNumber",
        "emailAddress",
    ):
        if addr_in.get(name):
            address[name] = str(addr_in.get(name))
    if address.get("country") and len(address["country"]) != 2:
        errors.append("billingProfile.defaultAddress.country must be an ISO 3166 two-letter code.")
    address["country"] = address.get("country", "").upper()
    if address["country"] == "US" and not address.get("state"):
        errors.append("billingProfile.defaultAddress.state is required for US addresses.")
    if address["country"] in PHONE_REQUIRED and not address.get("phoneNumber"):
        raise PCError(
            400,
            600002,
            "Phone number is required for this country.",
            ["billingProfile.defaultAddress.phoneNumber"],
        )
    from .onboarding import address_problems

    errors += address_problems(address)
    if errors:
        raise PCError(400, 3000, "; ".join(errors), errors)
    prefix, _, suffix = domain.partition(".")
    if suffix != "onmicrosoft.com" or not DOMAIN_PREFIX_RE.match(prefix):
        raise PCError(
            400,
            3000,
            (
                "companyProfile.domain must be <prefix>.onmicrosoft.com with 1-27 letters, digits "
                "or hyphens."
            ),
            ["companyProfile.domain"],
        )
    if sandbox.store.one("SELECT 1 FROM domains WHERE domain = ?", (domain,)):
        raise PCError(409, 600008, f"The domain {domain} is already in use.", [domain])
    count = sandbox.store.one("SELECT count(*) FROM customers")[0]
    limit = int(
        sandbox.store.get_meta("customer_limit", str(SANDBOX_CUSTOMER_LIMIT))
        or SANDBOX_CUSTOMER_LIMIT
    )
    if count >= limit:
        raise PCError(400, 800018, f"The sandbox is limited to {limit} customers.")
    tenant_id = sandbox.new_id()
    customer = build_customer(
        tenant_id=tenant_id,
        domain=domain,
        company_name=company,
        billing_id=sandbox.new_id().replace("-", ""),
        first_name=address["firstName"],
        last_name=address["lastName"],
        email=email,
        culture=culture,
        language=language,
        address=address,
        etag=str(secrets.randbits(63) - 2**62),
        commerce_id=sandbox.new_id(),
    )
    # A customer created today must have its acceptance of the Microsoft Customer Agreement
    # confirmed before New Commerce orders (onboarding.py); the generated world's customers
    # stand for customers that accepted it long ago.
    customer["_agreementRequired"] = True
    now = sandbox.clock.now()
    sandbox.store.run(
        "INSERT INTO customers (id, company_name, domain, created, data) VALUES (?, ?, ?, ?, ?)",
        (tenant_id, company, domain, now.timestamp(), dumps(customer)),
    )
    sandbox.store.run(
        "INSERT INTO domains (domain, customer_id) VALUES (?, ?)", (domain, tenant_id)
    )
    password = _generate_password()
    from .users import build_user

    admin = build_user(
        user_id=sandbox.new_id(),
        customer_id=tenant_id,
        upn=f"admin@{domain}",
        first_name="",
        last_name="",
        display_name="admin",
        usage_location=address["country"],
        created=now,
    )
    sandbox.store.run(
        "INSERT INTO users (id, customer_id, upn, state, data) VALUES (?, ?, ?, 'active', ?)",
        (admin["id"], tenant_id, admin["userPrincipalName"], dumps(admin)),
    )
    audit.record(
        sandbox,
        operation="add_customer",
        resource_type="customer",
        customer=customer,
        actor=actor,
        application_id=application_id,
        new=customer,
        customized={"PrimaryDomainName": domain},
    )
    out = render(customer)
    # The create answer shows relationshipToPartner "none" in the docs sample, then "reseller".
    out["relationshipToPartner"] = "none"
    out["userCredentials"] = {"userName": "admin", "password": password}
    return 201, out


async def create_customer(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    body = await read_body(request)
    return idempotent(
        request,
        "POST /customers",
        lambda: create(sandbox, body, principal.display, principal.client_id),
    )


async def delete_customer(request: Request) -> Response:
    """Sandbox-only purge of a customer tenant (204)."""
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    with sandbox.store.tx():
        customer = load(sandbox, request.path_params["customer_id"])
        cid = customer["id"]
        for table in ("subscriptions", "orders", "carts", "users", "licenses"):
            sandbox.store.run(f"DELETE FROM {table} WHERE customer_id = ?", (cid,))  # noqa: S608
        sandbox.store.run("DELETE FROM domains WHERE customer_id = ?", (cid,))
        sandbox.store.run("DELETE FROM customers WHERE id = ?", (cid,))
        audit.record(
            sandbox,
            operation="delete_customer",
            resource_type="customer",
            customer=customer,
            actor=principal.display,
            old=customer,
        )
    return Response(status_code=204)


async def head_domain(request: Request) -> Response:
    """200 = the domain EXISTS (taken), 404 = available; empty bodies."""
    sandbox = sandbox_of(request)
    authenticate(request)
    domain = request.path_params["domain"].lower()
    taken = sandbox.store.one("SELECT 1 FROM domains WHERE domain = ?", (domain,))
    return Response(status_code=200 if taken else 404)


async def relationship_request(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    partner = sandbox.identity.partner_tenant_id
    url = (
        "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship"
        f"&partnerId={partner}&msppId=0&DAP=false#/BillingAccounts/partner-invitation"
    )
    return json_response({"url": url, "attributes": {"objectType": "RelationshipRequest"}})


async def billing_profile(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    customer = render(load(sandbox, request.path_params["customer_id"]))
    return json_response(
        customer["billingProfile"],
        headers={"ETag": customer["billingProfile"]["attributes"]["etag"]},
    )


async def patch_billing_profile(request: Request) -> Response:
    """Billing profile PATCH needs If-Match with the current etag (mismatch -> 412)."""
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    body = await read_body(request)
    with sandbox.store.tx():
        customer = load(sandbox, request.path_params["customer_id"])
        profile = customer["billingProfile"]
        etag = profile["attributes"]["etag"]
        given = (request.headers.get("If-Match") or "").strip('"')
        if not given:
            raise PCError(400, 800002, "If-Match header is required.")
        if given != etag:
            raise PCError(412, 412, "The etag is no longer valid. Get the billing profile again.")
        old = dict(profile)
        for key in ("firstName", "lastName", "email", "culture", "language", "companyName"):
            if body.get(key) is not None:
                profile[key] = str(body.get(key))
        if body.get("defaultAddress"):
            for key, value in body.get("defaultAddress").items():
                profile["defaultAddress"][_camel(key)] = value
        profile["attributes"]["etag"] = str(secrets.randbits(63) - 2**62)
        save(sandbox, customer)
        audit.record(
            sandbox,
            operation="update_customer_billing_profile",
            resource_type="customer",
            customer=customer,
            actor=principal.display,
            old=old,
            new=profile,
        )
    return json_response(render(customer)["billingProfile"])


def _camel(key: str) -> str:
    names = {
        n.lower(): n
        for n in (
            "firstName",
            "lastName",
            "addressLine1",
            "addressLine2",
            "addressLine3",
            "city",
            "state",
            "postalCode",
            "country",
            "region",
            "district",
            "phoneNumber",
            "middleName",
            "emailAddress",
        )
    }
    return names.get(key.lower(), key)


async def company_profile(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    return json_response(
        render(load(sandbox, request.path_params["customer_id"]))["companyProfile"]
    )


async def qualifications(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    load(sandbox, request.path_params["customer_id"])
    return json_response([])  # bare JSON array, not a collection envelope


def routes() -> list[Route]:
    return [
        Route("/v1/customers", list_customers, methods=["GET"]),
        Route("/v1/customers", create_customer, methods=["POST"]),
        Route("/v1/customers/relationshiprequests", relationship_request, methods=["GET"]),
        Route("/v1/customers/{customer_id}", get_customer, methods=["GET"]),
        Route("/v1/customers/{customer_id}", delete_customer, methods=["DELETE"]),
        Route("/v1/customers/{customer_id}/profiles/billing", billing_profile, methods=["GET"]),
        Route(
            "/v1/customers/{customer_id}/profiles/billing", patch_billing_profile, methods=["PATCH"]
        ),
        Route("/v1/customers/{customer_id}/profiles/company", company_profile, methods=["GET"]),
        Route("/v1/customers/{customer_id}/qualifications", qualifications, methods=["GET"]),
        Route("/v1/domains/{domain}", head_domain, methods=["HEAD", "GET"]),
    ]
