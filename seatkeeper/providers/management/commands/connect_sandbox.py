"""`seatkeeper connect_sandbox var/sandbox/sandbox.json`: connect the demo partner to a running
Partner Center sandbox, exactly as an operator connects a partner to the real service (see
`seatkeeper.providers.demo`). Idempotent."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.core.errors import ServiceError
from seatkeeper.providers import demo, services
from seatkeeper.providers.errors import ProviderError


class Command(BaseCommand):
    help = "Connect the demo partner to a running Partner Center sandbox (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("sandbox_json", type=Path)
        parser.add_argument(
            "--partner", default=None, help="partner name (default: the first partner)"
        )
        parser.add_argument(
            "--no-discovery",
            action="store_true",
            help="skip the first discovery of the sandbox's customers and subscriptions",
        )
        parser.add_argument(
            "--demo-orders",
            action="store_true",
            help="also order the demo subscriptions (once); the worker provisions them",
        )

    def handle(
        self,
        *args,
        sandbox_json: Path,
        partner: str | None,
        demo_orders: bool,
        no_discovery: bool = False,
        **options,
    ) -> None:
        try:
            info = json.loads(sandbox_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {sandbox_json}: {error}") from error
        partners = Organisation.objects.filter(kind=OrganisationKind.PARTNER).order_by("pk")
        organisation = partners.filter(name=partner).first() if partner else partners.first()
        if organisation is None:
            raise CommandError("no partner organisation: run `seatkeeper demo` first")
        try:
            account = demo.connect(info, partner=organisation)
        except ServiceError as error:
            raise CommandError(f"the sandbox account was refused: {error.message}") from error
        check = services.account_test_connection(actor=None, account=account)
        if not check.ok:
            raise CommandError(f"the sandbox does not accept the account: {check.reason}")
        self.stdout.write(
            f"Provider account {account.name} registered at {info['base_url']}: consent "
            f"{account.consent_status}, connection tested"
        )
        refresh = demo.connect_catalog(account)
        self.stdout.write(
            f"Catalog imported from the sandbox: {refresh.status}, "
            f"{refresh.new_count} new, {refresh.changed_count} changed"
        )
        try:
            links = demo.link_tenants(account)
        except ProviderError as error:
            raise CommandError(f"linking the demo customers failed: {error}") from error
        for line in links.matched:
            self.stdout.write(f"  linked {line}")
        for line in links.created:
            self.stdout.write(f"  tenant created {line}")
        for line in links.skipped:
            self.stdout.write(f"  not linked: {line}")
        if not no_discovery:
            self._first_discovery(account)
        if demo_orders:
            from seatkeeper.subscriptions.demo import place_orders

            self.stdout.write(f"Demo orders placed: {place_orders()}")
        self.stdout.write(
            "Login with Microsoft at the sandbox: partner agent "
            f"{info.get('agent_upn')} / {info.get('agent_password')}, one-time codes from the "
            f"TOTP secret {info.get('agent_totp_secret')} (or GET /_sandbox/mfa-code)"
        )

    def _first_discovery(self, account) -> None:
        """Import every customer and subscription the sandbox holds, once: what Seatkeeper did
        not order itself shows too. Later runs are the partner's (Trigger discovery)."""
        from seatkeeper.discovery import services as discovery
        from seatkeeper.discovery.models import RunState, Trigger

        if account.discovery_runs.filter(state=RunState.COMPLETED).exists():
            self.stdout.write("Discovery: already run for this account")
            return
        try:
            run = discovery.run_start(
                actor=None, account=account, trigger=Trigger.SYSTEM, enqueue=False
            )
        except ServiceError as error:
            raise CommandError(f"discovery could not start: {error.message}") from error
        run = discovery.run_inline(run)
        figures = discovery.run_figures(run)
        counts = ", ".join(
            f"{kind} {values['created']} new / {values['updated']} updated"
            for kind, values in figures.counts.items()
        )
        self.stdout.write(
            f"Discovery {run.get_state_display().lower()}: {figures.customers_done} of "
            f"{figures.customers_total} customers, {figures.calls} calls; {counts}"
        )
        if run.state == RunState.ERROR:
            raise CommandError(f"discovery failed: {run.error_message}")
