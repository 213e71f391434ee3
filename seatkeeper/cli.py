"""`seatkeeper`: the operators' command.

seatkeeper serve [--host H] [--port P] [--workers N]   web (gunicorn; static files by whitenoise)
seatkeeper worker [--queue default]                     background tasks (database or Redis queue)
seatkeeper demo                                         load the demo organisations and logins
seatkeeper sandbox serve|generate ...                   the Partner Center sandbox
seatkeeper <django command> ...                         anything manage.py does (migrate, shell…)
"""

from __future__ import annotations

import os
import sys


def _django(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["seatkeeper", *argv])
    return 0


def _serve(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="seatkeeper serve")
    parser.add_argument("--host", default=os.environ.get("SEATKEEPER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SEATKEEPER_PORT", "8000")))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("SEATKEEPER_WEB_WORKERS", "2"))
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    import django

    django.setup()  # fail here, loudly, on a malformed setting, before gunicorn forks
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    gunicorn_args = [
        "gunicorn",
        "seatkeeper.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "-",
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *gunicorn_args])  # noqa: S606
    return 0


def _worker(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seatkeeper.settings")
    return _django(["worker", *argv])


def _sandbox(argv: list[str]) -> int:
    from seatkeeper.sandbox.cli import main as sandbox_main

    return sandbox_main(argv)


COMMANDS = {"serve": _serve, "worker": _worker, "sandbox": _sandbox}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command in COMMANDS:
        return COMMANDS[command](rest)
    return _django(argv)


if __name__ == "__main__":
    sys.exit(main())
