"""Reading the lines of a reconciliation export file, fast and exactly.

An invoice's export can hold millions of lines; reading each one through Python's json module
and a case-insensitive dictionary walk was most of an import's time. The files' lines all carry
the reconciliation file's columns (`PartnerId`, ..., `Total`), so they are decoded straight into
a typed structure by msgspec: amounts become exact Decimals from the number's own digits (never
through a binary float), unknown columns are ignored, missing ones take their defaults.

Anything that does not fit — a file whose keys are spelled otherwise, a line that is not JSON,
an amount that is not a number, a date we cannot read — goes the general way
(`parsing.invoice_line_item`, case-insensitive), which also skips, logs and counts what it
cannot read. Both ways give the same `InvoiceLineItem`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

import msgspec

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import UnexpectedResponse
from seatkeeper.providers.microsoft import parsing

BOM = b"\xef\xbb\xbf"
ZERO = Decimal(0)


# Columns whose names are not the plain PascalCase of our field names.
_COLUMN_NAMES = {
    "pc_to_bc_exchange_rate": "PCToBCExchangeRate",
    "pc_to_bc_exchange_rate_date": "PCToBCExchangeRateDate",
    "tier2_mpn_id": "Tier2MpnId",
}


def _column(field: str) -> str:
    return _COLUMN_NAMES.get(field) or "".join(part.capitalize() for part in field.split("_"))


class FileLine(msgspec.Struct, rename=_column):
    """One line of a reconciliation export file (the reconciliation file's columns)."""

    customer_id: str = ""
    customer_name: str = ""
    customer_domain_name: str = ""
    customer_country: str = ""
    invoice_number: str = ""
    tier2_mpn_id: str | int | None = None
    reseller_mpn_id: str | int | None = None
    order_id: str = ""
    order_date: str | None = None
    product_id: str = ""
    sku_id: str = ""
    availability_id: str = ""
    sku_name: str = ""
    product_name: str = ""
    charge_type: str = ""
    unit_price: Decimal = ZERO
    quantity: Decimal = ZERO
    subtotal: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal = ZERO
    currency: str = ""
    publisher_name: str = ""
    subscription_description: str = ""
    subscription_id: str = ""
    charge_start_date: str | None = None
    charge_end_date: str | None = None
    term_and_billing_cycle: str = ""
    effective_unit_price: Decimal | None = None
    unit_type: str = ""
    alternate_id: str = ""
    billable_quantity: Decimal | None = None
    billing_frequency: str = ""
    pricing_currency: str = ""
    pc_to_bc_exchange_rate: Decimal | None = None
    pc_to_bc_exchange_rate_date: str | None = None
    credit_reason_code: str = ""
    subscription_start_date: str | None = None
    subscription_end_date: str | None = None
    reference_id: str = ""
    product_qualifiers: list[str] | str | None = None
    promotion_id: str = ""


_DECODER = msgspec.json.Decoder(FileLine)
# The columns that say a file is spelled the reconciliation file's way.
_SIGNATURE = ("CustomerId", "SubscriptionId", "Total")


def _is_file_spelling(first_line: bytes) -> bool:
    try:
        keys = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(keys, dict) and all(name in keys for name in _SIGNATURE)


class _Currencies:
    """ISO codes checked once each (a file has a handful)."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def check(self, code: str) -> str:
        checked = self.known.get(code)
        if checked is None:
            try:
                checked = Money.zero(code or "USD").currency
            except ValueError as error:
                raise UnexpectedResponse(f"unreadable currency {code!r}") from error
            self.known[code] = checked
        return checked


def _item(line: FileLine, invoice_id: str, currencies: _Currencies) -> i.InvoiceLineItem:
    currency = currencies.check(line.currency or line.pricing_currency)
    for amount in (line.unit_price, line.subtotal, line.tax_total, line.total, line.quantity):
        if not amount.is_finite():
            raise UnexpectedResponse(f"unreadable number {amount!r}")
    effective = line.unit_price if line.effective_unit_price is None else line.effective_unit_price
    checked = Money.checked
    return i.InvoiceLineItem(
        invoice_id=line.invoice_number or invoice_id,
        customer_id=parsing.vendor_id(line.customer_id),
        customer_name=line.customer_name,
        order_id=line.order_id,
        subscription_id=line.subscription_id,
        product_id=line.product_id,
        sku_id=line.sku_id,
        availability_id=line.availability_id,
        product_name=line.product_name,
        sku_name=line.sku_name,
        charge_type=line.charge_type,
        unit_price=checked(line.unit_price, currency),
        effective_unit_price=checked(parsing.decimal(effective), currency),
        quantity=line.quantity,
        subtotal=checked(line.subtotal, currency),
        tax_total=checked(line.tax_total, currency),
        total=checked(line.total, currency),
        charge_start=parsing.timestamp(line.charge_start_date),
        charge_end=parsing.timestamp(line.charge_end_date),
        term_and_billing_cycle=line.term_and_billing_cycle,
        reference_id=line.reference_id,
        charge_kind=parsing.charge_kind(line.charge_type),
        customer_domain_name=line.customer_domain_name,
        order_date=parsing.timestamp(line.order_date),
        unit_type=line.unit_type,
        billable_quantity=line.billable_quantity,
        product_qualifiers=parsing.qualifiers(line.product_qualifiers),
        billing_frequency=line.billing_frequency,
        subscription_start=parsing.day(line.subscription_start_date),
        subscription_end=parsing.day(line.subscription_end_date),
        pricing_currency=line.pricing_currency,
        pc_to_bc_exchange_rate=line.pc_to_bc_exchange_rate,
        pc_to_bc_exchange_rate_date=parsing.day(line.pc_to_bc_exchange_rate_date),
        customer_country=line.customer_country,
        subscription_description=line.subscription_description,
        reseller_mpn_id=parsing.mpn(
            line.reseller_mpn_id if line.reseller_mpn_id not in (None, "") else line.tier2_mpn_id
        ),
        alternate_id=line.alternate_id,
        publisher_name=line.publisher_name,
        credit_reason_code=line.credit_reason_code,
        promotion_id=line.promotion_id,
    )


def read_file_lines(
    raw_lines: Iterable[bytes], *, invoice_id: str, skips: i.SkipLog
) -> Iterator[i.InvoiceLineItem]:
    """The reconciliation lines of one export file's raw lines (see the module's docstring)."""
    fast: bool | None = None
    currencies = _Currencies()

    def general(raw: bytes) -> Iterator[i.InvoiceLineItem]:
        try:
            record = json.loads(raw, parse_float=Decimal)
        except ValueError:
            record = raw.decode("utf-8", "replace")  # skipped, logged and counted
        yield from parsing.readable(
            (record,),
            lambda x: parsing.invoice_line_item(x, invoice_id=invoice_id),
            kind="export line",
            skips=skips,
        )

    for raw in raw_lines:
        raw = raw.removeprefix(BOM)
        if fast is None:
            fast = _is_file_spelling(raw)
        if fast:
            try:
                yield _item(_DECODER.decode(raw), invoice_id, currencies)
                continue
            except (msgspec.DecodeError, msgspec.ValidationError, UnexpectedResponse, ValueError):
                pass  # read again the general way, which says why it cannot be read
        yield from general(raw)
