"""Deterministic generator and the command line."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from seatkeeper.sandbox.cli import main
from seatkeeper.sandbox.generator import GeneratorOptions, generate
from seatkeeper.sandbox.store import Store

ANCHOR = dt.date(2026, 11, 1)
TABLES = (
    "customers",
    "orders",
    "subscriptions",
    "users",
    "licenses",
    "line_items",
    "audit",
    "meta",
    "apps",
    "agents",
)


def _dump(path: Path) -> dict[str, list[tuple]]:
    store = Store(path / "sandbox.sqlite3")
    try:
        return {t: [tuple(r) for r in store.all(f"SELECT * FROM {t} ORDER BY 1")] for t in TABLES}  # noqa: S608
    finally:
        store.close()


def test_same_options_build_the_same_world(tmp_path: Path) -> None:
    options = GeneratorOptions(
        seed="demo", customers=30, subscriptions_per_customer=4, users_per_customer=6, random_seed=5
    )
    generate(tmp_path / "a", options, ANCHOR)
    generate(tmp_path / "b", options, ANCHOR)
    generate(
        tmp_path / "c",
        GeneratorOptions(
            seed="demo",
            customers=30,
            subscriptions_per_customer=4,
            users_per_customer=6,
            random_seed=6,
        ),
        ANCHOR,
    )
    first, second, other = _dump(tmp_path / "a"), _dump(tmp_path / "b"), _dump(tmp_path / "c")
    assert first == second
    assert first["customers"][:6] == other["customers"][:6]  # demo customers never move
    assert first["customers"][6:] != other["customers"][6:]


def test_bulk_world_counts_and_invariants(tmp_path: Path) -> None:
    generate(
        tmp_path,
        GeneratorOptions(
            seed="none", customers=40, subscriptions_per_customer=5, users_per_customer=8
        ),
        ANCHOR,
    )
    store = Store(tmp_path / "sandbox.sqlite3")
    try:
        assert store.one("SELECT count(*) FROM customers")[0] == 40
        assert store.one("SELECT count(*) FROM subscriptions")[0] == 200
        assert store.one("SELECT count(*) FROM users")[0] == 320
        assert store.one("SELECT count(DISTINCT domain) FROM customers")[0] == 40
        # Never more licences than seats, per customer and SKU.
        rows = store.all("SELECT l.customer_id, l.sku_guid, count(*) FROM licenses l GROUP BY 1, 2")
        seats: dict[tuple[str, str], int] = {}
        from seatkeeper.sandbox.catalog_data import PRODUCTS_BY_ID

        for (data,) in store.all("SELECT data FROM subscriptions WHERE status = 'active'"):
            sub = json.loads(data)
            key = (
                sub["_sandbox"]["customerId"],
                PRODUCTS_BY_ID[sub["_sandbox"]["productId"]].sku_guid,
            )
            seats[key] = seats.get(key, 0) + sub["quantity"]
        assert rows and all(count <= seats.get((cid, sku), 0) for cid, sku, count in rows)
        # Add-ons always hang off a base subscription of the same customer.
        for (data,) in store.all("SELECT data FROM subscriptions WHERE parent_id IS NOT NULL"):
            sub = json.loads(data)
            parent = store.one(
                "SELECT customer_id FROM subscriptions WHERE id = ?", (sub["parentSubscriptionId"],)
            )
            assert parent[0] == sub["_sandbox"]["customerId"]
    finally:
        store.close()


def test_cli_generate(tmp_path: Path, capsys) -> None:
    assert main(["generate", "--data", str(tmp_path), "--seed", "none", "--customers", "12"]) == 0
    assert "generated" in capsys.readouterr().out
    store = Store(tmp_path / "sandbox.sqlite3")
    try:
        assert store.one("SELECT count(*) FROM customers")[0] == 12
    finally:
        store.close()


def test_cli_serve_writes_sandbox_json_and_serves_tls(tmp_path: Path) -> None:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "seatkeeper.sandbox.cli",
            "serve",
            "--port",
            str(port),
            "--data",
            str(tmp_path),
            "--dialect",
            "bom,offset_dates",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        info_path = tmp_path / "sandbox.json"
        deadline = time.monotonic() + 30
        info = None
        while time.monotonic() < deadline:
            if info_path.exists():
                info = json.loads(info_path.read_text())
                try:
                    with httpx.Client(
                        verify=__import__("ssl").create_default_context(cafile=info["ca_cert"])
                    ) as client:
                        response = client.get(
                            f"{info['authority_url']}/v2.0/.well-known/openid-configuration"
                        )
                    break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        assert info is not None
        assert response.status_code == 200
        assert info["base_url"] == f"https://127.0.0.1:{port}"
        assert info["authority_url"] == f"{info['base_url']}/{info['partner_tenant_id']}"
        for key in (
            "client_id",
            "client_secret",
            "ca_cert",
            "admin_key",
            "agent_upn",
            "demo_customers",
        ):
            assert info[key]
        assert Path(info["ca_cert"]).exists()
        with httpx.Client(
            verify=__import__("ssl").create_default_context(cafile=info["ca_cert"])
        ) as client:
            dialect = client.get(
                f"{info['base_url']}/_sandbox/dialect",
                headers={"X-Sandbox-Key": info["admin_key"]},
            ).json()
        assert {name for name, on in dialect.items() if on} == {"bom", "offset_dates"}
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    # the credentials stay in files only their owner reads, and out of the printed output
    assert oct(info_path.stat().st_mode)[-3:] == "600"
    assert oct((tmp_path / "sandbox.sqlite3").stat().st_mode)[-3:] == "600"
    assert str(info_path) in output
    for key in ("client_secret", "admin_key", "agent_password"):
        assert info[key] not in output


def test_store_from_before_the_due_column_is_upgraded(tmp_path: Path) -> None:
    generate(tmp_path, GeneratorOptions(seed="demo"), ANCHOR)
    store = Store(tmp_path / "sandbox.sqlite3")
    store.conn.execute("DROP INDEX subscriptions_due")
    store.conn.execute("ALTER TABLE subscriptions DROP COLUMN due")
    store.close()
    store = Store(tmp_path / "sandbox.sqlite3")
    try:
        columns = {row[1] for row in store.all("PRAGMA table_info(subscriptions)")}
        assert "due" in columns
        assert store.one("SELECT count(*) FROM subscriptions WHERE due = ''")[0] == 17
    finally:
        store.close()


def test_a_world_served_before_nine_holds_nothing_dated_after_its_clock(tmp_path: Path) -> None:
    """History stops when the sandbox's clock starts: an audit record dated later (a demo
    subscription bought "today" at 07:00, in a world served from 01:45) would read as a change
    made after any discovery run begun before it (issue 9)."""
    start = dt.datetime(2026, 11, 1, 1, 45, tzinfo=dt.UTC)
    generate(
        tmp_path,
        GeneratorOptions(
            seed="demo", customers=40, subscriptions_per_customer=5, users_per_customer=2
        ),
        start=start,
    )
    store = Store(tmp_path / "sandbox.sqlite3")
    try:
        latest = store.one("SELECT max(op_date) FROM audit")[0]
        newest_order = store.one("SELECT max(created) FROM orders")[0]
        last_day = store.one("SELECT count(*) FROM audit WHERE op_date >= '2026-10-31T01:45'")[0]
    finally:
        store.close()
    assert latest <= "2026-11-01T01:45:00.0000000Z"
    assert newest_order <= start.timestamp()
    assert last_day > 0  # the demo's subscription bought "today" is still there, earlier
