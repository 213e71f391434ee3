"""Partner Center JSON turned into the interface's dataclasses.

Protocol facts relied on: responses are camelCase (we still read keys case-insensitively at the
top level, since some samples are PascalCase); enums are lower-case strings; dates are ISO-8601
UTC with a variable number of fractional digits, sometimes with `+00:00`; reconciliation line
items send numbers as strings ("unitPrice": "16").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import UnexpectedResponse

Json = Mapping[str, Any]


def get(data: Json | None, *names: str, default: Any = None) -> Any:
    """First present key among `names`, matched case-insensitively."""
    if not data:
        return default
    for name in names:
        if name in data:
            return data[name]
    lowered = {key.lower(): value for key, value in data.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return default


def text(data: Json | None, *names: str) -> str:
    value = get(data, *names)
    return "" if value is None else str(value)


def optional_text(data: Json | None, *names: str) -> str | None:
    value = get(data, *names)
    return None if value in (None, "") else str(value)


def required_text(data: Json | None, name: str) -> str:
    value = get(data, name)
    if value in (None, ""):
        raise UnexpectedResponse(f"Partner Center object without {name!r}")
    return str(value)


def timestamp(value: Any) -> dt.datetime | None:
    """An aware UTC datetime. Python keeps microseconds; PC sends up to 7 fractional digits."""
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip())
    except ValueError as error:
        raise UnexpectedResponse(f"unreadable date {value!r}") from error
    if parsed.tzinfo is None:  # date-only values and a few naive samples are UTC
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def day(value: Any) -> dt.date | None:
    moment = timestamp(value)
    return None if moment is None else moment.date()


def decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    if isinstance(value, float):
        # JSON numbers come in as floats; go through their shortest repr, never binary value.
        value = repr(value)
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise UnexpectedResponse(f"unreadable number {value!r}") from error


def integer(value: Any, default: int = 0) -> int:
    if value in (None, ""):
        return default
    try:
        return int(Decimal(str(value)))
    except InvalidOperation as error:
        raise UnexpectedResponse(f"unreadable integer {value!r}") from error


def boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def billing_cycle(value: Any) -> i.BillingCycle:
    try:
        return i.BillingCycle(str(value or "unknown").lower())
    except ValueError:
        return i.BillingCycle.UNKNOWN


def subscription_status(value: Any) -> i.SubscriptionStatus:
    try:
        return i.SubscriptionStatus(str(value or "unknown").lower())
    except ValueError:
        return i.SubscriptionStatus.UNKNOWN


def order_status(value: Any) -> i.OrderStatus:
    raw = str(value or "unknown").lower()
    if raw in ("error", "partial success", "po review rejected"):
        return i.OrderStatus.FAILED
    try:
        return i.OrderStatus(raw)
    except ValueError:
        return i.OrderStatus.PENDING if raw.startswith("pending") else i.OrderStatus.UNKNOWN


# --- resources -----------------------------------------------------------------------------


def customer(data: Json) -> i.Customer:
    profile = get(data, "companyProfile") or {}
    return i.Customer(
        id=required_text(data, "id"),
        domain=text(profile, "domain"),
        company_name=text(profile, "companyName"),
        relationship=text(data, "relationshipToPartner"),
        associated_partner_id=optional_text(data, "associatedPartnerId"),
        commerce_id=optional_text(data, "commerceId"),
    )


def created_customer(data: Json) -> i.CreatedCustomer:
    credentials = get(data, "userCredentials") or {}
    return i.CreatedCustomer(
        customer=customer(data),
        admin_user_name=text(credentials, "userName"),
        admin_password=text(credentials, "password"),
    )


def product(data: Json) -> i.Product:
    product_type = get(data, "productType") or {}
    sub_type = get(product_type, "subType") or {}
    return i.Product(
        id=required_text(data, "id"),
        title=text(data, "title"),
        description=text(data, "description"),
        product_type=text(product_type, "id"),
        product_sub_type=text(sub_type, "id") if isinstance(sub_type, Mapping) else str(sub_type),
        publisher=text(data, "publisherName"),
    )


def sku(data: Json, *, product_id: str | None = None) -> i.Sku:
    dynamic = get(data, "dynamicAttributes") or {}
    maximum = get(data, "maximumQuantity")
    return i.Sku(
        id=required_text(data, "id"),
        product_id=text(data, "productId") or (product_id or ""),
        title=text(data, "title"),
        description=text(data, "description"),
        minimum_quantity=integer(get(data, "minimumQuantity"), default=1),
        maximum_quantity=None if maximum in (None, "") else integer(maximum),
        is_trial=boolean(get(data, "isTrial")),
        is_addon=boolean(get(dynamic, "isAddon")),
        prerequisite_skus=tuple(str(x) for x in get(dynamic, "prerequisiteSkus") or ()),
        supported_billing_cycles=tuple(
            billing_cycle(x) for x in get(data, "supportedBillingCycles") or ()
        ),
    )


def availability(data: Json) -> i.Availability:
    currency = get(data, "defaultCurrency") or {}
    product_id = text(data, "productId")
    sku_id = text(data, "skuId")
    availability_id = required_text(data, "id")
    return i.Availability(
        id=availability_id,
        product_id=product_id,
        sku_id=sku_id,
        catalog_item_id=text(data, "catalogItemId") or f"{product_id}:{sku_id}:{availability_id}",
        segment=text(data, "segment"),
        country=text(data, "country"),
        currency=text(currency, "code"),
        is_purchasable=boolean(get(data, "isPurchasable", default=True)),
        is_renewable=boolean(get(data, "isRenewable", default=True)),
        terms=tuple(term(t, currency=text(currency, "code")) for t in get(data, "terms") or ()),
    )


def term(data: Json, *, currency: str) -> i.Term:
    # Partner Center's own catalog has no prices (they live in the separate price-sheet API);
    # implementations of the protocol that add a `price` object per term (the sandbox does:
    # `{"unitPrice", "erpPrice", "currencyCode", "pricePer"}`) are read, per licence per cycle.
    price = get(data, "price")
    unit: Money | None = None
    retail: Money | None = None
    if isinstance(price, Mapping):
        price_currency = text(price, "currencyCode") or currency
        if get(price, "unitPrice") not in (None, "") and price_currency:
            unit = Money(decimal(get(price, "unitPrice")), price_currency)
        if get(price, "erpPrice") not in (None, "") and price_currency:
            retail = Money(decimal(get(price, "erpPrice")), price_currency)
    elif price not in (None, "") and currency:
        unit = Money(decimal(price), currency)
    return i.Term(
        duration=text(data, "duration"),
        billing_cycle=billing_cycle(get(data, "billingCycle")),
        description=text(data, "description"),
        price=unit,
        retail_price=retail,
    )


def order(data: Json, *, customer_id: str) -> i.Order:
    return i.Order(
        id=required_text(data, "id"),
        customer_id=text(data, "referenceCustomerId") or customer_id,
        status=order_status(get(data, "status")),
        billing_cycle=billing_cycle(get(data, "billingCycle")),
        currency=text(data, "currencyCode"),
        created_at=timestamp(get(data, "creationDate")),
        lines=tuple(order_line(line) for line in get(data, "lineItems") or ()),
    )


def order_line(data: Json) -> i.OrderLineItem:
    return i.OrderLineItem(
        line_number=integer(get(data, "lineItemNumber")),
        offer_id=text(data, "offerId"),
        quantity=integer(get(data, "quantity")),
        term_duration=text(data, "termDuration"),
        friendly_name=text(data, "friendlyName"),
        subscription_id=optional_text(data, "subscriptionId"),
        parent_subscription_id=optional_text(data, "parentSubscriptionId"),
    )


def subscription(data: Json, *, customer_id: str) -> i.Subscription:
    refundable = get(data, "refundableQuantity") or {}
    return i.Subscription(
        id=required_text(data, "id"),
        customer_id=customer_id,
        offer_id=text(data, "offerId"),
        offer_name=text(data, "offerName"),
        friendly_name=text(data, "friendlyName"),
        quantity=integer(get(data, "quantity")),
        status=subscription_status(get(data, "status")),
        billing_cycle=billing_cycle(get(data, "billingCycle")),
        term_duration=text(data, "termDuration"),
        unit_type=text(data, "unitType"),
        auto_renew=boolean(get(data, "autoRenewEnabled")),
        is_trial=boolean(get(data, "isTrial")),
        parent_subscription_id=optional_text(data, "parentSubscriptionId"),
        order_id=optional_text(data, "orderId"),
        partner_id=optional_text(data, "partnerId"),
        created_at=timestamp(get(data, "creationDate")),
        effective_start=timestamp(get(data, "effectiveStartDate")),
        commitment_end=day(get(data, "commitmentEndDate")),
        cancellation_allowed_until=timestamp(get(data, "cancellationAllowedUntilDate")),
        refundable_quantity=integer(get(refundable, "totalQuantity")),
        suspension_reasons=tuple(str(x) for x in get(data, "suspensionReasons") or ()),
        next_term=next_term(get(data, "scheduledNextTermInstructions")),
    )


def next_term(data: Any) -> i.NextTerm | None:
    """``scheduledNextTermInstructions``: ``{product: {productId, skuId, availabilityId,
    billingCycle, termDuration}, quantity}``, or null when nothing is scheduled."""
    if not isinstance(data, Mapping):
        return None
    product = get(data, "product") or {}
    return i.NextTerm(
        quantity=integer(get(data, "quantity")),
        term_duration=text(product, "termDuration"),
        billing_cycle=billing_cycle(get(product, "billingCycle")),
    )


def tenant_user(data: Json) -> i.TenantUser:
    state = text(data, "state").lower()
    return i.TenantUser(
        id=required_text(data, "id"),
        user_principal_name=text(data, "userPrincipalName"),
        display_name=text(data, "displayName"),
        first_name=text(data, "firstName"),
        last_name=text(data, "lastName"),
        usage_location=text(data, "usageLocation"),
        state=i.UserState.DELETED if state == "inactive" else i.UserState.ACTIVE,
        deleted_at=timestamp(get(data, "softDeletionTime")),
    )


def subscribed_sku(data: Json) -> i.SubscribedSku:
    product_sku = get(data, "productSku") or {}
    return i.SubscribedSku(
        sku_id=required_text(product_sku, "id"),
        sku_part_number=text(product_sku, "skuPartNumber"),
        name=text(product_sku, "name"),
        total_units=integer(get(data, "totalUnits")),
        consumed_units=integer(get(data, "consumedUnits")),
        active_units=integer(get(data, "activeUnits")),
        suspended_units=integer(get(data, "suspendedUnits")),
        warning_units=integer(get(data, "warningUnits")),
        target_type=text(product_sku, "targetType") or "User",
    )


def user_licence(data: Json) -> i.UserLicence:
    product_sku = get(data, "productSku") or {}
    return i.UserLicence(
        sku_id=required_text(product_sku, "id"),
        sku_part_number=text(product_sku, "skuPartNumber"),
        name=text(product_sku, "name"),
    )


def invoice(data: Json) -> i.Invoice:
    currency = text(data, "currencyCode") or "USD"
    return i.Invoice(
        id=required_text(data, "id"),
        invoice_date=timestamp(get(data, "invoiceDate")),
        period_start=day(get(data, "billingPeriodStartDate")),
        period_end=day(get(data, "billingPeriodEndDate")),
        total_charges=Money(decimal(get(data, "totalCharges")), currency),
        paid_amount=Money(decimal(get(data, "paidAmount")), currency),
        document_type=text(data, "documentType") or "invoice",
        invoice_type=text(data, "invoiceType"),
    )


def invoice_line_item(data: Json, *, invoice_id: str) -> i.InvoiceLineItem:
    currency = text(data, "currency", "pricingCurrency") or "USD"

    def money(*names: str) -> Money:
        return Money(decimal(get(data, *names)), currency)

    return i.InvoiceLineItem(
        invoice_id=text(data, "invoiceNumber") or invoice_id,
        customer_id=text(data, "customerId"),
        customer_name=text(data, "customerName"),
        order_id=text(data, "orderId"),
        subscription_id=text(data, "subscriptionId"),
        product_id=text(data, "productId"),
        sku_id=text(data, "skuId"),
        availability_id=text(data, "availabilityId"),
        product_name=text(data, "productName"),
        sku_name=text(data, "skuName"),
        charge_type=text(data, "chargeType"),
        unit_price=money("unitPrice"),
        effective_unit_price=money("effectiveUnitPrice", "unitPrice"),
        quantity=decimal(get(data, "quantity")),
        subtotal=money("subtotal"),
        tax_total=money("taxTotal"),
        total=money("totalForCustomer"),
        charge_start=timestamp(get(data, "chargeStartDate")),
        charge_end=timestamp(get(data, "chargeEndDate")),
        term_and_billing_cycle=text(data, "termAndBillingCycle"),
        reference_id=text(data, "referenceId"),
    )


def audit_record(data: Json) -> i.AuditRecord:
    operation_date = timestamp(get(data, "operationDate"))
    if operation_date is None:
        raise UnexpectedResponse("audit record without operationDate")
    new_value = get(data, "resourceNewValue")
    return i.AuditRecord(
        id=required_text(data, "id"),
        operation_type=text(data, "operationType"),
        operation_status=text(data, "operationStatus"),
        operation_date=operation_date,
        resource_type=text(data, "resourceType"),
        customer_id=text(data, "customerId"),
        customer_name=text(data, "customerName"),
        user_principal_name=text(data, "userPrincipalName"),
        application_id=text(data, "applicationId"),
        correlation_id=text(data, "originalCorrelationId"),
        resource_new_value=""
        if new_value is None
        else new_value
        if isinstance(new_value, str)
        else json.dumps(new_value),
        details={
            str(entry.get("key")): str(entry.get("value"))
            for entry in get(data, "customizedData") or ()
            if isinstance(entry, Mapping)
        },
    )
