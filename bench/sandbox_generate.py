"""Benchmark: how long the Partner Center sandbox takes to build big worlds.

Builds, for each size, a world of N customers x S subscriptions x U users into a temporary
folder (deleted afterwards unless --keep) and reports wall time, rows written, rows/s and the
store's size on disk. Figures only: no assertion.

    .venv/bin/python bench/sandbox_generate.py [--customers 10000 100000] [--subscriptions 10]
                                               [--users 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from seatkeeper.sandbox.generator import GeneratorOptions, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--keep", type=Path, default=None, help="build into DIR/<size> and keep")
    args = parser.parse_args()
    print(f"{'customers':>10} {'subs':>9} {'users':>10} {'seconds':>8} {'rows/s':>9} {'MB':>8}")
    for customers in args.customers:
        root = args.keep or Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
        folder = root / str(customers)
        options = GeneratorOptions(
            seed="none",
            customers=customers,
            subscriptions_per_customer=args.subscriptions,
            users_per_customer=args.users,
        )
        started = time.perf_counter()
        path = generate(folder, options)
        elapsed = time.perf_counter() - started
        conn = sqlite3.connect(path)
        tables = (
            "customers",
            "subscriptions",
            "orders",
            "users",
            "licenses",
            "line_items",
            "audit",
        )
        rows = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)  # noqa: S608
        subs = conn.execute("SELECT count(*) FROM subscriptions").fetchone()[0]
        users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        conn.close()
        size_mb = path.stat().st_size / 1e6
        rate = rows / elapsed
        print(f"{customers:>10} {subs:>9} {users:>10} {elapsed:>8.1f} {rate:>9.0f} {size_mb:>8.0f}")
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
