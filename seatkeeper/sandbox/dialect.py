"""The shapes Partner Center really answers with, which the sandbox can be told to use.

The sandbox answers the way the reference pages describe a clean answer: camelCase, `Z` dates
with seven fractional digits, recon amounts as strings, tokens in the body and the next link.
Real answers vary, as Microsoft's own samples show, and a connector tested only on the clean
shape breaks on the first real one. Each variant below makes every `/v1` answer of a run look
like one of those samples; all are off unless asked for, so tests keep the shape they were
written against.

SPEC syntax (``--dialect``, ``running_sandbox(dialect=...)`` and the admin API's ``spec``):
comma-separated variant names, or ``all`` (every variant but `unreadable_records`, which breaks
data on purpose); ``name=off`` turns one back off.

Variants: `bom`, `pascal_case`, `offset_dates`, `mixed_numbers`, `header_continuation`,
`malformed_next_links`, `org_prefixed_ids`, `title_case_charge_types`, `amendments`,
`refund_options_only`, `refund_lots_only`, `no_catalog_prices`, `unreadable_records`
(README.md says what each does).

The rewriting happens on the way out (`FrontDoor` in app.py): the store, the rules and the
request parsing never see it, so any variant can be switched on or off between two calls.
"""

from __future__ import annotations

import codecs
import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from .store import parse_iso

# Money fields, and the recon quantities, that `mixed_numbers` sends in either form.
AMOUNT_KEYS = frozenset(
    {
        "unitPrice",
        "effectiveUnitPrice",
        "subtotal",
        "taxTotal",
        "totalForCustomer",
        "totalCharges",
        "paidAmount",
        "billableQuantity",
        "pcToBCExchangeRate",
        "erpPrice",
    }
)
LINE_ITEM_AMOUNT_KEYS = AMOUNT_KEYS | {"quantity"}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
# (offset name, offset): the documented samples show -08:00 and +00:00 besides Z.
OFFSETS = (
    ("-08:00", dt.timezone(dt.timedelta(hours=-8))),
    ("Z", dt.UTC),
    ("+01:00", dt.timezone(dt.timedelta(hours=1))),
    ("+00:00", dt.UTC),
)


@dataclass
class Dialect:
    """Which variants are on; each field is one variant of the table in README.md."""

    bom: bool = False
    pascal_case: bool = False
    offset_dates: bool = False
    mixed_numbers: bool = False
    header_continuation: bool = False
    malformed_next_links: bool = False
    org_prefixed_ids: bool = False
    title_case_charge_types: bool = False
    amendments: bool = False
    refund_options_only: bool = False
    refund_lots_only: bool = False
    no_catalog_prices: bool = False
    # The first record of every collection page is made unreadable (its id dropped, or a date
    # garbled), as one bad record among good ones in a real listing.
    unreadable_records: bool = False

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def as_json(self) -> dict[str, bool]:
        return asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, raw in values.items():
            if key not in names:
                raise ValueError(f"unknown dialect variant {key!r}")
            setattr(self, key, _flag(raw))

    def apply_spec(self, spec: str | None) -> None:
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            if part == "all":
                self.update({f.name: True for f in fields(self) if f.name in ALL})
                continue
            if part == "none":
                self.update({f.name: False for f in fields(self)})
                continue
            name, _, value = part.partition("=")
            self.update({name.strip(): value.strip() if value else True})

    # -- rewriting one answer ------------------------------------------------------------------

    def rewrite(self, body: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """A JSON body as this dialect sends it, and the response headers it adds."""
        try:
            document = json.loads(body)
        except ValueError:
            return body, []
        headers: list[tuple[bytes, bytes]] = []
        document = self._objects(document, itertools.count())
        if isinstance(document, dict):
            token = self._collection(document)
            if token:
                headers.append((b"ms-continuationtoken", token.encode()))
        if self.offset_dates:
            document = _dates(document, itertools.count())
        if self.pascal_case:
            document = _pascal(document)
        out = json.dumps(document, ensure_ascii=False).encode()
        if self.bom:
            out = codecs.BOM_UTF8 + out
        return out, headers

    def _objects(self, value: Any, turns: Iterator[int]) -> Any:
        """Variants that depend on what a JSON object is (its `attributes.objectType`), and
        the amounts of every object (`turns` alternates their form through the answer)."""
        if isinstance(value, list):
            return [self._objects(v, turns) for v in value]
        if not isinstance(value, dict):
            return value
        value = {k: self._objects(v, turns) for k, v in value.items()}
        attributes = value.get("attributes")
        kind = attributes.get("objectType") if isinstance(attributes, dict) else None
        if self.mixed_numbers:
            keys = LINE_ITEM_AMOUNT_KEYS if kind == "OneTimeInvoiceLineItem" else AMOUNT_KEYS
            value = _numbers(value, turns, keys)
        if kind == "OneTimeInvoiceLineItem":
            if self.org_prefixed_ids and value.get("customerId"):
                value["customerId"] = f"org:{value['customerId']}"
            charge = value.get("chargeType")
            if self.title_case_charge_types and isinstance(charge, str) and charge:
                value["chargeType"] = charge[:1].upper() + charge[1:]
        elif kind == "Subscription":
            if self.refund_options_only or self.refund_lots_only:
                value.pop("cancellationAllowedUntilDate", None)
            if self.refund_lots_only:
                value.pop("refundOptions", None)
        elif kind == "Invoice" and self.amendments and not value.get("amendments"):
            value["amendments"] = [_credit_note(value)]
        elif kind in ("Availability", "Offer") and self.no_catalog_prices:
            value.pop("price", None)
            for term in value.get("terms") or []:
                if isinstance(term, dict):
                    term.pop("price", None)
        return value

    def _collection(self, document: dict[str, Any]) -> str | None:
        """Where the continuation token and the next link of a seek page go. Returns the token
        when it is to travel in a response header."""
        if self.unreadable_records:
            _break_first_record(document)
        token = document.get("continuationToken")
        links = document.get("links")
        following = links.get("next") if isinstance(links, dict) else None
        if not token or not isinstance(following, dict):
            return None
        if self.malformed_next_links:
            following["uri"] = str(following.get("uri", "")).replace(
                "&seekOperation=Next", "?seekOperation=Next"
            )
        if not self.header_continuation:
            return None
        document.pop("continuationToken", None)
        following["headers"] = []
        return str(token)


ALL = frozenset(f.name for f in fields(Dialect)) - {"unreadable_records"}


def _break_first_record(document: dict[str, Any]) -> None:
    attributes = document.get("attributes")
    items = document.get("items")
    if not isinstance(attributes, dict) or attributes.get("objectType") != "Collection":
        return
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return
    first = items[0]
    if "id" in first:
        del first["id"]
        return
    for key in first:
        if key.endswith("Date"):
            first[key] = "31/02/2026 25:61"
            return


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{raw!r} is not on or off")


def _credit_note(invoice: dict[str, Any]) -> dict[str, Any]:
    """A credit note amending `invoice`, shaped like the documented amendment."""
    total = Decimal(str(invoice.get("totalCharges") or 0))
    credit = -(total / 10).quantize(Decimal("0.01"))
    return {
        "id": f"{invoice['id']}C",
        "invoiceDate": invoice.get("invoiceDate"),
        "totalCharges": float(credit),
        "paidAmount": 0,
        "currencyCode": invoice.get("currencyCode"),
        "currencySymbol": invoice.get("currencySymbol"),
        "invoiceDetails": [
            {
                "invoiceLineItemType": "billing_line_items",
                "billingProvider": "one_time",
                "attributes": {"objectType": "InvoiceDetail"},
            }
        ],
        "documentType": "credit_note",
        "amendsOf": invoice["id"],
        "invoiceType": invoice.get("invoiceType", "OneTime"),
        "attributes": {"objectType": "Invoice"},
    }


def _numbers(value: dict[str, Any], turns: Iterator[int], keys: frozenset[str]) -> dict[str, Any]:
    """The amounts of one object, alternately as JSON numbers and as strings."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in keys and not isinstance(item, bool) and isinstance(item, str | int | float):
            out[key] = _number_form(item, as_number=next(turns) % 2 == 0)
        else:
            out[key] = item
    return out


def _number_form(value: str | int | float, *, as_number: bool) -> Any:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    if not as_number:
        return str(number)
    return int(number) if number == number.to_integral_value() else float(number)


def _dates(value: Any, turns: Iterator[int]) -> Any:
    if isinstance(value, list):
        return [_dates(v, turns) for v in value]
    if isinstance(value, dict):
        return {k: _dates(v, turns) for k, v in value.items()}
    if isinstance(value, str) and DATE_TIME.match(value):
        return _offset_date(value, next(turns))
    return value


def _offset_date(value: str, turn: int) -> str:
    """The same moment with another offset and 0-7 fractional digits (cut, not rounded)."""
    moment = parse_iso(value)
    if not 2 <= moment.year <= 9998:
        return value  # placeholders (0001-01-01, 9999-12-31) stay as Partner Center sends them
    name, zone = OFFSETS[turn % len(OFFSETS)]
    local = moment.astimezone(zone)
    digits = turn % 8
    fraction = f"{local.microsecond:06d}0"[:digits]
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "")
    return stamp + name


def _pascal(value: Any) -> Any:
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]): _pascal(v) for k, v in value.items()}
    return value
