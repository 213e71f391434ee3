"""``seatkeeper sandbox serve|generate``: build a world and serve it over TLS with uvicorn."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .generator import GeneratorOptions, generate
from .state import Sandbox, open_sandbox
from .tls import ensure_certificates


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seatkeeper sandbox", description="Partner Center sandbox"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def world_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data",
            default="./var/sandbox",
            help="data folder (store, certificates, sandbox.json)",
        )
        p.add_argument(
            "--seed",
            choices=("demo", "story", "none"),
            default="demo",
            help="the tests' demo world, the demo partner's customers (./dev run) or empty",
        )
        p.add_argument(
            "--random-seed", type=int, default=1, help="seed of the deterministic generator"
        )
        p.add_argument(
            "--customers", type=int, default=0, help="generated customers (besides the demo ones)"
        )
        p.add_argument("--subscriptions-per-customer", type=int, default=3)
        p.add_argument("--users-per-customer", type=int, default=5)

    serve = sub.add_parser("serve", help="serve the sandbox over https")
    world_options(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument(
        "--faults", default="", help="fault SPEC, e.g. 'eventual,error_rate=0.05' (README)"
    )
    serve.add_argument(
        "--dialect",
        default="",
        help="shapes of real answers, e.g. 'all' or 'bom,pascal_case,offset_dates' (README)",
    )
    serve.add_argument(
        "--regenerate", action="store_true", help="rebuild the world even if it exists"
    )

    gen = sub.add_parser("generate", help="build a data store only (benchmarks)")
    world_options(gen)
    return parser


def _options(args: argparse.Namespace) -> GeneratorOptions:
    return GeneratorOptions(
        seed=args.seed,
        random_seed=args.random_seed,
        customers=args.customers,
        subscriptions_per_customer=args.subscriptions_per_customer,
        users_per_customer=args.users_per_customer,
    )


def prepare(data_dir: Path, options: GeneratorOptions, *, regenerate: bool = False) -> None:
    """Generate the world unless the folder already holds one built with the same options."""
    path = data_dir / "sandbox.sqlite3"
    if path.exists() and not regenerate:
        import sqlite3

        conn = sqlite3.connect(path)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generator_options'").fetchone()
        except sqlite3.Error:
            row = None
        finally:
            conn.close()
        if row and json.loads(row[0]) == asdict(options):
            return
    generate(data_dir, options)


def write_info(sandbox: Sandbox) -> dict[str, Any]:
    from .admin import sandbox_info

    info = sandbox_info(sandbox)
    # It holds the app's client secret, the agent's password and the admin key: owner only.
    path = sandbox.data_dir / "sandbox.json"
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return info


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    data_dir = Path(args.data).resolve()
    prepare(data_dir, _options(args), regenerate=args.regenerate)
    # The store holds the same credentials as sandbox.json; SQLite gives the -wal and -shm
    # files it creates later the database's mode.
    for path in data_dir.glob("sandbox.sqlite3*"):
        path.chmod(0o600)
    tls = ensure_certificates(
        data_dir / "tls",
        (args.host,) if args.host not in ("0.0.0.0", "::") else (),  # noqa: S104
    )
    host_name = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    sandbox = open_sandbox(data_dir, f"https://{host_name}:{args.port}")
    sandbox.faults.apply_spec(args.faults)
    sandbox.dialect.apply_spec(args.dialect)
    if args.latency_ms:
        sandbox.faults.latency_ms = args.latency_ms
    info = write_info(sandbox)
    # Where the credentials are, never the credentials: terminals and CI logs are kept.
    print(f"Partner Center sandbox at {info['base_url']} (tenant {info['partner_tenant_id']})")
    print(
        f"Its credentials (client secret, agent password, admin key) are in "
        f"{data_dir / 'sandbox.json'}, readable by you only.",
        flush=True,
    )
    uvicorn.run(
        create_app(sandbox),
        host=args.host,
        port=args.port,
        ssl_certfile=str(tls.server_cert),
        ssl_keyfile=str(tls.server_key),
        log_level="warning",
        lifespan="off",
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    data_dir = Path(args.data).resolve()
    started = time.perf_counter()
    path = generate(data_dir, _options(args))
    elapsed = time.perf_counter() - started
    print(f"generated {path} in {elapsed:.1f}s")
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _generate(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
