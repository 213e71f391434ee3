"""Invoices and reconciliation line items (reference §8), derived from subscription events.

Every purchase, seat change and cancellation writes OneTimeInvoiceLineItem rows (modern/NCE recon:
numbers as STRINGS, ``billingProvider: one_time``). Lines of a calendar month stay unbilled
(``invoiceNumber: ""``) until the 6th of the next month, when a ``G...`` invoice per currency is
issued lazily on the next billing call. Invoices page by offset, line items by seek (max 2000).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import terms
from .catalog_data import ProductDef
from .state import Sandbox
from .store import Store, dumps, iso, loads
from .web import (
    PCError,
    authenticate,
    collection,
    json_response,
    link,
    offset_params,
    sandbox_of,
    seek_next,
    seek_state,
)

INVOICE_DAY = 6


def _period_of(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m")


def charge_line(
    sandbox: Sandbox,
    *,
    customer: dict[str, Any],
    subscription: dict[str, Any],
    product: ProductDef | None,
    charge_type: str,
    quantity: int,
    unit_price: Decimal,
    effective_unit_price: Decimal,
    charge_start: dt.date,
    charge_end: dt.date,
    when: dt.datetime,
    reference_id: str,
    sign: int = 1,
) -> dict[str, Any]:
    """Build one OneTimeInvoiceLineItem (every value a string, as in recon downloads)."""
    currency = subscription.get("currency") or subscription.get("_sandbox", {}).get(
        "currency", "USD"
    )
    subtotal = terms.money(effective_unit_price * quantity) * sign
    address = customer["billingProfile"]["defaultAddress"]
    offer = subscription["offerId"].split(":")
    return {
        "partnerId": sandbox.identity.partner_tenant_id,
        "customerId": customer["id"],
        "customerName": customer["companyProfile"]["companyName"],
        "customerDomainName": customer["companyProfile"]["domain"],
        "customerCountry": address.get("country", ""),
        "invoiceNumber": "",
        "mpnId": "1234567",
        "resellerMpnId": "",
        "orderId": subscription["orderId"],
        "orderDate": iso(when),
        "productId": offer[0],
        "skuId": offer[1] if len(offer) > 1 else "",
        "availabilityId": offer[2] if len(offer) > 2 else "",
        "productName": subscription["offerName"],
        "skuName": subscription["offerName"],
        "productQualifiers": ["AddOn"] if product is not None and product.is_addon else [],
        "chargeType": charge_type,
        "unitPrice": str(unit_price),
        "effectiveUnitPrice": str(effective_unit_price),
        "unitType": "Licenses",
        "quantity": str(quantity),
        "subtotal": str(subtotal),
        "taxTotal": "0",
        "totalForCustomer": str(subtotal),
        "currency": currency,
        "publisherName": "Microsoft",
        "publisherId": "",
        "subscriptionDescription": subscription.get("friendlyName") or subscription["offerName"],
        "subscriptionId": subscription["id"],
        "subscriptionStartDate": subscription["effectiveStartDate"][:10] + "T00:00:00Z",
        "subscriptionEndDate": subscription["_sandbox"]["termEnd"] + "T00:00:00Z",
        "chargeStartDate": charge_start.isoformat() + "T00:00:00Z",
        "chargeEndDate": charge_end.isoformat() + "T00:00:00Z",
        "termAndBillingCycle": terms.TERM_DESCRIPTIONS.get(
            (subscription["termDuration"], subscription["billingCycle"]), ""
        ),
        "alternateId": subscription["orderId"],
        "referenceId": reference_id,
        "priceAdjustmentDescription": "[]",
        "creditReasonCode": "",
        "pricingCurrency": currency,
        "pcToBCExchangeRate": "1",
        "pcToBCExchangeRateDate": iso(when)[:10] + "T00:00:00Z",
        "billableQuantity": str(quantity),
        "meterDescription": "",
        "billingFrequency": "Monthly" if subscription["billingCycle"] == "monthly" else "",
        "reservationOrderId": "",
        "invoiceLineItemType": "billing_line_items",
        "billingProvider": "one_time",
        "promotionId": "",
        "attributes": {"objectType": "OneTimeInvoiceLineItem"},
    }


def add_lines(
    sandbox: Sandbox, customer_id: str, when: dt.datetime, lines: list[dict[str, Any]]
) -> None:
    sandbox.store.conn.executemany(
        "INSERT INTO line_items (customer_id, period, currency, data) VALUES (?, ?, ?, ?)",
        [(customer_id, _period_of(when), line["currency"], dumps(line)) for line in lines],
    )


def close_periods(sandbox: Sandbox) -> None:
    """Issue invoices for calendar months whose invoice date (the 6th of the next month) passed,
    after charging the billing cycles and renewals the clock has passed."""
    from .subscriptions import settle_all

    settle_all(sandbox)
    close_periods_at(sandbox.store, sandbox.clock.now())


def close_periods_at(store: Store, now: dt.datetime) -> None:
    cutoff = (
        now.replace(day=1)
        if now.day >= INVOICE_DAY
        else (now.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    )
    last_closed = _period_of(cutoff - dt.timedelta(days=1))
    with store.tx():
        groups = store.all(
            (
                "SELECT period, currency, count(*) FROM line_items WHERE invoice_id = '' AND "
                "period <= ? GROUP BY period, currency"
            ),
            (last_closed,),
        )
        for period, currency, _count in groups:
            currency_index = {"USD": 1, "EUR": 2, "GBP": 3}.get(currency, 9)
            invoice_id = f"G{period.replace('-', '')}{currency_index:02d}"
            year, month = int(period[:4]), int(period[5:])
            start = dt.date(year, month, 1)
            end = terms.add_months(start, 1) - dt.timedelta(days=1)
            store.run(
                (
                    "UPDATE line_items SET invoice_id = ?, "
                    "data = json_set(data, '$.invoiceNumber', ?) "
                    "WHERE invoice_id = '' AND period = ? AND currency = ?"
                ),
                (invoice_id, invoice_id, period, currency),
            )
            total = Decimal("0")
            # Only the amount is read out of each document: a month can hold a million lines.
            for (amount,) in store.all(
                "SELECT json_extract(data, '$.totalForCustomer') FROM line_items "
                "WHERE invoice_id = ?",
                (invoice_id,),
            ):
                total += Decimal(str(amount))
            existing = store.doc("SELECT data FROM invoices WHERE id = ?", (invoice_id,))
            if existing:
                # Late lines of an invoiced month (the clock was moved back, say) amend it.
                existing["totalCharges"] = float(total)
                store.run(
                    "UPDATE invoices SET data = ? WHERE id = ?", (dumps(existing), invoice_id)
                )
                continue
            invoice = {
                "id": invoice_id,
                "invoiceDate": iso(
                    dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC)
                    + dt.timedelta(days=INVOICE_DAY)
                ),
                "billingPeriodStartDate": start.isoformat() + "T00:00:00Z",
                "billingPeriodEndDate": end.isoformat() + "T00:00:00Z",
                "totalCharges": float(total),
                "paidAmount": 0,
                "currencyCode": currency,
                "currencySymbol": terms.CURRENCIES.get(currency, ("$",))[0],
                "taxReceipts": [],
                "invoiceDetails": [
                    {
                        "invoiceLineItemType": "billing_line_items",
                        "billingProvider": "one_time",
                        "links": {
                            "self": link(
                                f"/invoices/OneTime-{invoice_id}/lineitems/OneTime/BillingLineItems"
                            )
                        },
                        "attributes": {"objectType": "InvoiceDetail"},
                    }
                ],
                "amendments": [],
                "documentType": "invoice",
                "invoiceType": "OneTime",
                "status": "Billed",
                "links": {"self": link(f"/invoices/{invoice_id}")},
                "attributes": {"objectType": "Invoice"},
            }
            store.run(
                "INSERT INTO invoices (id, period, currency, data) VALUES (?, ?, ?, ?)",
                (invoice_id, period, currency, dumps(invoice)),
            )


async def list_invoices(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    close_periods(sandbox)
    size, offset = offset_params(request, 200, 200)
    rows = sandbox.store.all(
        "SELECT data FROM invoices ORDER BY period DESC, seq LIMIT ? OFFSET ?", (size + 1, offset)
    )
    items = [loads(r[0]) for r in rows[:size]]
    next_link = link(f"/invoices?size={size}&offset={offset + size}") if len(rows) > size else None
    return json_response(
        collection(items, f"/invoices?size={size}&offset={offset}", next_link=next_link)
    )


def _invoice(sandbox: Sandbox, invoice_id: str) -> dict[str, Any]:
    close_periods(sandbox)
    invoice_id = invoice_id.removeprefix("OneTime-")
    doc = sandbox.store.doc("SELECT data FROM invoices WHERE id = ? COLLATE NOCASE", (invoice_id,))
    if doc is None:
        # The error code for an unknown invoice is not documented; 404 is what matters.
        raise PCError(404, 800002, f"Invoice {invoice_id} was not found.")
    return doc


async def get_invoice(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    doc = _invoice(sandbox, request.path_params["invoice_id"])
    doc["pdfDownloadLink"] = f"{sandbox.base_url}/v1/invoices/{doc['id']}/documents/statement"
    return json_response(doc)


async def invoice_statement(request: Request) -> Response:
    """The invoice's PDF (`pdfDownloadLink`): the invoice's figures and its customers' totals."""
    sandbox = sandbox_of(request)
    authenticate(request)
    doc = _invoice(sandbox, request.path_params["invoice_id"])
    return Response(
        statement_pdf(sandbox, doc),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{doc["id"]}.pdf"'},
    )


STATEMENT_CUSTOMERS = 200


def statement_pdf(sandbox: Sandbox, invoice: dict[str, Any]) -> bytes:
    from .documents import text_pdf

    totals: dict[str, Decimal] = {}
    for name, amount in sandbox.store.all(
        "SELECT json_extract(data, '$.customerName'), json_extract(data, '$.totalForCustomer') "
        "FROM line_items WHERE invoice_id = ?",
        (invoice["id"],),
    ):
        totals[name] = totals.get(name, Decimal(0)) + Decimal(str(amount))
    currency = invoice["currencyCode"]
    lines = [
        (sandbox.identity.partner_name, 14),
        (f"Invoice {invoice['id']}", 12),
        (f"Invoice date: {invoice['invoiceDate'][:10]}", 10),
        (
            f"Billing period: {invoice['billingPeriodStartDate'][:10]} to "
            f"{invoice['billingPeriodEndDate'][:10]}",
            10,
        ),
        (f"Total charges: {Decimal(str(invoice['totalCharges'])):.2f} {currency}", 10),
        (f"Paid: {Decimal(str(invoice['paidAmount'])):.2f} {currency}", 10),
        ("", 10),
        (f"Charges by customer ({len(totals)})", 12),
    ]
    for name in sorted(totals)[:STATEMENT_CUSTOMERS]:
        lines.append((f"{name}: {totals[name]:.2f} {currency}", 10))
    if len(totals) > STATEMENT_CUSTOMERS:
        lines.append((f"... and {len(totals) - STATEMENT_CUSTOMERS} more customers", 10))
    return text_pdf(lines, title=f"Invoice {invoice['id']}")


def _check_provider(request: Request) -> None:
    params = {k.lower(): v.lower() for k, v in request.query_params.items()}
    provider = request.path_params.get("provider", params.get("provider", "onetime")).lower()
    kind = request.path_params.get(
        "kind", params.get("invoicelineitemtype", "billinglineitems")
    ).lower()
    if provider not in ("onetime", "one_time"):
        raise PCError(400, 800002, "The sandbox only serves provider=onetime (modern) line items.")
    if kind not in ("billinglineitems", "billing_line_items"):
        raise PCError(400, 800002, "The sandbox only serves invoicelineitemtype=billinglineitems.")


def _line_page(request: Request, where: str, args: list[Any], base_uri: str) -> Response:
    sandbox = sandbox_of(request)
    state = seek_state(request, "lineitems", 2000, 2000)
    rows = sandbox.store.all(
        f"SELECT seq, data FROM line_items WHERE {where} AND seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
        [*args, state["after"], state["size"] + 1],
    )
    page, more = rows[: state["size"]], len(rows) > state["size"]
    items = [loads(r[1]) for r in page]
    token, next_link = (
        seek_next(f"{base_uri}&size={state['size']}", state, page[-1][0]) if more else (None, None)
    )
    return json_response(collection(items, base_uri, next_link=next_link, continuation_token=token))


async def invoice_line_items(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    _check_provider(request)
    invoice = _invoice(sandbox, request.path_params["invoice_id"])
    base = (
        f"/invoices/{invoice['id']}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
    )
    items = _line_page(request, "invoice_id = ?", [invoice["id"]], base)
    return items


async def unbilled_line_items(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request)
    _check_provider(request)
    params = {k.lower(): v for k, v in request.query_params.items()}
    close_periods(sandbox)
    currency = (params.get("currencycode") or "").upper()
    if not currency:
        raise PCError(400, 800002, "currencyCode is required for unbilled line items.")
    period = (params.get("period") or "current").lower()
    now = sandbox.clock.now()
    month = now if period == "current" else now.replace(day=1) - dt.timedelta(days=1)
    base = (
        "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
        f"&currencycode={currency}&period={period}"
    )
    return _line_page(
        request,
        "invoice_id = '' AND period = ? AND currency = ?",
        [_period_of(month), currency],
        base,
    )


def routes() -> list[Route]:
    return [
        Route("/v1/invoices", list_invoices, methods=["GET"]),
        Route("/v1/invoices/unbilled/lineitems", unbilled_line_items, methods=["GET"]),
        Route("/v1/invoices/{invoice_id}", get_invoice, methods=["GET"]),
        Route("/v1/invoices/{invoice_id}/documents/statement", invoice_statement, methods=["GET"]),
        Route("/v1/invoices/{invoice_id}/lineitems", invoice_line_items, methods=["GET"]),
        Route(
            "/v1/invoices/{invoice_id}/lineitems/{provider}/{kind}",
            invoice_line_items,
            methods=["GET"],
        ),
    ]
