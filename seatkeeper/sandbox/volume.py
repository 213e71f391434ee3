"""Load-test data (admin API): an invoice with as many reconciliation lines as a benchmark needs.

`POST /_sandbox/billing/synthesize` `{"period": "2026-10", "currency": "EUR", "lines": 1000000,
"customers": 5000, "seed": 1}` writes `lines` billed lines for a month that has ended, spread over
`customers` made-up customer tenants (10 subscriptions each), then issues the month's invoice
as the sandbox always does. The lines have the shape and arithmetic of real ones (quantity x
unit price = subtotal = total, exact decimals) but belong to no subscription of the world: this
is the one place where the sandbox makes billing data out of nothing, for volume only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import terms
from .billing import close_periods_at
from .catalog_data import BASE_PRODUCTS
from .state import Sandbox
from .store import dumps, iso
from .web import json_response

MAX_LINES = 5_000_000
BATCH = 20_000
SUBSCRIPTIONS_PER_CUSTOMER = 10


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def synthesize(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    period = str(body.get("period") or "")
    try:
        start = dt.date.fromisoformat(f"{period}-01")
    except ValueError:
        raise ValueError("period must be YYYY-MM") from None
    today = sandbox.clock.now().date()
    if start >= today.replace(day=1):
        raise ValueError("period must be a month that has ended")
    currency = str(body.get("currency") or "EUR").upper()
    if currency not in terms.CURRENCIES:
        raise ValueError(f"currency must be one of {', '.join(terms.CURRENCIES)}")
    count = int(body.get("lines", 1000))
    if not 1 <= count <= MAX_LINES:
        raise ValueError(f"lines must be between 1 and {MAX_LINES:,}")
    customer_count = max(1, min(int(body.get("customers", 100)), count))
    rng = random.Random(int(body.get("seed", 1)))
    end = terms.add_months(start, 1) - dt.timedelta(days=1)
    partner = sandbox.identity.partner_tenant_id
    customers = []
    for number in range(customer_count):
        tenant = _guid(rng)
        subscriptions = []
        for _ in range(SUBSCRIPTIONS_PER_CUSTOMER):
            product = rng.choice(BASE_PRODUCTS)
            subscriptions.append((_guid(rng), rng.getrandbits(48), product))
        customers.append((tenant, f"Volume Customer {number:05d}", subscriptions))
    when = dt.datetime(start.year, start.month, 1, 12, tzinfo=dt.UTC)
    charge_start, charge_end = f"{start.isoformat()}T00:00:00Z", f"{end.isoformat()}T00:00:00Z"
    # One-year terms that started six months before the billed month.
    first_day = terms.add_months(start, -6)
    term_start = f"{first_day.isoformat()}T00:00:00Z"
    term_end = f"{(terms.add_months(first_day, 12) - dt.timedelta(days=1)).isoformat()}T00:00:00Z"
    written = 0
    total = Decimal(0)
    rows: list[tuple[str, str, str, str]] = []
    with sandbox.store.tx():
        for index in range(count):
            tenant, name, subscriptions = customers[index % customer_count]
            subscription_id, order_number, product = subscriptions[
                (index // customer_count) % SUBSCRIPTIONS_PER_CUSTOMER
            ]
            quantity = 1 + (index * 7919) % 50
            unit = Decimal(rng.choice(("4.86", "10.80", "19.44", "32.40", "51.84")))
            amount = unit * quantity
            total += amount
            line = {
                "partnerId": partner,
                "customerId": tenant,
                "customerName": name,
                "customerDomainName": f"volume{index % customer_count:05d}.onmicrosoft.com",
                "customerCountry": "FR",
                "invoiceNumber": "",
                "mpnId": "1234567",
                "resellerMpnId": "",
                "orderId": f"{order_number:012x}",
                "orderDate": iso(when),
                "productId": product.id,
                "skuId": "0001",
                "availabilityId": product.availability_id,
                "productName": product.title,
                "skuName": product.title,
                "productQualifiers": [],
                "chargeType": "cycleCharge",
                "unitPrice": str(unit),
                "effectiveUnitPrice": str(unit),
                "unitType": "Licenses",
                "quantity": str(quantity),
                "subtotal": str(amount),
                "taxTotal": "0",
                "totalForCustomer": str(amount),
                "currency": currency,
                "publisherName": "Microsoft",
                "publisherId": "",
                "subscriptionDescription": product.title,
                "subscriptionId": subscription_id,
                "subscriptionStartDate": term_start,
                "subscriptionEndDate": term_end,
                "chargeStartDate": charge_start,
                "chargeEndDate": charge_end,
                "termAndBillingCycle": "One-Year commitment for monthly/yearly billing",
                "alternateId": f"{order_number:012x}",
                "referenceId": "",
                "priceAdjustmentDescription": "[]",
                "creditReasonCode": "",
                "pricingCurrency": currency,
                "pcToBCExchangeRate": "1",
                "pcToBCExchangeRateDate": charge_start,
                "billableQuantity": str(quantity),
                "meterDescription": "",
                "billingFrequency": "Monthly",
                "reservationOrderId": "",
                "invoiceLineItemType": "billing_line_items",
                "billingProvider": "one_time",
                "promotionId": "",
                "attributes": {"objectType": "OneTimeInvoiceLineItem"},
            }
            rows.append((tenant, period, currency, dumps(line)))
            if len(rows) >= BATCH:
                _flush(sandbox, rows)
                written += len(rows)
                rows.clear()
        _flush(sandbox, rows)
        written += len(rows)
        close_periods_at(sandbox.store, sandbox.clock.now())
    invoice = sandbox.store.one(
        "SELECT DISTINCT invoice_id FROM line_items WHERE period = ? AND currency = ? "
        "AND invoice_id != ''",
        (period, currency),
    )
    return {
        "invoiceId": invoice[0] if invoice else "",
        "lines": written,
        "customers": customer_count,
        "totalCharges": str(total),
        "currency": currency,
        "period": period,
    }


def _flush(sandbox: Sandbox, rows: list[tuple[str, str, str, str]]) -> None:
    if rows:
        sandbox.store.conn.executemany(
            "INSERT INTO line_items (customer_id, period, currency, data) VALUES (?, ?, ?, ?)",
            rows,
        )


async def synthesize_view(request: Request, sandbox: Sandbox) -> Response:
    body = await request.json() if (await request.body()).strip() else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    result = await asyncio.get_running_loop().run_in_executor(None, synthesize, sandbox, body)
    return json_response(result, 201)
