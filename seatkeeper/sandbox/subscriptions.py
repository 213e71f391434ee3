"""Subscriptions (reference §6): list (all, or ``?order_id=``), get, add-ons, provisioning status
and the full-body PATCH that carries every change (quantity, friendlyName, autoRenewEnabled,
suspend/reactivate via status, cancel via status "deleted") with New Commerce rules.

NCE rules implemented (reference §6.3): quantity within SKU min/max (2002); seats can only be
removed while they are inside their 168-hour window, counted per seat lot in
``refundableQuantity`` (else 800090); cancel only until ``cancellationAllowedUntilDate`` (168 h,
else 900213), full refund in the first 24 h; a deleted subscription is immutable (2011); a
suspended one accepts only reactivation (800091); the billing cycle cannot change through this
PATCH (2054); a stale etag is 400 2055; a fresh subscription answers 409 800082 for a while.

Changes at renewal travel in ``scheduledNextTermInstructions`` (product, term, billing cycle,
quantity) and apply when the term renews. As Partner Center documents, an immediate quantity
change mid-term deletes them; they need auto-renew on, so turning it off deletes them too (our
reading of "auto-renew must be enabled"; the documentation names no error code, so a request
that breaks these rules answers 400 3000 with a message saying which).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import audit, billing, terms
from .catalog import product_terms
from .catalog_data import ADDON_PRODUCTS, PRODUCTS_BY_ID, ProductDef
from .customers import load as load_customer
from .lifecycle import advance
from .state import Sandbox
from .store import dumps, iso, loads
from .web import (
    CI,
    PCError,
    Principal,
    authenticate,
    collection,
    json_response,
    link,
    read_body,
    sandbox_of,
)

PLACEHOLDER_DATE = "0001-01-01T00:00:00Z"
STATUSES = ("active", "suspended", "deleted", "pending", "expired", "disabled")


def build_subscription(
    *,
    sub_id: str,
    customer_id: str,
    order_id: str,
    offer_id: str,
    offer_name: str,
    product: ProductDef | None,
    duration: str,
    cycle: str,
    quantity: int,
    created: dt.datetime,
    status: str,
    auto_renew: bool,
    currency: str,
    unit_price: Decimal,
    parent_id: str | None = None,
    friendly_name: str | None = None,
    legacy: bool = False,
) -> dict[str, Any]:
    start = created.date()
    end = terms.term_end(start, duration)
    return {
        "id": sub_id,
        "entitlementId": sub_id.replace("-", "")[::-1][:32],
        "offerId": offer_id,
        "offerName": offer_name,
        "friendlyName": friendly_name or offer_name,
        "productType": {"id": "OnlineServices", "displayName": "OnlineServices"},
        "quantity": quantity,
        "unitType": "Add-On Licenses" if product is not None and product.is_addon else "Licenses",
        "parentSubscriptionId": parent_id,
        "hasPurchasableAddons": product is not None
        and any(f"{product.id}:0001" in addon.prerequisites for addon in ADDON_PRODUCTS),
        "creationDate": iso(created),
        "effectiveStartDate": start.isoformat() + "T00:00:00Z",
        "status": status,
        "autoRenewEnabled": auto_renew,
        "isTrial": False,
        "billingType": "license",
        "billingCycle": cycle,
        "termDuration": duration,
        "renewalTermDuration": duration if duration != "P3Y" else "P1Y",
        "isMicrosoftProduct": True,
        "publisherName": "Microsoft Corporation",
        "partnerId": "",
        "contractType": "subscription",
        "attentionNeeded": False,
        "actionTaken": False,
        "suspensionReasons": [],
        "orderId": order_id,
        "currency": currency,
        "_sandbox": {
            "productId": product.id if product else None,
            "legacy": legacy,
            "termStart": created.timestamp(),
            "termEnd": end.isoformat(),
            "lots": [{"quantity": quantity, "at": created.timestamp()}],
            # End of the last billing cycle already charged (the purchase charges the first).
            "chargedUntil": min(
                terms.add_months(start, terms.CYCLE_MONTHS.get(cycle, 1)) - dt.timedelta(days=1),
                end,
            ).isoformat(),
            "version": 1,
            "unitPrice": str(unit_price),
            "customerId": customer_id,
        },
    }


def etag_of(sub: dict[str, Any]) -> str:
    raw = dumps({"id": sub["id"], "version": sub["_sandbox"]["version"]}).encode()
    return base64.b64encode(raw).decode()


def refundable(sub: dict[str, Any], now: float) -> list[dict[str, Any]]:
    window = terms.CANCEL_WINDOW.total_seconds()
    if sub["_sandbox"]["legacy"]:
        return []
    return [
        lot for lot in sub["_sandbox"]["lots"] if lot["at"] + window > now and lot["quantity"] > 0
    ]


def render(sub: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    internal = sub["_sandbox"]
    out = {k: v for k, v in sub.items() if k not in ("_sandbox", "currency")}
    cid = internal["customerId"]
    ts = now.timestamp()
    if sub["status"] == "pending":
        # Partner Center fills commitment dates once provisioning finished; clients must
        # refresh later rather than trust a pending subscription's dates.
        out.update(
            {
                "commitmentEndDate": PLACEHOLDER_DATE,
                "commitmentEndDateTime": PLACEHOLDER_DATE,
                "cancellationAllowedUntilDate": PLACEHOLDER_DATE,
                "billingCycleEndDate": PLACEHOLDER_DATE,
            }
        )
    else:
        start = dt.datetime.fromtimestamp(internal["termStart"], dt.UTC)
        cycle_end = terms.cycle_end(start.date(), sub["billingCycle"], now.date())
        out.update(
            {
                "commitmentEndDate": internal["termEnd"] + "T00:00:00Z",
                "commitmentEndDateTime": internal["termEnd"] + "T23:59:59Z",
                "billingCycleEndDate": cycle_end.isoformat() + "T00:00:00Z",
                "billingCycleEndDateTime": cycle_end.isoformat() + "T23:59:59Z",
            }
        )
        if not internal["legacy"]:
            out["cancellationAllowedUntilDate"] = iso(start + terms.CANCEL_WINDOW)
            options = []
            if ts < (start + terms.FULL_REFUND_WINDOW).timestamp():
                options.append({"type": "Full", "expiresAt": iso(start + terms.FULL_REFUND_WINDOW)})
            if ts < (start + terms.CANCEL_WINDOW).timestamp():
                options.append({"type": "Partial", "expiresAt": iso(start + terms.CANCEL_WINDOW)})
            out["refundOptions"] = options
    lots = refundable(sub, ts)
    out["refundableQuantity"] = {
        "totalQuantity": sum(lot["quantity"] for lot in lots),
        "details": [
            {
                "quantity": lot["quantity"],
                "allowedUntilDateTime": iso(lot["at"] + terms.CANCEL_WINDOW.total_seconds()),
            }
            for lot in lots
        ],
    }
    out["actions"] = [] if sub["status"] == "deleted" else ["Cancel", "Edit"] if lots else ["Edit"]
    base = f"/customers/{cid}/subscriptions/{sub['id']}"
    parts = sub["offerId"].split(":")
    links: dict[str, Any] = {"self": link(base)}
    if len(parts) == 3:
        links.update(
            {
                "product": link(f"/products/{parts[0]}"),
                "sku": link(f"/products/{parts[0]}/skus/{parts[1]}"),
                "availability": link(
                    f"/products/{parts[0]}/skus/{parts[1]}/availabilities/{parts[2]}"
                ),
            }
        )
    else:
        links["offer"] = link(f"/offers/{sub['offerId']}")
    if sub.get("parentSubscriptionId"):
        links["parentSubscription"] = link(
            f"/customers/{cid}/subscriptions/{sub['parentSubscriptionId']}"
        )
    out["links"] = links
    out["attributes"] = {"etag": etag_of(sub), "objectType": "Subscription"}
    return out


def first_cycle_end(sub: dict[str, Any]) -> dt.date:
    start = dt.datetime.fromtimestamp(sub["_sandbox"]["termStart"], dt.UTC).date()
    months = terms.CYCLE_MONTHS.get(sub["billingCycle"], 1)
    end = terms.add_months(start, months) - dt.timedelta(days=1)
    return min(end, dt.date.fromisoformat(sub["_sandbox"]["termEnd"]))


def settle_terms(sandbox: Sandbox, customer: dict[str, Any]) -> None:
    """Apply what the sandbox clock has passed for one customer's subscriptions (a few rows):
    billing-cycle starts (``cycleCharge`` lines) and term ends.

    NCE: at the end of the term an auto-renewing subscription renews (new term from the next
    day, a new 168-hour window, a ``renew`` charge); one without auto-renew becomes ``expired``;
    a suspended one becomes ``disabled`` (reference §6.2 lifecycle). Suspended subscriptions
    are still billed.
    """
    today = sandbox.clock.now().date()
    # Filter on ``due`` in Python: the customer index must drive this query (a few rows), not
    # the ``due`` index (every due subscription of the world).
    rows = sandbox.store.all(
        "SELECT data, due FROM subscriptions "
        "WHERE customer_id = ? AND status IN ('active', 'suspended')",
        (customer["id"],),
    )
    due = [data for data, day in rows if day < today.isoformat()]
    if not due:
        return
    with sandbox.store.tx():
        for data in due:
            _settle(sandbox, customer, loads(data), today)


def settle_all(sandbox: Sandbox) -> None:
    """The same for every customer, at most once per sandbox day: run before billing reads so
    invoices include the cycle charges and renewals of customers nobody looked at."""
    today = sandbox.clock.now().date().isoformat()
    if sandbox.store.get_meta("settled_day") == today:
        return
    customers: dict[str, dict[str, Any]] = {}
    with sandbox.store.tx():
        for customer_id, data in sandbox.store.all(
            "SELECT customer_id, data FROM subscriptions "
            "WHERE status IN ('active', 'suspended') AND due < ?",
            (today,),
        ):
            if customer_id not in customers:
                customers[customer_id] = load_customer(sandbox, customer_id)
            _settle(sandbox, customers[customer_id], loads(data), dt.date.fromisoformat(today))
        sandbox.store.set_meta("settled_day", today)


def _settle(
    sandbox: Sandbox, customer: dict[str, Any], sub: dict[str, Any], today: dt.date
) -> None:
    internal = sub["_sandbox"]
    product = PRODUCTS_BY_ID.get(internal["productId"] or "")
    changed = renewed = False
    effective = today
    while True:
        term_end = dt.date.fromisoformat(internal["termEnd"])
        charged = dt.date.fromisoformat(
            internal.get("chargedUntil") or first_cycle_end(sub).isoformat()
        )
        if charged < term_end and charged < today:
            start = charged + dt.timedelta(days=1)
            months = terms.CYCLE_MONTHS.get(sub["billingCycle"], 1)
            end = min(terms.add_months(start, months) - dt.timedelta(days=1), term_end)
            _charge(sandbox, customer, sub, product, "cycleCharge", start, end)
            internal["chargedUntil"] = end.isoformat()
            changed = True
            continue
        if term_end < today and sub["status"] in ("active", "suspended"):
            changed = renewed = True
            effective = term_end + dt.timedelta(days=1)
            if sub["status"] == "suspended":
                sub["status"] = "disabled"
                break
            if not sub["autoRenewEnabled"] or internal["legacy"]:
                sub["status"] = "expired"
                break
            _renew(sandbox, customer, sub, product, term_end + dt.timedelta(days=1))
            continue
        break
    if not changed:
        save(sandbox, sub)  # only a stale ``due`` (store built before the column existed)
        return
    internal["version"] += 1
    save(sandbox, sub)
    if renewed:
        audit.record(
            sandbox,
            operation="update_subscription",
            resource_type="subscription",
            customer=customer,
            actor="FulfillmentService",
            application_id="FulfillmentService",
            new=render(sub, sandbox.clock.now()),
            customized={"SubscriptionId": sub["id"], "Status": sub["status"]},
            # Dated when the term ended, as Partner Center dates it, not when the sandbox
            # happened to settle it: settled while a discovery ran, a record dated then would
            # name a change that run already read (the audit listing settles first, so no
            # listing misses it).
            when=dt.datetime(effective.year, effective.month, effective.day, tzinfo=dt.UTC),
        )


def _renew(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    product: ProductDef | None,
    start: dt.date,
) -> None:
    internal = sub["_sandbox"]
    start_at = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    duration = sub.get("renewalTermDuration") or sub["termDuration"]
    cycle = sub["billingCycle"]
    scheduled = sub.pop("scheduledNextTermInstructions", None)
    if scheduled:
        duration = scheduled["product"]["termDuration"]
        cycle = scheduled["product"]["billingCycle"]
        sub["quantity"] = scheduled["quantity"]
    if not terms.valid_term(duration, cycle):
        cycle = "annual" if duration != "P1M" else "monthly"
    if product is not None:
        unit, _erp = terms.term_price(product.monthly_erp_usd, duration, cycle, sub["currency"])
        internal["unitPrice"] = str(unit)
    sub.update(
        {
            "termDuration": duration,
            "billingCycle": cycle,
            "renewalTermDuration": duration if duration != "P3Y" else "P1Y",
        }
    )
    internal.update(
        {
            "termStart": start_at.timestamp(),
            "termEnd": terms.term_end(start, duration).isoformat(),
            "lots": [{"quantity": sub["quantity"], "at": start_at.timestamp()}],
        }
    )
    internal["chargedUntil"] = first_cycle_end(sub).isoformat()
    _charge(sandbox, customer, sub, product, "renew", start, first_cycle_end(sub))


def _charge(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    product: ProductDef | None,
    charge_type: str,
    start: dt.date,
    end: dt.date,
) -> None:
    unit_price = Decimal(sub["_sandbox"]["unitPrice"])
    when = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    line = billing.charge_line(
        sandbox,
        customer=customer,
        subscription=sub,
        product=product,
        charge_type=charge_type,
        quantity=sub["quantity"],
        unit_price=unit_price,
        effective_unit_price=unit_price,
        charge_start=start,
        charge_end=end,
        when=when,
        reference_id=sandbox.new_id(),
    )
    billing.add_lines(sandbox, customer["id"], when, [line])


def _load(sandbox: Sandbox, customer_id: str, sub_id: str) -> dict[str, Any]:
    doc = sandbox.store.doc(
        (
            "SELECT data FROM subscriptions WHERE id = ? COLLATE NOCASE AND customer_id = ? AND "
            "visible_at <= ?"
        ),
        (sub_id, customer_id, sandbox.clock.timestamp()),
    )
    if doc is None:
        raise PCError(404, 20003, f"Subscription {sub_id} was not found.", [sub_id])
    return doc


def due_of(sub: dict[str, Any]) -> str:
    """The last day before the next billing event (cycle start or term end): the clock passing
    it means the subscription needs settling. Kept in an indexed column so settling a big world
    only reads the subscriptions that are due."""
    internal = sub["_sandbox"]
    charged = internal.get("chargedUntil") or first_cycle_end(sub).isoformat()
    return min(charged, internal["termEnd"])


def save(sandbox: Sandbox, sub: dict[str, Any]) -> None:
    sandbox.store.run(
        "UPDATE subscriptions SET status = ?, data = ?, due = ? WHERE id = ?",
        (sub["status"], dumps(sub), due_of(sub), sub["id"]),
    )


async def list_subscriptions(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    settle_terms(sandbox, customer)
    params = {k.lower(): v for k, v in request.query_params.items()}
    sql = "SELECT data FROM subscriptions WHERE customer_id = ? AND visible_at <= ?"
    args: list[Any] = [customer["id"], sandbox.clock.timestamp()]
    self_uri = f"/customers/{customer['id']}/subscriptions"
    if params.get("order_id"):
        sql += " AND order_id = ? COLLATE NOCASE"
        args.append(params["order_id"])
        self_uri += f"?order_id={params['order_id']}"
    now = sandbox.clock.now()
    items = [render(doc, now) for doc in sandbox.store.docs(sql + " ORDER BY seq", args)]
    return json_response(collection(items, self_uri))


async def get_subscription(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    settle_terms(sandbox, customer)
    sub = _load(sandbox, customer["id"], request.path_params["subscription_id"])
    return json_response(render(sub, sandbox.clock.now()))


async def list_addons(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    settle_terms(sandbox, customer)
    sub = _load(sandbox, customer["id"], request.path_params["subscription_id"])
    docs = sandbox.store.docs(
        "SELECT data FROM subscriptions WHERE parent_id = ? AND visible_at <= ? ORDER BY seq",
        (sub["id"], sandbox.clock.timestamp()),
    )
    now = sandbox.clock.now()
    return json_response(
        collection(
            [render(d, now) for d in docs],
            f"/customers/{customer['id']}/subscriptions/{sub['id']}/addons",
        )
    )


async def provisioning_status(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    advance(sandbox)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    settle_terms(sandbox, customer)
    sub = _load(sandbox, customer["id"], request.path_params["subscription_id"])
    product = PRODUCTS_BY_ID.get(sub["_sandbox"]["productId"] or "")
    body = {
        "skuId": product.sku_guid if product else sub["offerId"],
        "status": "pending"
        if sub["status"] == "pending"
        or sub["_sandbox"].get("seatsSettleAt", 0) > sandbox.clock.timestamp()
        else "success",
        "quantity": sub["quantity"],
        "endDate": sub["_sandbox"]["termEnd"] + "T00:00:00Z",
        "attributes": {"objectType": "SubscriptionProvisioningStatus"},
    }
    return json_response(body)


async def patch_subscription(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request)
    body = await read_body(request)
    advance(sandbox)
    with sandbox.store.tx():
        customer = load_customer(sandbox, request.path_params["customer_id"])
        settle_terms(sandbox, customer)
        sub = _load(sandbox, customer["id"], request.path_params["subscription_id"])
        updated = apply_patch(
            sandbox,
            customer,
            sub,
            body,
            request.headers.get("If-Match"),
            principal,
            request.headers.get("MS-CorrelationId"),
        )
    if sandbox.faults.accepted():
        # Slow updates answer 202 + Location: the client polls the subscription (reference §1.8).
        location = f"/customers/{customer['id']}/subscriptions/{updated['id']}"
        return Response(status_code=202, headers={"Location": location})
    return json_response(render(updated, sandbox.clock.now()))


def apply_patch(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    body: CI,
    if_match: str | None,
    principal: Principal,
    correlation_id: str | None,
) -> dict[str, Any]:
    """PATCH a subscription as Partner Center does: check the request against the subscription's
    state, then cancel, suspend, reactivate, or change seats and settings, charge for it, and
    record it in the audit log."""
    now = sandbox.clock.now()
    new_status, new_quantity = _check_patch(sandbox, sub, body, if_match, now.timestamp())
    product = PRODUCTS_BY_ID.get(sub["_sandbox"]["productId"] or "")
    old = render(sub, now)
    period = _current_period(sandbox, sub, now)
    lines: list[dict[str, Any]] = []
    if new_status == "deleted":
        lines = _cancel(sandbox, customer, sub, product, period, now)
    elif new_status == "suspended" and sub["status"] == "active":
        sub["status"] = "suspended"
        sub["suspensionReasons"] = ["PartnerInitiated"]
    elif new_status == "active" and sub["status"] == "suspended":
        sub["status"] = "active"
        sub["suspensionReasons"] = []
    else:
        lines = _change_seats(sandbox, customer, sub, product, new_quantity, period, now)
        _change_settings(sub, body, product, quantity_changed=bool(lines))
    _save_patched(sandbox, customer, sub, lines, now)
    audit.record(
        sandbox,
        operation="update_subscription",
        resource_type="subscription",
        customer=customer,
        actor=principal.display,
        application_id=principal.client_id,
        old=old,
        new=render(sub, now),
        correlation_id=correlation_id,
        customized={
            "SubscriptionId": sub["id"],
            "Quantity": str(sub["quantity"]),
            "Status": sub["status"],
        },
    )
    return sub


def _check_patch(
    sandbox: Sandbox, sub: dict[str, Any], body: CI, if_match: str | None, ts: float
) -> tuple[str, int]:
    """The status and quantity asked for, once the request is one Partner Center accepts for
    the subscription as it stands (its etag, its state, what a PATCH may change)."""
    internal = sub["_sandbox"]
    current_etag = etag_of(sub)
    given = (
        ((body.get("attributes") or {}).get("etag"))
        if isinstance(body.get("attributes"), dict)
        else None
    )
    for candidate in (given, (if_match or "").strip().strip('"') or None):
        if candidate is not None and candidate != current_etag:
            raise PCError(400, 2055, "Etag is no longer valid.")
    if sub["status"] == "deleted":
        raise PCError(400, 2011, "Subscription in deleted state can't be updated.")
    if sub["status"] in ("expired", "disabled"):
        raise PCError(400, 800096, f"Subscription in {sub['status']} state can't be changed.")
    if sub["status"] == "pending" or ts < internal.get("patchableAt", 0):
        raise PCError(
            409, 800082, "Subscription is not ready to be updated. Try again after sometime."
        )
    if (
        body.get("billingCycle") is not None
        and str(body.get("billingCycle")).lower() != sub["billingCycle"]
    ):
        raise PCError(400, 2054, "Billing cycle can be changed only via PATCH order.")
    if (
        body.get("termDuration") is not None
        and str(body.get("termDuration")).upper() != sub["termDuration"]
    ):
        raise PCError(400, 900277, "Term duration can't be changed on an existing subscription.")
    new_status = str(body.get("status") or sub["status"]).lower()
    if new_status not in STATUSES or new_status in ("pending", "expired", "disabled"):
        raise PCError(400, 3000, f"Status {body.get('status')} is not a valid target status.")
    new_quantity = body.get("quantity", sub["quantity"])
    try:
        new_quantity = int(new_quantity)
    except (TypeError, ValueError) as exc:
        raise PCError(400, 3000, "quantity must be an integer.") from exc
    if sub["status"] == "suspended" and new_status == "suspended":
        raise PCError(400, 800091, "The subscription is suspended; only reactivation is allowed.")
    if new_status == "suspended" and new_quantity != sub["quantity"]:
        raise PCError(400, 2001, "Quantity can't be changed while suspending a subscription.")
    if sub["status"] == "suspended" and new_status == "active" and new_quantity != sub["quantity"]:
        raise PCError(400, 800091, "Reactivate the subscription before changing its quantity.")
    return new_status, new_quantity


@dataclass(frozen=True)
class _Period:
    """The billing cycle a change falls in, and what a seat costs for the rest of it."""

    unit: Decimal
    start: dt.datetime  # the term's start
    cycle_end: dt.date
    prorated: Decimal  # the unit price for the days left in the cycle
    reference: str  # the charge lines' reference id, shared by the lines of one change


def _current_period(sandbox: Sandbox, sub: dict[str, Any], now: dt.datetime) -> _Period:
    internal = sub["_sandbox"]
    unit = Decimal(internal["unitPrice"])
    start = dt.datetime.fromtimestamp(internal["termStart"], dt.UTC)
    cycle_end = terms.cycle_end(start.date(), sub["billingCycle"], now.date())
    cycle_start = terms.add_months(
        cycle_end + dt.timedelta(days=1), -terms.CYCLE_MONTHS.get(sub["billingCycle"], 1)
    )
    cycle_days = max((cycle_end - cycle_start).days + 1, 1)
    remaining = max((cycle_end - now.date()).days + 1, 0)
    prorated = terms.money(unit / cycle_days * remaining)
    return _Period(unit, start, cycle_end, prorated, sandbox.new_id())


def _patch_line(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    product: ProductDef | None,
    period: _Period,
    now: dt.datetime,
    **line: Any,
) -> dict[str, Any]:
    return billing.charge_line(
        sandbox,
        customer=customer,
        subscription=sub,
        product=product,
        unit_price=period.unit,
        charge_start=now.date(),
        charge_end=period.cycle_end,
        when=now,
        reference_id=period.reference,
        **line,
    )


def _cancel(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    product: ProductDef | None,
    period: _Period,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Cancel inside the 168-hour window (a full refund in its first hours, pro rata after),
    taking the add-ons along; the refund's charge line."""
    ts = now.timestamp()
    if not sub["_sandbox"]["legacy"] and ts >= (period.start + terms.CANCEL_WINDOW).timestamp():
        raise PCError(
            400,
            900213,
            (
                "Cancellation is not allowed: the subscription passed the 168-hour "
                "cancellation window."
            ),
        )
    full = ts < (period.start + terms.FULL_REFUND_WINDOW).timestamp()
    refund = _patch_line(
        sandbox, customer, sub, product, period, now,
        charge_type="cancelImmediate", quantity=sub["quantity"],
        effective_unit_price=period.unit if full else period.prorated, sign=-1,
    )  # fmt: skip
    sub["status"] = "deleted"
    sub["autoRenewEnabled"] = False
    sub["suspensionReasons"] = ["CustomerCancellation"]
    # Add-ons go with their base subscription.
    for child in sandbox.store.docs(
        "SELECT data FROM subscriptions WHERE parent_id = ? AND status != 'deleted'",
        (sub["id"],),
    ):
        child["status"] = "deleted"
        child["_sandbox"]["version"] += 1
        save(sandbox, child)
    return [refund]


def _check_new_quantity(sandbox: Sandbox, product: ProductDef | None, new_quantity: int) -> None:
    if product is not None and not (
        product.minimum_quantity <= new_quantity <= product.maximum_quantity
    ):
        raise PCError(
            400,
            2002,
            (
                f"Quantity must be between {product.minimum_quantity} and "
                f"{product.maximum_quantity}."
            ),
            [str(product.minimum_quantity), str(product.maximum_quantity)],
        )
    if new_quantity < 1:
        raise PCError(400, 2002, "Quantity must be at least 1.")
    quota = sandbox.faults.quota_licenses_per_subscription
    if sandbox.faults.sandbox_quotas and new_quantity > quota:
        raise PCError(400, 800018, f"The sandbox allows at most {quota} licences per subscription.")


def _remove_refundable_seats(sub: dict[str, Any], count: int, ts: float) -> None:
    """Take `count` seats off the lots still inside their 168-hour window, newest first
    (legacy subscriptions may shrink to one seat at any time)."""
    internal = sub["_sandbox"]
    reducible = (
        sum(lot["quantity"] for lot in refundable(sub, ts))
        if not internal["legacy"]
        else sub["quantity"] - 1
    )
    if count > reducible:
        raise PCError(
            400,
            800090,
            (
                f"Quantity can't be decreased below {sub['quantity'] - reducible}: only "
                "seats added in the last 168 hours can be removed."
            ),
            [str(sub["quantity"] - reducible)],
        )
    for lot in sorted(refundable(sub, ts), key=lambda lot: -lot["at"]):
        take = min(lot["quantity"], count)
        lot["quantity"] -= take
        count -= take
        if not count:
            break
    internal["lots"] = [lot for lot in internal["lots"] if lot["quantity"] > 0] or internal["lots"][
        :1
    ]


def _change_seats(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    product: ProductDef | None,
    new_quantity: int,
    period: _Period,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Set the seat count: a new lot for added seats, refundable lots shrunk for removed ones;
    the charge lines (the old quantity credited, the new one charged, for the rest of the
    cycle)."""
    _check_new_quantity(sandbox, product, new_quantity)
    delta = new_quantity - sub["quantity"]
    if delta < 0:
        _remove_refundable_seats(sub, -delta, now.timestamp())
    elif delta > 0:
        sub["_sandbox"]["lots"].append({"quantity": delta, "at": now.timestamp()})
    if not delta:
        return []
    kind = "addQuantity" if delta > 0 else "removeQuantity"
    lines = [
        _patch_line(
            sandbox, customer, sub, product, period, now, charge_type=kind,
            quantity=sub["quantity"], effective_unit_price=period.prorated, sign=-1,
        ),
        _patch_line(
            sandbox, customer, sub, product, period, now, charge_type=kind,
            quantity=new_quantity, effective_unit_price=period.prorated,
        ),
    ]  # fmt: skip
    sub["quantity"] = new_quantity
    return lines


def _change_settings(
    sub: dict[str, Any], body: CI, product: ProductDef | None, *, quantity_changed: bool
) -> None:
    """The friendly name, auto-renew and the instructions for the next term."""
    if body.get("friendlyName") is not None:
        sub["friendlyName"] = str(body.get("friendlyName"))[:255]
    if body.get("autoRenewEnabled") is not None:
        sub["autoRenewEnabled"] = bool(body.get("autoRenewEnabled"))
    _schedule_next_term(sub, body, product, quantity_changed=quantity_changed)


def _save_patched(
    sandbox: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any],
    lines: list[dict[str, Any]],
    now: dt.datetime,
) -> None:
    internal = sub["_sandbox"]
    if lines:
        # Seat changes take a while to reach the licensing system (provisioningstatus pending).
        internal["seatsSettleAt"] = now.timestamp() + sandbox.faults.provisioning_delay_s
    internal["version"] += 1
    save(sandbox, sub)
    if lines:
        billing.add_lines(sandbox, customer["id"], now, lines)


def _instructions_key(value: Any) -> tuple[Any, ...] | None:
    """Instructions compared by meaning, whatever the casing of their keys."""
    if not isinstance(value, dict):
        return None
    value = CI(value)
    product = value.get("product") if isinstance(value.get("product"), dict) else CI({})
    return (
        product.get("productId"),
        product.get("skuId"),
        str(product.get("termDuration") or "").upper(),
        str(product.get("billingCycle") or "").lower(),
        str(value.get("quantity")),
    )


def _schedule_next_term(
    sub: dict[str, Any], body: CI, product: ProductDef | None, *, quantity_changed: bool
) -> None:
    """Set, keep or delete the changes scheduled for renewal. The full-body PATCH sends back
    the instructions it read, so only a different value is a request to change them."""
    current = sub.get("scheduledNextTermInstructions")
    if "scheduledNextTermInstructions" not in body:
        wanted: Any = current
    else:
        wanted = body.get("scheduledNextTermInstructions")
    unchanged = _instructions_key(wanted) == _instructions_key(current)
    if quantity_changed or not sub["autoRenewEnabled"]:
        # A mid-term quantity change deletes the scheduled changes (documented); so does
        # turning auto-renew off, since nothing renews.
        if not unchanged and wanted is not None:
            raise PCError(
                400,
                3000,
                "Changes at renewal need auto-renew on and no quantity change in the same request.",
            )
        sub.pop("scheduledNextTermInstructions", None)
        return
    if unchanged:
        return
    if wanted is None:
        sub.pop("scheduledNextTermInstructions", None)
        return
    if sub["_sandbox"]["legacy"] or product is None:
        raise PCError(400, 3000, "Changes at renewal exist for new commerce subscriptions only.")
    if not isinstance(wanted, dict) or not isinstance(wanted.get("product"), dict):
        raise PCError(400, 3000, "scheduledNextTermInstructions needs a product and a quantity.")
    wanted_product = wanted["product"]
    product_id, sku_id, availability_id = sub["offerId"].split(":")
    if (wanted_product.get("productId"), wanted_product.get("skuId")) != (product_id, sku_id):
        raise PCError(400, 3000, "Changes at renewal keep the subscription's product and SKU.")
    duration = str(wanted_product.get("termDuration") or "").upper()
    cycle = str(wanted_product.get("billingCycle") or "").lower()
    if (duration, cycle) not in product_terms(product):
        raise PCError(
            400, 3000, f"{product.title} is not sold for {duration} billed {cycle or 'never'}."
        )
    try:
        quantity = int(wanted.get("quantity"))
    except (TypeError, ValueError) as exc:
        raise PCError(400, 3000, "quantity must be an integer.") from exc
    if not product.minimum_quantity <= quantity <= product.maximum_quantity:
        raise PCError(
            400,
            2002,
            f"Quantity must be between {product.minimum_quantity} and {product.maximum_quantity}.",
            [str(product.minimum_quantity), str(product.maximum_quantity)],
        )
    sub["scheduledNextTermInstructions"] = {
        "product": {
            "productId": product_id,
            "skuId": sku_id,
            "availabilityId": str(wanted_product.get("availabilityId") or availability_id),
            "billingCycle": cycle,
            "termDuration": duration,
        },
        "quantity": quantity,
    }


def routes() -> list[Route]:
    base = "/v1/customers/{customer_id}/subscriptions"
    return [
        Route(base, list_subscriptions, methods=["GET"]),
        Route(base + "/{subscription_id}", get_subscription, methods=["GET"]),
        Route(base + "/{subscription_id}", patch_subscription, methods=["PATCH"]),
        Route(base + "/{subscription_id}/addons", list_addons, methods=["GET"]),
        Route(base + "/{subscription_id}/provisioningstatus", provisioning_status, methods=["GET"]),
    ]
