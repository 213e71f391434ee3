"""Carts and orders (reference §5).

Carts: create (201), get, put (whole cart), checkout (201 CartCheckoutResult, idempotent on
MS-RequestId; a second checkout of an ordered cart is 400 800065). Orders: direct create
(legacy style), list (new orders only appear after ``order_list_delay_s``), get (immediate),
provisioning status (App+User). A new order is ``pending`` and its line items carry no
``subscriptionId`` until provisioned (``provisioning_delay_s``); ``lifecycle.advance`` completes it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import audit, billing, terms
from .catalog import SKU_ID, resolve_catalog_item
from .catalog_data import LEGACY_BY_ID, PRODUCTS_BY_ID, ProductDef
from .customers import load as load_customer
from .lifecycle import advance
from .state import Sandbox
from .store import dumps, iso, loads
from .subscriptions import build_subscription, due_of
from .web import (
    CI,
    PCError,
    Principal,
    authenticate,
    collection,
    idempotent,
    json_response,
    link,
    read_body,
    sandbox_of,
)

CART_LIFETIME = dt.timedelta(days=7)
CYCLE_ALIASES = {
    "monthly": "monthly",
    "annual": "annual",
    "triennial": "triennial",
    "one_time": "one_time",
    "onetime": "one_time",
    "none": "none",
}


def _cycle(value: Any) -> str:
    return CYCLE_ALIASES.get(str(value or "").replace(" ", "").lower(), str(value or "").lower())


def order_id(sandbox: Sandbox) -> str:
    return secrets.token_hex(6)  # NCE order ids are 12 hex characters (= alternateId)


def render_order(order: dict[str, Any], include_price: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in order.items() if k != "_sandbox"}
    cid = order["_sandbox"]["customerId"]
    items = []
    for item in order["lineItems"]:
        entry = dict(item)
        if not include_price:
            entry.pop("pricing", None)
        parts = str(item["offerId"]).split(":")
        links: dict[str, Any] = {}
        if len(parts) == 3:
            links = {
                "product": link(f"/products/{parts[0]}"),
                "sku": link(f"/products/{parts[0]}/skus/{parts[1]}"),
                "availability": link(
                    f"/products/{parts[0]}/skus/{parts[1]}/availabilities/{parts[2]}"
                ),
            }
        if entry.get("subscriptionId"):
            links["subscription"] = link(
                f"/customers/{cid}/subscriptions/{entry['subscriptionId']}"
            )
        links["provisioningStatus"] = link(
            f"/customers/{cid}/orders/{order['id']}/lineitems/{item['lineItemNumber']}/provisioningstatus"
        )
        entry["links"] = links
        items.append(entry)
    out["lineItems"] = items
    out["links"] = {
        "self": link(f"/customers/{cid}/orders/{order['id']}"),
        "provisioningStatus": link(f"/customers/{cid}/orders/{order['id']}/provisioningstatus"),
        "patchOperation": link(f"/customers/{cid}/orders/{order['id']}", "PATCH"),
    }
    out["attributes"] = {"objectType": "Order"}
    return out


# -- line validation + order creation -------------------------------------------------------------


def _validate_line(
    sandbox: Sandbox,
    customer: dict[str, Any],
    item: CI,
    default_cycle: str | None,
    cart_products: set[str],
) -> dict[str, Any]:
    """Resolve one requested line to what gets provisioned, or raise the documented error."""
    offer_id = str(item.get("catalogItemId") or item.get("offerId") or "")
    quantity = item.get("quantity")
    try:
        quantity = int(quantity)
    except (TypeError, ValueError) as exc:
        raise PCError(400, 800002, "quantity is required and must be an integer.") from exc
    cycle = _cycle(item.get("billingCycle") or default_cycle or "monthly")
    legacy = LEGACY_BY_ID.get(offer_id.lower())
    if legacy is not None:
        legacy_parent = (item.get("provisioningContext") or {}).get("parentSubscriptionId")
        if legacy.addon_of and not legacy_parent:
            legacy_parent = _has_base(
                sandbox, customer["id"], legacy.addon_of, cart_products, legacy=True
            )
            if not legacy_parent:
                raise PCError(
                    400, 800009, f"Add-on {legacy.name} requires one of its prerequisite offers."
                )
        return {
            "offerId": legacy.id,
            "name": legacy.name,
            "product": None,
            "legacy": legacy,
            "quantity": quantity,
            "duration": "P1Y",
            "cycle": cycle if cycle in ("monthly", "annual") else "monthly",
            "friendlyName": item.get("friendlyName"),
            "parent": legacy_parent or None,
        }
    product = resolve_catalog_item(offer_id)
    if product is None:
        parts = offer_id.split(":")
        if len(parts) == 3 and parts[0].upper() in PRODUCTS_BY_ID and parts[1] == SKU_ID:
            raise PCError(
                404,
                400019,
                f"Availability {parts[2]} was not found; re-read the catalog and retry.",
            )
        raise PCError(400, 800009, f"Catalog item {offer_id} is not valid.", [{"errorCode": 10001}])
    duration = str(item.get("termDuration") or "P1M").upper()
    if duration not in terms.TERM_MONTHS or (duration, cycle) not in {
        (d, c) for d, c in _terms(product)
    }:
        raise PCError(
            400,
            800122,
            f"Term {duration} with billing cycle {cycle} is not available for {product.title}.",
        )
    if not product.minimum_quantity <= quantity <= product.maximum_quantity:
        raise PCError(
            400,
            800017,
            f"Quantity must be between {product.minimum_quantity} and {product.maximum_quantity}.",
        )
    parent = (item.get("provisioningContext") or {}).get("parentSubscriptionId")
    if product.is_addon:
        parent = parent or _has_base(sandbox, customer["id"], product.prerequisites, cart_products)
        if not parent:
            raise PCError(
                400,
                800009,
                (
                    f"{product.title} is an add-on: the customer needs one of "
                    f"{', '.join(product.prerequisites)} first."
                ),
            )
    return {
        "offerId": product and f"{product.id}:{SKU_ID}:{product.availability_id}",
        "name": product.title,
        "product": product,
        "legacy": None,
        "quantity": quantity,
        "duration": duration,
        "cycle": cycle,
        "friendlyName": item.get("friendlyName"),
        "parent": parent or None,
    }


def _terms(product: ProductDef) -> list[tuple[str, str]]:
    from .catalog import product_terms

    return product_terms(product)


def _has_base(
    sandbox: Sandbox,
    customer_id: str,
    prerequisites: tuple[str, ...],
    cart_products: set[str],
    legacy: bool = False,
) -> str | bool:
    """The id of an active base subscription satisfying ``prerequisites`` (or True if the base is
    in the same cart), else False."""
    keys = {p.split(":")[0].upper() if not legacy else p.lower() for p in prerequisites}
    for sub_id, data in sandbox.store.all(
        (
            "SELECT id, data FROM subscriptions WHERE customer_id = ? AND status IN ('active', "
            "'pending') ORDER BY seq"
        ),
        (customer_id,),
    ):
        sub = loads(data)
        key = sub["offerId"].split(":")[0].upper() if not legacy else sub["offerId"].lower()
        if key in keys and not sub.get("parentSubscriptionId"):
            return sub_id
    return bool(keys & cart_products)


def _refuse_overlap(
    sandbox: Sandbox, customer: dict[str, Any], lines: list[dict[str, Any]]
) -> None:
    """409 800060 while an order of the same customer for the same offer is still provisioning
    (only possible with ``provisioning_delay_s`` > 0)."""
    wanted = {line["offerId"] for line in lines}
    for (data,) in sandbox.store.all(
        "SELECT data FROM orders WHERE customer_id = ? AND status = 'pending' AND ready_at > ?",
        (customer["id"], sandbox.clock.timestamp()),
    ):
        if wanted & {item["offerId"] for item in loads(data)["lineItems"]}:
            raise PCError(
                409,
                800060,
                "Your order is in progress. Please wait for the order to complete and try again.",
            )


def _require_agreement(customer: dict[str, Any]) -> None:
    """New Commerce purchases need the customer's acceptance of the Microsoft Customer
    Agreement confirmed first (403 13605 otherwise)."""
    from .onboarding import has_agreement

    if customer.get("_agreementRequired") and not has_agreement(customer):
        raise PCError(
            403,
            13605,
            "The customer has not accepted the Microsoft Customer Agreement: confirm its "
            "acceptance (POST /customers/{id}/agreements) before ordering.",
        )


def _check_quotas(sandbox: Sandbox, customer: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """Integration sandbox accounts: 5 subscriptions per customer, 25 licences per subscription
    (800018), when the ``sandbox_quotas`` fault setting is on."""
    faults = sandbox.faults
    if not faults.sandbox_quotas:
        return
    if any(line["quantity"] > faults.quota_licenses_per_subscription for line in lines):
        raise PCError(
            400, 800018, "The quantity exceeds the sandbox limit of licences per subscription."
        )
    held = sandbox.store.one(
        "SELECT count(*) FROM subscriptions WHERE customer_id = ? AND status != 'deleted'",
        (customer["id"],),
    )[0]
    if held + len(lines) > faults.quota_subscriptions_per_customer:
        raise PCError(400, 800018, "The customer reached the sandbox limit of subscriptions.")


def create_order(
    sandbox: Sandbox,
    customer: dict[str, Any],
    lines: list[dict[str, Any]],
    principal: Principal,
    correlation_id: str | None,
    billing_cycle: str | None = None,
) -> dict[str, Any]:
    now = sandbox.clock.now()
    ts = now.timestamp()
    faults = sandbox.faults
    _refuse_overlap(sandbox, customer, lines)
    _check_quotas(sandbox, customer, lines)
    _require_agreement(customer)
    oid = order_id(sandbox)
    country = customer["billingProfile"]["defaultAddress"].get("country", "US")
    currency = terms.currency_for(country)
    ready_at = ts + faults.provisioning_delay_s
    active_at = (
        ready_at + max(faults.subscription_ready_delay_s / 2, 0)
        if faults.subscription_ready_delay_s
        else ready_at
    )
    line_items, sub_ids, charges = [], [], []
    base_ids: dict[str, str] = {}
    for number, line in enumerate(lines):
        sid = sandbox.new_id()
        product: ProductDef | None = line["product"]
        monthly = product.monthly_erp_usd if product else line["legacy"].monthly_usd
        unit, erp = terms.term_price(monthly, line["duration"], line["cycle"], currency)
        parent = line["parent"]
        if parent is True:
            # The base is in the same order: attach to it.
            keys = [p.split(":")[0] for p in product.prerequisites] if product else []
            keys += list(line["legacy"].addon_of) if line["legacy"] else []
            parent = next((base_ids[k] for k in keys if k in base_ids), None)
        sub = build_subscription(
            sub_id=sid,
            customer_id=customer["id"],
            order_id=oid,
            offer_id=line["offerId"],
            offer_name=line["name"],
            product=product,
            duration=line["duration"],
            cycle=line["cycle"],
            quantity=line["quantity"],
            created=now,
            status="pending",
            auto_renew=True,
            currency=currency,
            unit_price=unit,
            parent_id=parent if isinstance(parent, str) else None,
            friendly_name=line["friendlyName"],
            legacy=line["legacy"] is not None,
        )
        sub["_sandbox"]["patchableAt"] = active_at + faults.subscription_ready_delay_s / 2
        sandbox.store.run(
            (
                "INSERT INTO subscriptions (id, customer_id, order_id, parent_id, status, "
                "ready_at, visible_at, data, due) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)"
            ),
            (
                sid,
                customer["id"],
                oid,
                sub["parentSubscriptionId"],
                active_at,
                ready_at,
                dumps(sub),
                due_of(sub),
            ),
        )
        if product is not None and not product.is_addon:
            base_ids[product.id] = sid
        if line["legacy"] is not None and not line["legacy"].addon_of:
            base_ids[line["legacy"].id] = sid
        sub_ids.append(sid)
        cycle_end = terms.add_months(
            now.date(), terms.CYCLE_MONTHS.get(line["cycle"], 1)
        ) - dt.timedelta(days=1)
        charges.append(
            billing.charge_line(
                sandbox,
                customer=customer,
                subscription=sub,
                product=product,
                charge_type="new",
                quantity=line["quantity"],
                unit_price=unit,
                effective_unit_price=unit,
                charge_start=now.date(),
                charge_end=cycle_end,
                when=now,
                reference_id=sandbox.new_id(),
            )
        )
        line_items.append(
            {
                "lineItemNumber": number,
                "offerId": line["offerId"],
                "subscriptionId": None,
                "parentSubscriptionId": sub["parentSubscriptionId"],
                "termDuration": line["duration"],
                "transactionType": "New",
                "friendlyName": line["friendlyName"] or line["name"],
                "quantity": line["quantity"],
                "pricing": {
                    "listPrice": float(erp),
                    "discountedPrice": float(unit),
                    "proratedPrice": float(unit),
                    "price": float(unit),
                    "extendedPrice": float(unit * line["quantity"]),
                },
                "partnerIdOnRecord": None,
                "renewsTo": None,
            }
        )
    order = {
        "id": oid,
        "alternateId": oid,
        "referenceCustomerId": customer["id"],
        "billingCycle": billing_cycle or (lines[0]["cycle"] if lines else "monthly"),
        "currencyCode": currency,
        "currencySymbol": terms.CURRENCIES[currency][0],
        "lineItems": line_items,
        "creationDate": iso(now),
        "status": "pending",
        "transactionType": "UserPurchase",
        "client": {"applicationId": principal.client_id},
        "_sandbox": {"customerId": customer["id"], "subscriptionIds": sub_ids},
    }
    sandbox.store.run(
        (
            "INSERT INTO orders (id, customer_id, created, ready_at, visible_at, status, data) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?)"
        ),
        (oid, customer["id"], ts, ready_at, ts + faults.order_list_delay_s, dumps(order)),
    )
    billing.add_lines(sandbox, customer["id"], now, charges)
    customized = {"OrderId": oid}
    for n, line in enumerate(lines):
        customized[f"OfferId-{n}"] = line["offerId"]
        customized[f"Quantity-{n}"] = str(line["quantity"])
    audit.record(
        sandbox,
        operation="create_order",
        resource_type="order",
        customer=customer,
        actor=principal.display,
        application_id=principal.client_id,
        new=render_order(order),
        customized=customized,
        correlation_id=correlation_id,
    )
    return order


# -- carts ----------------------------------------------------------------------------------------


def _cart_lines(body: CI) -> list[dict[str, Any]]:
    raw = body.get("lineItems")
    if not isinstance(raw, list) or not raw:
        raise PCError(400, 800002, "A cart needs at least one line item.")
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("catalogItemId"):
            raise PCError(400, 800002, f"lineItems[{n}].catalogItemId is required.")
        try:
            quantity = int(item.get("quantity"))
        except (TypeError, ValueError) as exc:
            raise PCError(400, 800002, f"lineItems[{n}].quantity must be an integer.") from exc
        entry: dict[str, Any] = {
            "id": n,
            "catalogItemId": str(item.get("catalogItemId")),
            "friendlyName": item.get("friendlyName"),
            "quantity": quantity,
            "billingCycle": _cycle(item.get("billingCycle") or "monthly"),
            "termDuration": item.get("termDuration"),
            "participants": item.get("participants") or [],
            "provisioningContext": dict(item.get("provisioningContext") or {}),
            "orderGroup": "0",
        }
        product = resolve_catalog_item(entry["catalogItemId"]) or None
        if product is None and entry["catalogItemId"].lower() not in LEGACY_BY_ID:
            entry["error"] = {
                "errorCode": 10001,
                "errorDescription": "CatalogItemIdIsNotValid",
                "additionalInformation": [],
            }
        out.append(entry)
    return out


def _render_cart(cart: dict[str, Any], customer_id: str) -> dict[str, Any]:
    out = dict(cart)
    out["links"] = {"self": link(f"/customers/{customer_id}/carts/{cart['id']}")}
    out["attributes"] = {"objectType": "Cart"}
    return out


def _load_cart(sandbox: Sandbox, customer_id: str, cart_id: str) -> dict[str, Any]:
    doc = sandbox.store.doc(
        "SELECT data FROM carts WHERE id = ? COLLATE NOCASE AND customer_id = ?",
        (cart_id, customer_id),
    )
    if doc is None:
        raise PCError(404, 800002, f"Cart {cart_id} was not found.")
    return doc


async def create_cart(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    body = await read_body(request)
    customer = load_customer(sandbox, request.path_params["customer_id"])

    def produce() -> tuple[int, dict[str, Any]]:
        now = sandbox.clock.now()
        cart = {
            "id": sandbox.new_id(),
            "creationTimestamp": iso(now),
            "lastModifiedTimestamp": iso(now),
            "expirationTimestamp": iso(now + CART_LIFETIME),
            "lastModifiedUser": principal.display,
            "status": "Active",
            "lineItems": _cart_lines(body),
        }
        sandbox.store.run(
            "INSERT INTO carts (id, customer_id, data) VALUES (?, ?, ?)",
            (cart["id"], customer["id"], dumps(cart)),
        )
        return 201, _render_cart(cart, customer["id"])

    return idempotent(request, f"POST /customers/{customer['id']}/carts", produce)


async def get_cart(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    return json_response(
        _render_cart(
            _load_cart(sandbox, customer["id"], request.path_params["cart_id"]), customer["id"]
        )
    )


async def put_cart(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    body = await read_body(request)
    with sandbox.store.tx():
        customer = load_customer(sandbox, request.path_params["customer_id"])
        cart = _load_cart(sandbox, customer["id"], request.path_params["cart_id"])
        if cart["status"] != "Active":
            raise PCError(400, 800065, "The cart has already been submitted.")
        cart["lineItems"] = _cart_lines(body)
        cart["lastModifiedTimestamp"] = iso(sandbox.clock.now())
        cart["lastModifiedUser"] = principal.display
        sandbox.store.run("UPDATE carts SET data = ? WHERE id = ?", (dumps(cart), cart["id"]))
    return json_response(_render_cart(cart, customer["id"]))


async def checkout(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    cart_id = request.path_params["cart_id"]

    def produce() -> tuple[int, dict[str, Any]]:
        cart = _load_cart(sandbox, customer["id"], cart_id)
        if cart["status"] != "Active":
            raise PCError(400, 800065, "The cart has already been submitted.")
        from .store import parse_iso

        if parse_iso(cart["expirationTimestamp"]) <= sandbox.clock.now():
            raise PCError(400, 800002, "The cart has expired.")
        in_cart = {str(i["catalogItemId"]).split(":")[0].upper() for i in cart["lineItems"]}
        in_cart |= {str(i["catalogItemId"]).lower() for i in cart["lineItems"]}
        lines = [
            _validate_line(sandbox, customer, CI(item), None, in_cart) for item in cart["lineItems"]
        ]
        order = create_order(
            sandbox, customer, lines, principal, request.headers.get("MS-CorrelationId")
        )
        cart["status"] = "Ordered"
        sandbox.store.run("UPDATE carts SET data = ? WHERE id = ?", (dumps(cart), cart["id"]))
        return 201, {
            "orders": [render_order(order)],
            "orderErrors": [],
            "attributes": {"objectType": "CartCheckoutResult"},
        }

    return idempotent(
        request, f"POST /customers/{customer['id']}/carts/{cart_id}/checkout", produce
    )


# -- orders ---------------------------------------------------------------------------------------


async def post_order(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    body = await read_body(request)
    customer = load_customer(sandbox, request.path_params["customer_id"])

    def produce() -> tuple[int, dict[str, Any]]:
        raw = body.get("lineItems")
        if not isinstance(raw, list) or not raw:
            raise PCError(400, 800002, "An order needs at least one line item.")
        cycle = body.get("billingCycle")
        in_cart = {
            str(i.get("offerId", "")).split(":")[0].upper() for i in raw if isinstance(i, dict)
        }
        in_cart |= {str(i.get("offerId", "")).lower() for i in raw if isinstance(i, dict)}
        lines = [_validate_line(sandbox, customer, item, cycle, in_cart) for item in raw]
        order = create_order(
            sandbox,
            customer,
            lines,
            principal,
            request.headers.get("MS-CorrelationId"),
            _cycle(cycle) if cycle else None,
        )
        return 201, render_order(order)

    return idempotent(request, f"POST /customers/{customer['id']}/orders", produce)


async def list_orders(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    params = {k.lower(): v for k, v in request.query_params.items()}
    docs = sandbox.store.docs(
        "SELECT data FROM orders WHERE customer_id = ? AND visible_at <= ? ORDER BY seq",
        (customer["id"], sandbox.clock.timestamp()),
    )
    billing_type = _cycle(params.get("billingtype")) if params.get("billingtype") else None
    if billing_type:
        docs = [d for d in docs if d["billingCycle"] == billing_type]
    include_price = params.get("include_price", "").lower() == "true"
    return json_response(
        collection(
            [render_order(d, include_price) for d in docs], f"/customers/{customer['id']}/orders"
        )
    )


def _load_order(sandbox: Sandbox, customer_id: str, oid: str) -> dict[str, Any]:
    doc = sandbox.store.doc(
        "SELECT data FROM orders WHERE id = ? COLLATE NOCASE AND customer_id = ?",
        (oid, customer_id),
    )
    if doc is None:
        raise PCError(404, 20000, f"Order {oid} was not found.", [oid])
    return doc


async def get_order(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    order = _load_order(sandbox, customer["id"], request.path_params["order_id"])
    include_price = request.query_params.get("include_price", "").lower() == "true"
    return json_response(render_order(order, include_price))


async def order_provisioning_status(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    order = _load_order(sandbox, customer["id"], request.path_params["order_id"])
    done = order["status"] == "completed"
    items = [
        {
            "lineItemNumber": item["lineItemNumber"],
            "status": "fulfilled" if done else "prefulfillmentPending",
            "quantityProvisioningInformation": [
                {
                    "quantity": item["quantity"],
                    "status": "fulfilled" if done else "prefulfillmentPending",
                }
            ],
            "attributes": {"objectType": "OrderLineItemProvisioningStatus"},
        }
        for item in order["lineItems"]
    ]
    return json_response(
        collection(items, f"/customers/{customer['id']}/orders/{order['id']}/provisioningstatus")
    )


def routes() -> list[Route]:
    base = "/v1/customers/{customer_id}"
    return [
        Route(base + "/carts", create_cart, methods=["POST"]),
        Route(base + "/carts/{cart_id}", get_cart, methods=["GET"]),
        Route(base + "/carts/{cart_id}", put_cart, methods=["PUT"]),
        Route(base + "/carts/{cart_id}/checkout", checkout, methods=["POST"]),
        Route(base + "/orders", post_order, methods=["POST"]),
        Route(base + "/orders", list_orders, methods=["GET"]),
        Route(base + "/orders/{order_id}", get_order, methods=["GET"]),
        Route(
            base + "/orders/{order_id}/provisioningstatus",
            order_provisioning_status,
            methods=["GET"],
        ),
    ]
