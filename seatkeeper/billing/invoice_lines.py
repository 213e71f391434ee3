"""Writing a vendor invoice's reconciliation lines: millions of rows, streamed, in flat memory.

Rows go straight to the table, batch by batch, without building model instances: PostgreSQL
takes them through COPY (the server parses while we read the next lines), other databases
through one `executemany` per batch. Each batch commits on its own, so a long import never holds
the database's write lock for minutes (SQLite has one lock for everything); the rows belong to a
new *generation* that readers do not see until `invoices` switches the invoice to it.

While writing, the lines are added up per customer tenant and currency, in exact Decimals: the
invoice's customer page and its checks read those sums instead of the lines.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from seatkeeper.billing.models import InvoiceLineItem
from seatkeeper.providers import interface as i

# Rows per transaction: COPY is cheap per row, so PostgreSQL takes big batches; SQLite's
# executemany holds the write lock for its batch, so its batches stay short.
POSTGRES_BATCH = 50_000
OTHER_BATCH = 5_000

FIELDS = (
    "invoice", "generation", "position", "period", "customer_tenant_id", "customer_name",
    "customer_domain", "customer_country", "reseller_mpn_id", "order_id", "order_date",
    "subscription_id", "subscription_description", "product_id", "sku_id", "availability_id",
    "product_name", "sku_name", "product_qualifiers", "publisher_name", "charge_type",
    "charge_kind", "charge_start", "charge_end", "subscription_start", "subscription_end",
    "term_and_billing_cycle", "billing_frequency", "unit_type", "quantity", "billable_quantity",
    "unit_price", "effective_unit_price", "subtotal", "tax_total", "total", "currency",
    "pricing_currency", "pc_to_bc_exchange_rate", "pc_to_bc_exchange_rate_date", "reference_id",
    "alternate_id", "credit_reason_code", "promotion_id",
)  # fmt: skip
_MAX_LENGTHS = {
    name: InvoiceLineItem._meta.get_field(name).max_length
    for name in FIELDS
    if getattr(InvoiceLineItem._meta.get_field(name), "max_length", None)
}


def _cut(value: str, name: str) -> str:
    limit = _MAX_LENGTHS[name]
    return value if len(value) <= limit else value[:limit]


def _day(moment: dt.datetime | None) -> dt.date | None:
    return None if moment is None else moment.date()


@dataclass(slots=True)
class CustomerSum:
    name: str
    domain: str
    count: int = 0
    subtotal: Decimal = field(default_factory=Decimal)
    tax_total: Decimal = field(default_factory=Decimal)
    total: Decimal = field(default_factory=Decimal)


@dataclass(slots=True)
class WrittenLines:
    count: int = 0
    # (tenant id, currency) -> sums, in the order the tenants came
    customers: dict[tuple[str, str], CustomerSum] = field(default_factory=dict)

    def total_in(self, currency: str) -> Decimal:
        return sum(
            (s.total for (_tenant, cur), s in self.customers.items() if cur == currency),
            Decimal(0),
        )


class LineWriter:
    """Appends the lines of one invoice generation. Use as a context manager, or call `close`."""

    def __init__(
        self, *, invoice_pk: int, generation: int, period: dt.date | None, batch: int = 0
    ) -> None:
        self.invoice_pk = invoice_pk
        self.generation = generation
        self.period = period
        self.postgres = connection.vendor == "postgresql"
        self.batch = batch or (POSTGRES_BATCH if self.postgres else OTHER_BATCH)
        self.rows: list[tuple[Any, ...]] = []
        self.written = WrittenLines()
        meta = InvoiceLineItem._meta
        self.table = connection.ops.quote_name(meta.db_table)
        self.columns = [meta.get_field(name).column for name in FIELDS]

    def __enter__(self) -> LineWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.close()

    def write(self, lines: Iterable[i.InvoiceLineItem]) -> WrittenLines:
        for line in lines:
            self.add(line)
        return self.written

    def add(self, line: i.InvoiceLineItem) -> None:
        written = self.written
        position = written.count
        written.count += 1
        total, subtotal, tax = line.total, line.subtotal, line.tax_total
        currency = total.currency
        key = (line.customer_id, currency)
        sums = written.customers.get(key)
        if sums is None:
            sums = written.customers[key] = CustomerSum(
                name=line.customer_name, domain=line.customer_domain_name
            )
        sums.count += 1
        sums.subtotal += subtotal.amount
        sums.tax_total += tax.amount
        sums.total += total.amount
        qualifiers = json.dumps(list(line.product_qualifiers))
        self.rows.append(
            (
                self.invoice_pk,
                self.generation,
                position,
                self.period,
                _cut(line.customer_id, "customer_tenant_id"),
                _cut(line.customer_name, "customer_name"),
                _cut(line.customer_domain_name, "customer_domain"),
                _cut(line.customer_country, "customer_country"),
                _cut(line.reseller_mpn_id, "reseller_mpn_id"),
                _cut(line.order_id, "order_id"),
                line.order_date,
                _cut(line.subscription_id, "subscription_id"),
                _cut(line.subscription_description, "subscription_description"),
                _cut(line.product_id, "product_id"),
                _cut(line.sku_id, "sku_id"),
                _cut(line.availability_id, "availability_id"),
                _cut(line.product_name, "product_name"),
                _cut(line.sku_name, "sku_name"),
                qualifiers,
                _cut(line.publisher_name, "publisher_name"),
                _cut(line.charge_type, "charge_type"),
                str(line.charge_kind),
                _day(line.charge_start),
                _day(line.charge_end),
                line.subscription_start,
                line.subscription_end,
                _cut(line.term_and_billing_cycle, "term_and_billing_cycle"),
                _cut(line.billing_frequency, "billing_frequency"),
                _cut(line.unit_type, "unit_type"),
                line.quantity,
                line.billable_quantity,
                line.unit_price.amount,
                line.effective_unit_price.amount,
                subtotal.amount,
                tax.amount,
                total.amount,
                currency,
                _cut(line.pricing_currency, "pricing_currency"),
                line.pc_to_bc_exchange_rate,
                line.pc_to_bc_exchange_rate_date,
                _cut(line.reference_id, "reference_id"),
                _cut(line.alternate_id, "alternate_id"),
                _cut(line.credit_reason_code, "credit_reason_code"),
                _cut(line.promotion_id, "promotion_id"),
            )
        )
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        with transaction.atomic():
            if self.postgres:
                self._copy(rows)
            else:
                self._insert(rows)

    def close(self) -> None:
        self.flush()

    def _copy(self, rows: list[tuple[Any, ...]]) -> None:
        columns = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor, in Django's transaction
            with raw.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        columns = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        marks = ", ".join(["%s"] * len(self.columns))
        adapt = connection.ops.adapt_datetimefield_value
        prepared = [
            [
                str(value)
                if isinstance(value, Decimal)
                else adapt(value)
                if isinstance(value, dt.datetime)
                else value
                for value in row
            ]
            for row in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} ({columns}) VALUES ({marks})",  # noqa: S608
                prepared,
            )
