"""The benches' sandbox in a process of its own (`seatkeeper sandbox serve`), and their
PostgreSQL database made anew: what bench/invoices.py, bench/reconciliation.py and
bench/discovery.py --processes share."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def recreate_postgres(url: str) -> None:
    """Drop and create the database `url` names (on the server it names)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(
    workdir: Path, *options: str, patience_s: float = 120
) -> tuple[subprocess.Popen, dict]:
    """Serve a sandbox world from `workdir / "sandbox"` with `options` (those of `seatkeeper
    sandbox serve`: the world's size, its faults); return the process and its sandbox.json
    once it answers. Its output goes to `workdir / "sandbox.log"`. Building a big world takes
    a while: `patience_s` is how long it may."""
    data = workdir / "sandbox"
    log_path = workdir / "sandbox.log"
    command = [
        sys.executable, "-m", "seatkeeper.cli", "sandbox", "serve", "--data", str(data),
        "--port", str(free_port()), *options,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command, no outside input
            command, stdout=log, stderr=subprocess.STDOUT
        )
    info_file = data / "sandbox.json"
    deadline = time.monotonic() + patience_s
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox did not start; see {log_path}")
        time.sleep(0.2)
    time.sleep(0.2)  # written whole before it listens; give it a moment
    info = json.loads(info_file.read_text())
    import httpx

    with httpx.Client(verify=info["ca_cert"], timeout=5) as client:
        while True:
            try:
                client.get(f"{info['base_url']}/_sandbox/info",
                           headers={"X-Sandbox-Key": info["admin_key"]})  # fmt: skip
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    return process, info


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process, then SIGKILL whatever has not ended 30 s later (the sandbox's
    server waits for its clients' keep-alive connections, which a bench still holds)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
