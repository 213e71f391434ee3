"""Partner Center JSON turned into the interface's dataclasses.

Protocol facts relied on (from the documented samples, which differ from one page to another):
- Responses are camelCase, but legacy answers (and the JSON text inside audit records) are
  PascalCase: every key is read case-insensitively, at every level.
- Enums are lower-case strings, except where they are not ("New" next to "new" in one recon
  sample): enum values are matched case-insensitively.
- Dates are ISO-8601 with 0 to 7 fractional digits, ending in `Z`, an offset (`-08:00`,
  `+00:00`) or nothing (read as UTC). A date the vendor does not know yet is sent as
  `0001-01-01T00:00:00`: read as None. Calendar dates are the UTC date of the moment sent.
- Amounts come as JSON numbers or as strings ("unitPrice": "16" next to "unitPrice": 16); both
  become exact Decimals.
- Reconciliation lines may name the customer `org:<tenant id>`; the prefix is dropped.

One unreadable record must not abort a listing: `readable()` leaves it out, logs its raw text and
counts it in the listing's SkipLog.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from decimal import Decimal, InvalidOperation
from typing import Any

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import UnexpectedResponse

logger = logging.getLogger(__name__)

Json = Mapping[str, Any]

# Raw text of a skipped record kept in logs and reports, so one huge record cannot flood them.
RAW_TEXT_LIMIT = 4000
# Legacy Azure subscriptions end in year 9999; an offset can push that past what Python holds.
FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


def get(data: Json | None, *names: str, default: Any = None) -> Any:
    """First present key among `names`, matched case-insensitively."""
    if not isinstance(data, Mapping) or not data:
        return default
    for name in names:
        if name in data:
            return data[name]
    lowered = {str(key).lower(): value for key, value in data.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return default


def put(data: MutableMapping[str, Any], name: str, value: Any) -> None:
    """Set `name` under the key the object already uses for it, whatever its casing, so a
    PascalCase resource sent back to the vendor never carries the same field twice."""
    for key in data:
        if str(key).lower() == name.lower():
            data[key] = value
            return
    data[name] = value


def items_of(data: Any, name: str) -> list[Any]:
    """A JSON array field; a missing or null one is empty, anything else is unreadable."""
    value = get(data, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnexpectedResponse(f"{name!r} is not a list")
    return value


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


def vendor_id(value: Any) -> str:
    """A customer id as used everywhere else: reconciliation lines may send `org:<tenant id>`."""
    raw = "" if value is None else str(value).strip()
    return raw[4:] if raw[:4].lower() == "org:" else raw


def timestamp(value: Any) -> dt.datetime | None:
    """An aware UTC datetime. Python keeps microseconds; PC sends up to 7 fractional digits."""
    if value in (None, ""):
        return None
    raw = str(value).strip()
    if raw.startswith("0001-01-01"):
        return None  # Partner Center's "not known yet" (pending subscriptions, some recon dates)
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError as error:
        parsed = _month_day_year(raw)
        if parsed is None:
            raise UnexpectedResponse(f"unreadable date {value!r}") from error
    if parsed.tzinfo is None:  # date-only values and a few naive samples are UTC
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        return FAR_FUTURE


_MONTH_DAY_YEAR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _month_day_year(raw: str) -> dt.datetime | None:
    """`10/3/2020`: how the reconciliation file's documented samples write a date (US order)."""
    match = _MONTH_DAY_YEAR.match(raw)
    if match is None:
        return None
    month, day_of_month, year = (int(part) for part in match.groups())
    try:
        return dt.datetime(year, month, day_of_month)
    except ValueError:
        return None


def day(value: Any) -> dt.date | None:
    moment = timestamp(value)
    return None if moment is None else moment.date()


def decimal(value: Any) -> Decimal:
    if value.__class__ is Decimal:  # an export read with parse_float=Decimal: already exact
        if not value.is_finite():
            raise UnexpectedResponse(f"unreadable number {value!r}")
        return value
    if value in (None, ""):
        return Decimal(0)
    if isinstance(value, bool):
        raise UnexpectedResponse(f"unreadable number {value!r}")
    if isinstance(value, float):
        # JSON numbers come in as floats; go through their shortest repr, never binary value.
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise UnexpectedResponse(f"unreadable number {value!r}") from error
    if not number.is_finite():
        raise UnexpectedResponse(f"unreadable number {value!r}")
    return number


def optional_decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else decimal(value)


def integer(value: Any, default: int = 0) -> int:
    if value in (None, ""):
        return default
    return int(decimal(value))


def money(value: Any, currency: str) -> Money:
    try:
        return Money(decimal(value), currency)
    except ValueError as error:  # a currency that is not an ISO code
        raise UnexpectedResponse(f"unreadable amount {value!r} {currency!r}") from error


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


_CHARGE_TYPES = {kind.value.lower(): kind for kind in i.ChargeType}
# The recon page says "purchase" maps to new and "refund" to a cancellation; "Cycle fee" is the
# legacy licence-based name of a cycle charge.
_CHARGE_TYPE_ALIASES = {
    "purchase": i.ChargeType.NEW,
    "refund": i.ChargeType.CANCEL_IMMEDIATE,
    "cancel": i.ChargeType.CANCEL_IMMEDIATE,
    "cycle fee": i.ChargeType.CYCLE_CHARGE,
}


def charge_kind(value: Any) -> i.ChargeType:
    raw = str(value or "").strip().lower()
    return _CHARGE_TYPES.get(raw) or _CHARGE_TYPE_ALIASES.get(raw) or i.ChargeType.UNKNOWN


def document_type(value: Any) -> str:
    """ "Credit Note", "credit_note" and "creditNote" all become credit_note."""
    raw = str(value or "").strip()
    if not raw:
        return "invoice"
    words = "".join(f" {ch}" if ch.isupper() else ch for ch in raw).replace("_", " ").split()
    return "_".join(word.lower() for word in words)


# --- reading many records -----------------------------------------------------------------------


def raw_text(data: Any) -> str:
    try:
        raw = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        raw = repr(data)
    return raw if len(raw) <= RAW_TEXT_LIMIT else raw[:RAW_TEXT_LIMIT] + "…"


def readable[T](
    records: Iterable[Any], read: Callable[[Json], T], *, kind: str, skips: i.SkipLog
) -> Iterator[T]:
    """`read` each record, leaving out (and logging, and counting in `skips`) those it cannot.

    Records are vendor data: whatever in one breaks our reading of it (a date we cannot parse,
    a missing id, text where a number was promised) is that record's fault, so the error is
    caught here, one record at a time, and never aborts the listing."""
    for record in records:
        try:
            if not isinstance(record, Mapping):
                raise UnexpectedResponse("not a JSON object")
            value = read(record)
        except (UnexpectedResponse, ValueError, TypeError, AttributeError, KeyError) as error:
            raw = raw_text(record)
            logger.warning("skipped an unreadable Partner Center %s (%s): %s", kind, error, raw)
            skips.add(i.SkippedRecord(kind=kind, reason=str(error), raw=raw))
            continue
        yield value


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


def address(data: Json | None) -> i.Address | None:
    if not isinstance(data, Mapping):
        return None
    return i.Address(
        country=text(data, "country").upper(),
        city=text(data, "city"),
        postal_code=text(data, "postalCode"),
        address_line1=text(data, "addressLine1"),
        address_line2=text(data, "addressLine2"),
        state=text(data, "state"),
        region=text(data, "region"),
        first_name=text(data, "firstName"),
        last_name=text(data, "lastName"),
        phone_number=text(data, "phoneNumber"),
        email=text(data, "email"),
    )


def billing_profile(data: Json) -> i.BillingProfile:
    return i.BillingProfile(
        company_name=text(data, "companyName"),
        first_name=text(data, "firstName"),
        last_name=text(data, "lastName"),
        email=text(data, "email"),
        culture=text(data, "culture"),
        language=text(data, "language"),
        address=address(get(data, "defaultAddress")),
    )


def created_customer(data: Json) -> i.CreatedCustomer:
    credentials = get(data, "userCredentials") or {}
    return i.CreatedCustomer(
        customer=customer(data),
        admin_user_name=text(credentials, "userName"),
        admin_password=text(credentials, "password"),
    )


def country_rules(data: Json) -> i.CountryRules:
    def strings(name: str) -> tuple[str, ...]:
        return tuple(str(v) for v in (get(data, name) or ()) if v)

    return i.CountryRules(
        country=required_text(data, "iso2Code").upper(),
        default_culture=text(data, "defaultCulture"),
        state_required=bool(get(data, "isStateRequired")),
        states=tuple(s.upper() for s in strings("supportedStatesList")),
        languages=strings("supportedLanguagesList"),
        cultures=strings("supportedCulturesList"),
        postal_code_required=bool(get(data, "isPostalCodeRequired", default=True)),
        postal_code_regex=text(data, "postalCodeRegex"),
        city_required=bool(get(data, "isCityRequired", default=True)),
        phone_required=bool(get(data, "isPhoneNumberRequired")),
        phone_regex=text(data, "phoneNumberRegex"),
    )


def agreement(data: Json) -> i.Agreement:
    contact = get(data, "primaryContact") or {}
    return i.Agreement(
        type=text(data, "type"),
        template_id=text(data, "templateId"),
        accepted_at=timestamp(get(data, "dateAgreed")),
        email=text(contact, "email"),
        confirmed_by=text(data, "userId"),
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
        prerequisite_skus=tuple(str(x) for x in items_of(dynamic, "prerequisiteSkus")),
        supported_billing_cycles=tuple(
            billing_cycle(x) for x in items_of(data, "supportedBillingCycles")
        ),
        provisioning_id=text(dynamic, "provisioningId").lower(),
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
        terms=tuple(term(t, currency=text(currency, "code")) for t in items_of(data, "terms")),
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
            unit = money(get(price, "unitPrice"), price_currency)
        if get(price, "erpPrice") not in (None, "") and price_currency:
            retail = money(get(price, "erpPrice"), price_currency)
    elif price not in (None, "") and currency:
        unit = money(price, currency)
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
        lines=tuple(order_line(line) for line in items_of(data, "lineItems")),
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
    windows = tuple(refund_window(option) for option in items_of(data, "refundOptions"))
    lots = tuple(refundable_lot(detail) for detail in items_of(refundable, "details"))
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
        cancellation_allowed_until=cancellation_window(data, windows=windows, lots=lots),
        refundable_quantity=integer(get(refundable, "totalQuantity"))
        if get(refundable, "totalQuantity") not in (None, "")
        else sum(lot.quantity for lot in lots),
        suspension_reasons=tuple(str(x) for x in items_of(data, "suspensionReasons")),
        next_term=next_term(get(data, "scheduledNextTermInstructions")),
        refund_windows=windows,
        refundable_lots=lots,
    )


def refund_window(data: Json) -> i.RefundWindow:
    # Samples name the moment `expiresAt`; the resource table calls it `expiresAfter` (which,
    # in catalog cancellation policies, holds a duration such as "P1D" instead: not a moment).
    moment = get(data, "expiresAt")
    if moment in (None, ""):
        after = get(data, "expiresAfter")
        moment = None if str(after or "").upper().startswith("P") else after
    return i.RefundWindow(kind=text(data, "type"), expires_at=timestamp(moment))


def refundable_lot(data: Json) -> i.RefundableLot:
    return i.RefundableLot(
        quantity=integer(get(data, "quantity")),
        allowed_until=timestamp(get(data, "allowedUntilDateTime")),
    )


def cancellation_window(
    data: Json, *, windows: tuple[i.RefundWindow, ...], lots: tuple[i.RefundableLot, ...]
) -> dt.datetime | None:
    """Until when the subscription may be cancelled, from whichever of three places says it.

    `cancellationAllowedUntilDate` when sent; else the last refund option to expire (a
    cancellation is refunded until then); else the earliest refundable lot, the purchase or
    renewal itself (seats added later have later windows, but only for those seats)."""
    explicit = timestamp(get(data, "cancellationAllowedUntilDate"))
    if explicit is not None:
        return explicit
    expiries = [w.expires_at for w in windows if w.expires_at is not None]
    if expiries:
        return max(expiries)
    allowed = [lot.allowed_until for lot in lots if lot.allowed_until is not None]
    return min(allowed) if allowed else None


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


def invoice(data: Json, *, currency: str = "") -> i.Invoice:
    """An invoice with its amendments (credit and adjustment notes, each an Invoice too)."""
    currency = text(data, "currencyCode") or currency or "USD"
    providers = tuple(
        dict.fromkeys(
            text(detail, "billingProvider").lower()
            for detail in items_of(data, "invoiceDetails")
            if text(detail, "billingProvider")
        )
    )
    return i.Invoice(
        id=required_text(data, "id"),
        invoice_date=timestamp(get(data, "invoiceDate")),
        period_start=day(get(data, "billingPeriodStartDate")),
        period_end=day(get(data, "billingPeriodEndDate")),
        total_charges=money(get(data, "totalCharges"), currency),
        paid_amount=money(get(data, "paidAmount"), currency),
        document_type=document_type(get(data, "documentType")),
        invoice_type=text(data, "invoiceType"),
        amends_id=optional_text(data, "amendsOf"),
        amendments=tuple(
            invoice(amendment, currency=currency) for amendment in items_of(data, "amendments")
        ),
        line_item_providers=providers,
    )


# The fields a reconciliation line is read from, by their lower-case names.
_LINE_FIELDS = (
    "invoicenumber", "customerid", "customername", "orderid", "subscriptionid", "productid",
    "skuid", "availabilityid", "productname", "skuname", "chargetype", "unitprice",
    "effectiveunitprice", "quantity", "subtotal", "taxtotal", "totalforcustomer", "total",
    "chargestartdate", "chargeenddate", "termandbillingcycle", "referenceid",
    "customerdomainname", "orderdate", "unittype", "billablequantity", "productqualifiers",
    "billingfrequency", "subscriptionstartdate", "subscriptionenddate", "pricingcurrency",
    "pctobcexchangerate", "pctobcexchangeratedate", "customercountry", "subscriptiondescription",
    "resellermpnid", "tier2mpnid", "alternateid", "publishername", "creditreasoncode",
    "promotionid", "currency",
)  # fmt: skip
_last_keys: list[Any] = [frozenset(), {}]  # the last set of keys seen and its key map


def _lowered(data: Json) -> dict[str, Any]:
    """The record's line fields under their lower-case names. Every line of an export has the
    same keys: the key map is worked out when the set of keys changes, then each line is a
    few dozen dict reads instead of lowering fifty keys."""
    keys, mapping = _last_keys
    if data.keys() != keys:
        lowered = {str(key).lower(): key for key in data}
        mapping = {name: lowered[name] for name in _LINE_FIELDS if name in lowered}
        _last_keys[:] = [frozenset(data.keys()), mapping]
    return {name: data[key] for name, key in mapping.items()}


def _first(lowered: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of `names` (lower case) present, like `get` on a lowered record."""
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _text_of(value: Any) -> str:
    return "" if value is None else str(value)


def qualifiers(value: Any) -> tuple[str, ...]:
    """`productQualifiers`: a JSON array, or (in some exports) the array's JSON text."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        raw = value.strip()
        if raw.startswith("["):
            try:
                value = json.loads(raw)
            except ValueError as error:
                raise UnexpectedResponse(f"unreadable productQualifiers {raw!r}") from error
        else:
            value = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(value, list):
        raise UnexpectedResponse("'productQualifiers' is not a list")
    return tuple(str(x) for x in value)


def mpn(value: Any) -> str:
    raw = _text_of(value).strip()
    return "" if raw in ("-1", "0") else raw  # legacy lines send -1 for "no reseller"


def invoice_line_item(data: Json, *, invoice_id: str) -> i.InvoiceLineItem:
    """One reconciliation line, from the v1 API (camelCase, `totalForCustomer`) or from a v2
    export file (the reconciliation file's PascalCase columns: `Total`, `Tier2MpnId`...).

    Keys are lowered once per record and looked up directly: an export holds millions of lines,
    and a case-insensitive search per field was most of the time spent reading one."""
    record = _lowered(data)
    currency = _text_of(_first(record, "currency", "pricingcurrency")) or "USD"
    try:
        currency = Money.zero(currency).currency
    except ValueError as error:
        raise UnexpectedResponse(f"unreadable currency {currency!r}") from error

    def amount(*names: str) -> Money:
        return Money.checked(decimal(_first(record, *names)), currency)

    charge_type = _text_of(record.get("chargetype"))
    return i.InvoiceLineItem(
        invoice_id=_text_of(record.get("invoicenumber")) or invoice_id,
        customer_id=vendor_id(record.get("customerid")),
        customer_name=_text_of(record.get("customername")),
        order_id=_text_of(record.get("orderid")),
        subscription_id=_text_of(record.get("subscriptionid")),
        product_id=_text_of(record.get("productid")),
        sku_id=_text_of(record.get("skuid")),
        availability_id=_text_of(record.get("availabilityid")),
        product_name=_text_of(record.get("productname")),
        sku_name=_text_of(record.get("skuname")),
        charge_type=charge_type,
        unit_price=amount("unitprice"),
        effective_unit_price=amount("effectiveunitprice", "unitprice"),
        quantity=decimal(record.get("quantity")),
        subtotal=amount("subtotal"),
        tax_total=amount("taxtotal"),
        total=amount("totalforcustomer", "total"),
        charge_start=timestamp(record.get("chargestartdate")),
        charge_end=timestamp(record.get("chargeenddate")),
        term_and_billing_cycle=_text_of(record.get("termandbillingcycle")),
        reference_id=_text_of(record.get("referenceid")),
        charge_kind=charge_kind(charge_type),
        customer_domain_name=_text_of(record.get("customerdomainname")),
        order_date=timestamp(record.get("orderdate")),
        unit_type=_text_of(record.get("unittype")),
        billable_quantity=optional_decimal(record.get("billablequantity")),
        product_qualifiers=qualifiers(record.get("productqualifiers")),
        billing_frequency=_text_of(record.get("billingfrequency")),
        subscription_start=day(record.get("subscriptionstartdate")),
        subscription_end=day(record.get("subscriptionenddate")),
        pricing_currency=_text_of(record.get("pricingcurrency")),
        pc_to_bc_exchange_rate=optional_decimal(record.get("pctobcexchangerate")),
        pc_to_bc_exchange_rate_date=day(record.get("pctobcexchangeratedate")),
        customer_country=_text_of(record.get("customercountry")),
        subscription_description=_text_of(record.get("subscriptiondescription")),
        reseller_mpn_id=mpn(_first(record, "resellermpnid", "tier2mpnid")),
        alternate_id=_text_of(record.get("alternateid")),
        publisher_name=_text_of(record.get("publishername")),
        credit_reason_code=_text_of(record.get("creditreasoncode")),
        promotion_id=_text_of(record.get("promotionid")),
    )


# --- Microsoft Graph: partner billing exports ---------------------------------------------------


def export_status(value: Any) -> i.ExportStatus:
    raw = str(value or "").strip().lower()
    for status in i.ExportStatus:
        if status.value.lower() == raw:
            return status
    return i.ExportStatus.UNKNOWN


def export_operation(
    data: Json, *, location: str, retry_after: float | None = None
) -> i.ExportOperation:
    """Graph's `partners.billing.operation`: running, succeeded (with the manifest's address in
    `resourceLocation@odata.navigationLink`) or failed (with `error{code, message}`)."""
    error = get(data, "error") or {}
    manifest = get(data, "resourceLocation@odata.navigationLink") or get(
        get(data, "resourceLocation"), "@odata.id", "id"
    )
    return i.ExportOperation(
        location=location,
        id=text(data, "id"),
        status=export_status(get(data, "status")),
        retry_after=retry_after,
        manifest_location=None if manifest in (None, "") else str(manifest),
        error_code=text(error, "code"),
        error_message=text(error, "message"),
        created_at=timestamp(get(data, "createdDateTime")),
        last_action_at=timestamp(get(data, "lastActionDateTime")),
    )


def export_manifest(data: Json) -> i.ExportManifest:
    blobs = tuple(
        i.ExportBlob(name=required_text(blob, "name"), partition_value=text(blob, "partitionValue"))
        for blob in items_of(data, "blobs")
    )
    return i.ExportManifest(
        id=required_text(data, "id"),
        schema_version=text(data, "schemaVersion"),
        data_format=text(data, "dataFormat"),
        partner_tenant_id=text(data, "partnerTenantId"),
        root_directory=required_text(data, "rootDirectory"),
        sas_token=text(data, "sasToken"),
        partition_type=text(data, "partitionType"),
        blob_count=integer(get(data, "blobCount"), default=len(blobs)),
        blobs=blobs,
        etag=text(data, "eTag"),
        created_at=timestamp(get(data, "createdDateTime")),
    )


def audit_record(data: Json) -> i.AuditRecord:
    operation_date = timestamp(get(data, "operationDate"))
    if operation_date is None:
        raise UnexpectedResponse("audit record without operationDate")
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
        resource_new_value=_json_text(get(data, "resourceNewValue")),
        resource_old_value=_json_text(get(data, "resourceOldValue")),
        details=audit_details(items_of(data, "customizedData")),
    )


def _json_text(value: Any) -> str:
    """The vendor sends resource values as JSON text; a decoded object is turned back into it."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def audit_details(entries: list[Any]) -> dict[str, str | None]:
    """`customizedData` `[{key, value}]` as a mapping; a null value stays None."""
    details: dict[str, str | None] = {}
    for entry in entries:
        key = get(entry, "key")
        if key in (None, ""):
            continue
        value = get(entry, "value")
        details[str(key)] = None if value is None else str(value)
    return details
