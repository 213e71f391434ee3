"""`seatkeeper billing run --cycle …`: bill cycles from the command line.

    seatkeeper billing run --cycle last                 every account's last ended cycle
    seatkeeper billing run --cycle 2026-10-15           every account's cycle holding that day
    seatkeeper billing run --cycle 2026-10-15 --account 12
    seatkeeper billing run --cycle last --enqueue       through the task queue instead

Runs are idempotent: running a cycle again writes only what changed since, as new lines.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.billing import charge_tasks, charges, cycles
from seatkeeper.core.errors import ServiceError


class Command(BaseCommand):
    help = "Billing: run the billing of a cycle (see `seatkeeper billing run --help`)."

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        run = commands.add_parser("run", help="Bill one cycle per billing account.")
        run.add_argument(
            "--cycle",
            required=True,
            help="'last' (each account's last ended cycle) or a day (YYYY-MM-DD) in the cycle",
        )
        run.add_argument("--account", type=int, help="Only this reseller or partner (its id)")
        run.add_argument("--enqueue", action="store_true", help="Run through the task queue")

    def handle(self, *args, command: str, **options) -> None:
        if command == "run":
            self._run(options["cycle"], options.get("account"), options["enqueue"])

    def _accounts(self, account_id: int | None) -> list[Organisation]:
        accounts = Organisation.objects.filter(
            kind__in=[OrganisationKind.PARTNER, OrganisationKind.RESELLER], is_active=True
        ).order_by("path")
        if account_id is not None:
            accounts = accounts.filter(pk=account_id)
            if not accounts.exists():
                raise CommandError(f"No reseller or partner with id {account_id}.")
        return list(accounts)

    def _run(self, cycle: str, account_id: int | None, enqueue: bool) -> None:
        day = None
        if cycle != "last":
            try:
                day = dt.date.fromisoformat(cycle)
            except ValueError:
                raise CommandError("--cycle takes 'last' or a day as YYYY-MM-DD.") from None
        failed = 0
        for account in self._accounts(account_id):
            target = day or cycles.last_ended_cycles(account, 1)[0].end
            if enqueue:
                charge_tasks.run_cycle.enqueue(account_id=account.pk, day=target.isoformat())
                self.stdout.write(f"{account.name}: enqueued the cycle holding {target}")
                continue
            try:
                run = charges.billing_run(account=account, day=target)
            except ServiceError as error:
                failed += 1
                self.stderr.write(f"{account.name}: {error.message}")
                continue
            row = run.cycle
            self.stdout.write(
                f"{account.name}: cycle {row.start_date} – {row.end_date}: "
                f"{run.subscriptions} subscriptions, {run.lines_created} new lines "
                f"({run.corrections} corrections), {run.unchanged} unchanged, "
                f"{len(run.problems)} problems"
            )
        if failed:
            raise CommandError(f"{failed} account(s) could not be billed.")
