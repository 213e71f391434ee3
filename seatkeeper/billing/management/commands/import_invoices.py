"""`seatkeeper import_invoices`: import the vendor's invoices now, for one provider account or
all, and (with --lines) wait for their line items, as the daily job and its sweep would."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from seatkeeper.billing import invoices
from seatkeeper.billing.models import LinesState, ProviderInvoice
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider


class Command(BaseCommand):
    help = "Import the vendor's invoices (and with --lines their line items) now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", type=int, help="provider account id (default: all)")
        parser.add_argument("--since", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--lines", action="store_true", help="also import the line items")

    def handle(self, *args, account: int | None, since: dt.date | None, lines: bool, **options):
        accounts = ProviderAccount.objects.filter(is_active=True)
        if account is not None:
            accounts = accounts.filter(pk=account)
            if not accounts.exists():
                raise CommandError(f"no active provider account {account}")
        for row in accounts:
            with get_provider(row) as provider:
                try:
                    counts = invoices.invoices_import(account=row, provider=provider, since=since)
                except ProviderError as error:
                    raise CommandError(f"{row}: {error}") from error
                self.stdout.write(
                    f"{row}: {counts.created} new, {counts.updated} changed, "
                    f"{counts.unchanged} unchanged, {counts.documents} statements"
                )
                if not lines:
                    continue
                pending = ProviderInvoice.objects.filter(
                    account=row, lines_state__in=[LinesState.PENDING, LinesState.EXPORTING]
                )
                for invoice in pending:
                    progress = invoices.invoice_lines_import(invoice=invoice, provider=provider)
                    self.stdout.write(f"  {invoice}: {progress.state} {progress.message}")
