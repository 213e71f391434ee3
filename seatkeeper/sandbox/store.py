"""The sandbox's own SQLite store (stdlib sqlite3, never the platform's database).

Resources are kept as camelCase JSON documents (the shape Partner Center returns) next to the few
columns we filter or page on. One connection guarded by a lock is enough: the sandbox is a test
tool, and serialising writes keeps the emulated business rules free of races.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Ids are compared case-insensitively (Partner Center ids arrive in any case): the columns carry
# COLLATE NOCASE so both "id = ?" forms use the indexes. Unique constraints are named indexes,
# kept apart from the tables so the generator can build them after a bulk load.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY, secret TEXT NOT NULL, name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS agents (
    oid TEXT PRIMARY KEY, upn TEXT NOT NULL UNIQUE, name TEXT NOT NULL, password TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents (client_id TEXT NOT NULL, oid TEXT NOT NULL,
    PRIMARY KEY (client_id, oid));
CREATE TABLE IF NOT EXISTS auth_codes (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, oid TEXT NOT NULL, redirect_uri TEXT,
    scope TEXT NOT NULL, resource TEXT NOT NULL, nonce TEXT, challenge TEXT, mfa INTEGER NOT NULL,
    created REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, oid TEXT NOT NULL, scope TEXT NOT NULL,
    mfa INTEGER NOT NULL, last_used REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS customers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL COLLATE NOCASE,
    company_name TEXT NOT NULL, domain TEXT NOT NULL COLLATE NOCASE, created REAL NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS domains (domain TEXT NOT NULL COLLATE NOCASE, customer_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS carts (
    id TEXT PRIMARY KEY COLLATE NOCASE, customer_id TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL COLLATE NOCASE,
    customer_id TEXT NOT NULL, created REAL NOT NULL, ready_at REAL NOT NULL,
    visible_at REAL NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL COLLATE NOCASE,
    customer_id TEXT NOT NULL, order_id TEXT NOT NULL COLLATE NOCASE, parent_id TEXT,
    status TEXT NOT NULL, ready_at REAL NOT NULL, visible_at REAL NOT NULL, data TEXT NOT NULL,
    due TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL COLLATE NOCASE,
    customer_id TEXT NOT NULL, upn TEXT NOT NULL COLLATE NOCASE, state TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS licenses (
    customer_id TEXT NOT NULL, user_id TEXT NOT NULL, sku_guid TEXT NOT NULL,
    assigned_at REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS line_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, customer_id TEXT NOT NULL, period TEXT NOT NULL,
    currency TEXT NOT NULL, invoice_id TEXT NOT NULL DEFAULT '', data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL COLLATE NOCASE, period TEXT NOT NULL,
    currency TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, op_date TEXT NOT NULL, customer_id TEXT,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exports (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL,
    created REAL NOT NULL, ready_at REAL NOT NULL, manifest TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS idempotency (
    request_id TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (request_id, route));
"""

INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS customers_id ON customers (id);
CREATE UNIQUE INDEX IF NOT EXISTS customers_domain ON customers (domain);
CREATE INDEX IF NOT EXISTS customers_name ON customers (company_name COLLATE NOCASE);
CREATE UNIQUE INDEX IF NOT EXISTS domains_domain ON domains (domain);
CREATE INDEX IF NOT EXISTS domains_customer ON domains (customer_id);
CREATE UNIQUE INDEX IF NOT EXISTS orders_id ON orders (id);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, seq);
CREATE INDEX IF NOT EXISTS orders_pending ON orders (status, ready_at);
CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_id ON subscriptions (id);
CREATE INDEX IF NOT EXISTS subscriptions_customer ON subscriptions (customer_id, seq);
CREATE INDEX IF NOT EXISTS subscriptions_order ON subscriptions (order_id);
CREATE INDEX IF NOT EXISTS subscriptions_parent ON subscriptions (parent_id);
CREATE INDEX IF NOT EXISTS subscriptions_pending ON subscriptions (status, ready_at);
CREATE INDEX IF NOT EXISTS subscriptions_due ON subscriptions (status, due);
CREATE UNIQUE INDEX IF NOT EXISTS users_id ON users (id);
CREATE UNIQUE INDEX IF NOT EXISTS users_upn ON users (upn);
CREATE INDEX IF NOT EXISTS users_customer ON users (customer_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS licenses_user_sku ON licenses (user_id, sku_guid);
CREATE INDEX IF NOT EXISTS licenses_customer ON licenses (customer_id, sku_guid);
CREATE INDEX IF NOT EXISTS line_items_invoice ON line_items (invoice_id, seq);
CREATE INDEX IF NOT EXISTS line_items_period ON line_items (period, seq);
CREATE INDEX IF NOT EXISTS line_items_unbilled ON line_items (invoice_id, period, currency, seq);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_id ON invoices (id);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_period ON invoices (period, currency);
CREATE INDEX IF NOT EXISTS audit_date ON audit (op_date, seq);
"""


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    return json.loads(text)


def wall_now() -> dt.datetime:
    """The machine's time: the one place the sandbox reads it. Everything else asks `Clock`."""
    return dt.datetime.now(dt.UTC)


class Clock:
    """Sandbox time = wall clock + an offset that the admin API can move forward (or back).

    Everything time-based (token expiry, cancellation windows, provisioning delays, throttling
    windows, invoices) reads this clock, so tests move time instead of sleeping. A world
    generated with a start moment (tests do this) begins its clock there, whatever the date on
    the machine, and goes back there on reset.
    """

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset = offset_seconds

    @staticmethod
    def offset_for(start: dt.datetime) -> float:
        """The offset that makes the clock read `start` now."""
        return start.timestamp() - wall_now().timestamp()

    def timestamp(self) -> float:
        return wall_now().timestamp() + self.offset

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp(), dt.UTC)


def iso(moment: dt.datetime | float) -> str:
    """ISO-8601 UTC with 7 fractional digits, like most Partner Center samples."""
    if isinstance(moment, float | int):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(dt.UTC)
    # isoformat is several times faster than strftime (the generator calls this a lot).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "0Z"


def parse_iso(text: str) -> dt.datetime:
    text = text.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        # Only the digits right after the dot: an offset's digits (+01:00) are not a fraction.
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail}"
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        # Stores built before these columns existed.
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(subscriptions)")}
        if "due" not in columns:
            self.conn.execute("ALTER TABLE subscriptions ADD COLUMN due TEXT NOT NULL DEFAULT ''")
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(licenses)")}
        if "assigned_at" not in columns:
            self.conn.execute("ALTER TABLE licenses ADD COLUMN assigned_at REAL NOT NULL DEFAULT 0")
        self.conn.executescript(INDEXES)
        self.lock = threading.RLock()
        self._depth = 0

    def drop_indexes(self) -> None:
        """Before a bulk load: inserting into indexes keyed by random GUIDs is what makes a big
        load slow; building them afterwards from sorted data is much faster."""
        with self.lock:
            for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ).fetchall():
                self.conn.execute(f'DROP INDEX "{name}"')

    def create_indexes(self) -> None:
        with self.lock:
            self.conn.executescript(INDEXES)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (re-entrant: nested calls join the outer one)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            cur = self.conn.execute(sql, params)
            return cur.fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            cur = self.conn.execute(sql, params)
            return cur.lastrowid or 0

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def doc(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        row = self.one(sql, params)
        return loads(row[0]) if row else None

    def docs(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [loads(row[0]) for row in self.all(sql, params)]
