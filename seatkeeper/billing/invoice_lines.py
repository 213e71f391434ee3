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

import contextlib
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from seatkeeper.billing.models import InvoiceLineItem
from seatkeeper.providers import interface as i

# Rows per transaction. COPY sends each row as it is made (nothing is held here), so PostgreSQL
# takes big batches; SQLite's executemany holds the write lock for its batch, so its stay short.
POSTGRES_BATCH = 100_000
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
# Text is cut to the columns' lengths (checked against the model in the tests): a slice per
# value, with the lengths written out, because this runs for every field of millions of lines.
MAX_LENGTHS = {
    "customer_tenant_id": 64, "customer_name": 255, "customer_domain": 255,
    "customer_country": 8, "reseller_mpn_id": 32, "order_id": 64, "subscription_id": 64,
    "subscription_description": 255, "product_id": 64, "sku_id": 64, "availability_id": 64,
    "product_name": 255, "sku_name": 255, "publisher_name": 100, "charge_type": 64,
    "term_and_billing_cycle": 200, "billing_frequency": 32, "unit_type": 64,
    "pricing_currency": 3, "reference_id": 64, "alternate_id": 64, "credit_reason_code": 64,
    "promotion_id": 64,
}  # fmt: skip


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
        self._quoted = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        self._copy: Any = None
        self._copy_scope: contextlib.ExitStack | None = None
        self._in_copy = 0

    def __enter__(self) -> LineWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if exc_info[0] is None:
            self.close()
        else:
            self._abort(exc_info)

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
        row = (
            self.invoice_pk,
            self.generation,
            position,
            self.period,
            line.customer_id[:64],
            line.customer_name[:255],
            line.customer_domain_name[:255],
            line.customer_country[:8],
            line.reseller_mpn_id[:32],
            line.order_id[:64],
            line.order_date,
            line.subscription_id[:64],
            line.subscription_description[:255],
            line.product_id[:64],
            line.sku_id[:64],
            line.availability_id[:64],
            line.product_name[:255],
            line.sku_name[:255],
            qualifiers,
            line.publisher_name[:100],
            line.charge_type[:64],
            str(line.charge_kind),
            _day(line.charge_start),
            _day(line.charge_end),
            line.subscription_start,
            line.subscription_end,
            line.term_and_billing_cycle[:200],
            line.billing_frequency[:32],
            line.unit_type[:64],
            line.quantity,
            line.billable_quantity,
            line.unit_price.amount,
            line.effective_unit_price.amount,
            subtotal.amount,
            tax.amount,
            total.amount,
            currency,
            line.pricing_currency[:3],
            line.pc_to_bc_exchange_rate,
            line.pc_to_bc_exchange_rate_date,
            line.reference_id[:64],
            line.alternate_id[:64],
            line.credit_reason_code[:64],
            line.promotion_id[:64],
        )
        if self.postgres:
            self._copy_row(row)
            return
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.postgres:
            self._end_copy()
            return
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        with transaction.atomic():
            self._insert(rows)

    def close(self) -> None:
        self.flush()

    def _copy_row(self, row: tuple[Any, ...]) -> None:
        if self._copy is None:
            scope = contextlib.ExitStack()
            scope.enter_context(transaction.atomic())
            cursor = scope.enter_context(connection.cursor())
            # psycopg's own cursor, inside Django's transaction: COPY streams to the server.
            self._copy = scope.enter_context(
                cursor.cursor.copy(f"COPY {self.table} ({self._quoted}) FROM STDIN")
            )
            self._copy_scope = scope
            self._in_copy = 0
        self._copy.write_row(row)
        self._in_copy += 1
        if self._in_copy >= self.batch:
            self._end_copy()

    def _end_copy(self) -> None:
        scope, self._copy, self._copy_scope = self._copy_scope, None, None
        if scope is not None:
            scope.close()

    def _abort(self, exc_info: Any) -> None:
        """A failure while writing: the open batch is rolled back, the committed ones stay
        (invisible: their generation is never switched to) until the next attempt drops them."""
        scope, self._copy, self._copy_scope = self._copy_scope, None, None
        self.rows = []
        if scope is not None:
            scope.__exit__(*exc_info)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        columns = self._quoted
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
