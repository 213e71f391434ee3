"""Customer users, subscribed SKUs and licences (reference §7) - all App+User only.

Users: create (Entra password policy + UPN rules), list with seek paging (``UserState=Inactive``
filter lists deleted users), get, partial PATCH (``state: active`` restores a deleted user within
30 days), DELETE = soft delete. Licences: ``licenseupdates`` assigns/removes and refuses
over-assignment with 400 60012; subscribed SKU counts are derived live from active/suspended
subscriptions (prepaid units) and licences held by active users (consumed units).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import audit
from .catalog_data import PRODUCTS, PRODUCTS_BY_ID, PRODUCTS_BY_SKU_GUID, ProductDef
from .customers import load as load_customer
from .lifecycle import advance
from .state import Sandbox
from .store import dumps, iso, loads, parse_iso
from .subscriptions import settle_terms
from .web import (
    PCError,
    Principal,
    authenticate,
    collection,
    idempotent,
    json_response,
    link,
    read_body,
    sandbox_of,
    seek_next,
    seek_state,
)

RESTORE_WINDOW = dt.timedelta(days=30)
UPN_LOCAL_RE = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9.-]+$")
SYMBOLS = set("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ")
PRODUCTS_BY_PART = {p.part_number: p for p in PRODUCTS}


def build_user(
    *,
    user_id: str,
    customer_id: str,
    upn: str,
    first_name: str,
    last_name: str,
    display_name: str,
    usage_location: str,
    created: dt.datetime,
    state: str = "active",
) -> dict[str, Any]:
    return {
        "id": user_id,
        "usageLocation": usage_location,
        "userPrincipalName": upn,
        "firstName": first_name,
        "lastName": last_name,
        "displayName": display_name,
        "immutableId": None,
        "phoneNumber": None,
        "lastDirectorySyncTime": None,
        "userDomainType": "managed",
        "state": state,
        "softDeletionTime": None,
        "creationDate": iso(created),
        "_customerId": customer_id,
    }


def render(user: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in user.items() if not k.startswith("_")}
    out["links"] = {"self": link(f"/customers/{user['_customerId']}/users/{user['id']}")}
    out["attributes"] = {"objectType": "CustomerUser"}
    return out


def password_problems(password: str) -> list[str]:
    """Entra cloud-user policy: 8-256 characters, 3 of 4 classes (lower, upper, digit, symbol), no
    characters outside ASCII."""
    problems = []
    if not 8 <= len(password) <= 256:
        problems.append("The password must be 8 to 256 characters long.")
    if any(ord(ch) > 127 for ch in password):
        problems.append("The password can't contain Unicode characters.")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(c in SYMBOLS for c in password),
        )
    )
    if classes < 3:
        problems.append("The password must contain 3 of: lowercase, uppercase, digit, symbol.")
    return problems


def upn_problems(upn: str, customer: dict[str, Any]) -> list[str]:
    local, at, domain = upn.rpartition("@")
    if not at or not local:
        return ["userPrincipalName must look like alias@domain."]
    problems = []
    if len(upn) > 113 or len(local) > 64 or len(domain) > 48:
        problems.append("userPrincipalName is too long (113 total, 64 before @, 48 after).")
    if not UPN_LOCAL_RE.match(local) or not DOMAIN_RE.match(domain):
        problems.append("userPrincipalName contains characters that are not allowed.")
    if local.endswith(".") or local.startswith("."):
        problems.append("userPrincipalName can't have '.' just before '@' or at the start.")
    domains = {
        customer["companyProfile"]["domain"].lower(),
        *(d.lower() for d in customer.get("customDomains", [])),
    }
    if domain.lower() not in domains:
        problems.append(f"The domain {domain} is not a verified domain of this customer.")
    return problems


def _load_user(sandbox: Sandbox, customer_id: str, user_id: str) -> dict[str, Any]:
    doc = sandbox.store.doc(
        "SELECT data FROM users WHERE id = ? COLLATE NOCASE AND customer_id = ?",
        (user_id, customer_id),
    )
    if doc is None:
        raise PCError(404, 60002, f"User {user_id} was not found.", [user_id])
    return doc


def _save(sandbox: Sandbox, user: dict[str, Any]) -> None:
    sandbox.store.run(
        "UPDATE users SET upn = ?, state = ?, data = ? WHERE id = ?",
        (user["userPrincipalName"], user["state"], dumps(user), user["id"]),
    )


def _audit(
    sandbox: Sandbox,
    op: str,
    customer: dict[str, Any],
    principal: Principal,
    old: Any,
    new: Any,
    user_id: str,
) -> None:
    audit.record(
        sandbox,
        operation=op,
        resource_type="customer_user",
        customer=customer,
        actor=principal.display,
        application_id=principal.client_id,
        old=old,
        new=new,
        customized={"CustomerUserId": user_id},
    )


async def list_users(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    state = seek_state(request, "users", 100, 500)
    wanted = "active"
    if state.get("filter"):
        try:
            flt = {str(k).lower(): v for k, v in loads(state["filter"]).items()}
        except (ValueError, AttributeError) as exc:
            raise PCError(400, 800002, "The filter is not valid JSON.") from exc
        if (
            str(flt.get("field", "")).lower() != "userstate"
            or str(flt.get("operator", "")).lower() != "equals"
        ):
            raise PCError(400, 800002, "Users can only be filtered by UserState equals.")
        wanted = str(flt.get("value", "")).lower()
        if wanted not in ("active", "inactive"):
            raise PCError(400, 800002, "UserState must be Active or Inactive.")
    rows = sandbox.store.all(
        (
            "SELECT seq, data FROM users WHERE customer_id = ? AND state = ? AND seq > ? ORDER BY "
            "seq LIMIT ?"
        ),
        (customer["id"], wanted, state["after"], state["size"] + 1),
    )
    page, more = rows[: state["size"]], len(rows) > state["size"]
    items = [render(loads(r[1])) for r in page]
    base = f"/customers/{customer['id']}/users?size={state['size']}"
    token, next_link = seek_next(base, state, page[-1][0]) if more else (None, None)
    return json_response(collection(items, base, next_link=next_link, continuation_token=token))


async def create_user(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request, user_only=True)
    body = await read_body(request)
    customer_id = request.path_params["customer_id"]
    # A retried create (same MS-RequestId) answers the first result: one user, not a 409.
    return idempotent(
        request,
        f"POST /customers/{customer_id.lower()}/users",
        lambda: _create(sandbox, customer_id, body, principal),
    )


def _create(
    sandbox: Sandbox, customer_id: str, body: dict[str, Any], principal: Principal
) -> tuple[int, dict[str, Any]]:
    with sandbox.store.tx():
        customer = load_customer(sandbox, customer_id)
        upn = str(body.get("userPrincipalName") or "").strip()
        display = str(body.get("displayName") or "").strip()
        profile = body.get("passwordProfile") or {}
        password = str(profile.get("password") or "") if isinstance(profile, dict) else ""
        problems = upn_problems(upn, customer)
        if not display:
            problems.append("displayName is required.")
        problems += password_problems(password)
        location = str(body.get("usageLocation") or "").upper()
        if location and len(location) != 2:
            problems.append("usageLocation must be an ISO 3166 two-letter country code.")
        if problems:
            raise PCError(400, 800002, " ".join(problems), problems)
        if sandbox.store.one("SELECT 1 FROM users WHERE upn = ? COLLATE NOCASE", (upn,)):
            # Code for a duplicate UPN is not documented; 409 is the useful part [infer].
            raise PCError(409, 60010, f"A user with userPrincipalName {upn} already exists.", [upn])
        user = build_user(
            user_id=str(uuid.uuid4()),
            customer_id=customer["id"],
            upn=upn,
            first_name=str(body.get("firstName") or ""),
            last_name=str(body.get("lastName") or ""),
            display_name=display,
            usage_location=location,
            created=sandbox.clock.now(),
        )
        sandbox.store.run(
            "INSERT INTO users (id, customer_id, upn, state, data) VALUES (?, ?, ?, 'active', ?)",
            (user["id"], customer["id"], upn, dumps(user)),
        )
        _audit(sandbox, "create_customer_user", customer, principal, None, render(user), user["id"])
    out = render(user)
    out["passwordProfile"] = {
        "password": password,
        "forceChangePassword": bool(profile.get("forceChangePassword", True)),
    }
    return 201, out


async def get_user(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    return json_response(
        render(_load_user(sandbox, customer["id"], request.path_params["user_id"]))
    )


async def patch_user(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request, user_only=True)
    body = await read_body(request)
    with sandbox.store.tx():
        customer = load_customer(sandbox, request.path_params["customer_id"])
        user = _load_user(sandbox, customer["id"], request.path_params["user_id"])
        old = render(user)
        op = "update_customer_user"
        target_state = str(body.get("state") or user["state"]).lower()
        if user["state"] == "inactive":
            if target_state != "active":
                raise PCError(400, 800002, "A deleted user can only be restored (state: active).")
            deleted = (
                parse_iso(user["softDeletionTime"])
                if user.get("softDeletionTime")
                else sandbox.clock.now()
            )
            if sandbox.clock.now() > deleted + RESTORE_WINDOW:
                raise PCError(404, 60002, "The user was permanently deleted (30 days).")
            user["state"], user["softDeletionTime"], op = "active", None, "restore_customer_user"
        profile = body.get("passwordProfile")
        if isinstance(profile, dict) and profile.get("password") is not None:
            # A password reset: the same policy as at creation; the password is not kept.
            problems = password_problems(str(profile.get("password")))
            if problems:
                raise PCError(400, 800002, " ".join(problems), problems)
            op = "reset_customer_user_password"
        for key in ("firstName", "lastName", "displayName"):
            if body.get(key) is not None:
                user[key] = str(body.get(key))
        if body.get("usageLocation") is not None:
            location = str(body.get("usageLocation")).upper()
            if len(location) != 2:
                raise PCError(
                    400, 800002, "usageLocation must be an ISO 3166 two-letter country code."
                )
            user["usageLocation"] = location
        if (
            body.get("userPrincipalName")
            and body.get("userPrincipalName") != user["userPrincipalName"]
        ):
            upn = str(body.get("userPrincipalName"))
            problems = upn_problems(upn, customer)
            if problems:
                raise PCError(400, 800002, " ".join(problems), problems)
            if sandbox.store.one(
                "SELECT 1 FROM users WHERE upn = ? COLLATE NOCASE AND id != ?", (upn, user["id"])
            ):
                raise PCError(
                    409, 60010, f"A user with userPrincipalName {upn} already exists.", [upn]
                )
            user["userPrincipalName"] = upn
        _save(sandbox, user)
        _audit(sandbox, op, customer, principal, old, render(user), user["id"])
    return json_response(render(user))


async def delete_user(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request, user_only=True)
    with sandbox.store.tx():
        customer = load_customer(sandbox, request.path_params["customer_id"])
        user = _load_user(sandbox, customer["id"], request.path_params["user_id"])
        if user["state"] == "inactive":
            raise PCError(404, 60002, f"User {user['id']} was not found.")
        old = render(user)
        user["state"] = "inactive"
        user["softDeletionTime"] = iso(sandbox.clock.now())
        _save(sandbox, user)
        _audit(sandbox, "delete_customer_user", customer, principal, old, render(user), user["id"])
    return Response(status_code=204)


# -- licences --------------------------------------------------------------------------------


def product_for_subscription(sub: dict[str, Any]) -> ProductDef | None:
    product_id = sub["_sandbox"].get("productId")
    if product_id:
        return PRODUCTS_BY_ID.get(product_id)
    from .catalog_data import LEGACY_BY_ID

    legacy = LEGACY_BY_ID.get(sub["offerId"].lower())
    return PRODUCTS_BY_PART.get(legacy.part_number) if legacy else None


def sku_counts(
    sandbox: Sandbox, customer_id: str, *, lagging: bool = False
) -> dict[str, dict[str, int]]:
    """Per Graph SKU GUID: prepaid units from subscriptions and licences consumed by active
    users. ``lagging`` leaves out licences younger than ``license_lag_s``: what the subscribed
    SKUs report catches up with assignments later (the over-assignment check never lags)."""
    assigned_before = sandbox.clock.timestamp() - sandbox.faults.license_lag_s if lagging else 1e18
    counts: dict[str, dict[str, int]] = {}
    for (data,) in sandbox.store.all(
        (
            "SELECT data FROM subscriptions WHERE customer_id = ? AND status IN ('active', "
            "'suspended')"
        ),
        (customer_id,),
    ):
        sub = loads(data)
        product = product_for_subscription(sub)
        if product is None:
            continue
        entry = counts.setdefault(product.sku_guid, {"active": 0, "suspended": 0, "consumed": 0})
        entry["active" if sub["status"] == "active" else "suspended"] += sub["quantity"]
    for sku_guid, consumed in sandbox.store.all(
        "SELECT l.sku_guid, count(*) FROM licenses l JOIN users u ON u.id = l.user_id "
        "WHERE l.customer_id = ? AND u.state = 'active' AND l.assigned_at <= ? "
        "GROUP BY l.sku_guid",
        (customer_id, assigned_before),
    ):
        counts.setdefault(sku_guid, {"active": 0, "suspended": 0, "consumed": 0})["consumed"] = (
            consumed
        )
    return counts


def _product_sku(product: ProductDef) -> dict[str, Any]:
    return {
        "id": product.sku_guid,
        "name": product.title,
        "skuPartNumber": product.part_number,
        "targetType": "User",
        "licenseGroupId": "group1",
    }


def _plans(product: ProductDef, status: str) -> list[dict[str, Any]]:
    return [
        {
            "displayName": display,
            "serviceName": name,
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
            "capabilityStatus": status,
            "targetType": "User",
        }
        for name, display in product.service_plans
    ]


async def subscribed_skus(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    settle_terms(sandbox, customer)
    items = []
    for sku_guid, c in sorted(sku_counts(sandbox, customer["id"], lagging=True).items()):
        product = PRODUCTS_BY_SKU_GUID.get(sku_guid)
        if product is None:
            continue
        total = c["active"]
        items.append(
            {
                "availableUnits": total - c["consumed"],
                "activeUnits": c["active"],
                "consumedUnits": c["consumed"],
                "suspendedUnits": c["suspended"],
                "totalUnits": total,
                "warningUnits": 0,
                "productSku": _product_sku(product),
                "servicePlans": _plans(product, "Enabled"),
                "capabilityStatus": "Enabled" if c["active"] else "Suspended",
                "attributes": {"objectType": "SubscribedSku"},
            }
        )
    return json_response(collection(items, f"/customers/{customer['id']}/subscribedskus"))


async def user_licenses(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True, license_call=True)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    user = _load_user(sandbox, customer["id"], request.path_params["user_id"])
    items = []
    for (sku_guid,) in sandbox.store.all(
        "SELECT sku_guid FROM licenses WHERE user_id = ? ORDER BY sku_guid", (user["id"],)
    ):
        product = PRODUCTS_BY_SKU_GUID.get(sku_guid)
        if product:
            items.append(
                {
                    "servicePlans": _plans(product, "Assigned"),
                    "productSku": _product_sku(product),
                    "attributes": {"objectType": "License"},
                }
            )
    return json_response(
        collection(items, f"/customers/{customer['id']}/users/{user['id']}/licenses")
    )


async def license_updates(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request, user_only=True, license_call=True)
    body = await read_body(request)
    advance(sandbox)
    with sandbox.store.tx():
        customer = load_customer(sandbox, request.path_params["customer_id"])
        user = _load_user(sandbox, customer["id"], request.path_params["user_id"])
        if user["state"] != "active":
            raise PCError(404, 60002, f"User {user['id']} was not found.")
        assign = body.get("licensesToAssign") or []
        remove = body.get("licensesToRemove") or []
        if not isinstance(assign, list) or not isinstance(remove, list):
            raise PCError(400, 800002, "licensesToAssign and licensesToRemove must be arrays.")
        counts = sku_counts(sandbox, customer["id"])
        held = {
            r[0]
            for r in sandbox.store.all(
                "SELECT sku_guid FROM licenses WHERE user_id = ?", (user["id"],)
            )
        }
        for sku in remove:
            sku = str(sku).lower()
            if sku in held:
                sandbox.store.run(
                    "DELETE FROM licenses WHERE user_id = ? AND sku_guid = ?", (user["id"], sku)
                )
                held.discard(sku)
                if sku in counts:
                    counts[sku]["consumed"] -= 1
        assigned = []
        for entry in assign:
            sku = str((entry or {}).get("skuId") or "").lower()
            if sku not in counts:
                raise PCError(
                    400, 800002, f"The customer has no subscription for SKU {sku}.", [sku]
                )
            if not user.get("usageLocation"):
                # Licences need a usage location first (Entra rule).
                raise PCError(
                    400, 800002, "usageLocation must be set on the user before assigning licences."
                )
            if sku not in held:
                if counts[sku]["consumed"] + 1 > counts[sku]["active"]:
                    raise PCError(
                        400,
                        60012,
                        "Not enough licenses available.",
                        [
                            (
                                "LicenseQuotaExceededException : Not enough licenses available "
                                f"for sku {sku}."
                            )
                        ],
                    )
                sandbox.store.run(
                    "INSERT INTO licenses (customer_id, user_id, sku_guid, assigned_at) "
                    "VALUES (?, ?, ?, ?)",
                    (customer["id"], user["id"], sku, sandbox.clock.timestamp()),
                )
                counts[sku]["consumed"] += 1
                held.add(sku)
            assigned.append({"skuId": sku, "excludedPlans": (entry or {}).get("excludedPlans")})
        audit.record(
            sandbox,
            operation="update_customer_user_licenses",
            resource_type="license",
            customer=customer,
            actor=principal.display,
            application_id=principal.client_id,
            new={"licensesToAssign": assigned, "licensesToRemove": remove},
            customized={"CustomerUserId": user["id"]},
        )
    return json_response(
        {
            "licensesToAssign": assigned,
            "licensesToRemove": remove or None,
            "licenseWarnings": [],
            "attributes": {"objectType": "LicenseUpdate"},
        },
        201,
    )


def routes() -> list[Route]:
    base = "/v1/customers/{customer_id}"
    return [
        Route(base + "/users", list_users, methods=["GET"]),
        Route(base + "/users", create_user, methods=["POST"]),
        Route(base + "/users/{user_id}", get_user, methods=["GET"]),
        Route(base + "/users/{user_id}", patch_user, methods=["PATCH"]),
        Route(base + "/users/{user_id}", delete_user, methods=["DELETE"]),
        Route(base + "/users/{user_id}/licenses", user_licenses, methods=["GET"]),
        Route(base + "/users/{user_id}/licenseupdates", license_updates, methods=["POST"]),
        Route(base + "/subscribedskus", subscribed_skus, methods=["GET"]),
    ]
