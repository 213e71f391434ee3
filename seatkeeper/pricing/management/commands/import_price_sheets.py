"""`seatkeeper import_price_sheets [--vendor ID] [--months N]`: import the license-based price
sheets of every connected Microsoft vendor now, for every market the partner's customers are in,
and with `--months N` the N months before this one first (`timeline=history`), oldest first.

The catalog task imports the current sheets after every refresh; this backfills history when a
partner with older subscriptions starts, so their past periods price at the prices of their
time rather than at the first price Seatkeeper learnt. Idempotent: a price already known is
not added again."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from seatkeeper.catalog.models import Vendor, VendorKind, add_months
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.pricing.pricesheets import price_sheet_download, price_sheet_markets
from seatkeeper.providers.errors import ProviderError

MAX_MONTHS = 36


class Command(BaseCommand):
    help = "Import the vendors' license-based price sheets now (and past months with --months)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--vendor", type=int, default=None, help="one vendor's id")
        parser.add_argument(
            "--months", type=int, default=0, help=f"past months to backfill first (0-{MAX_MONTHS})"
        )

    def handle(self, *args, vendor: int | None, months: int, **options) -> None:
        if not 0 <= months <= MAX_MONTHS:
            raise CommandError(f"--months must be between 0 and {MAX_MONTHS}")
        vendors = Vendor.objects.filter(
            kind=VendorKind.API,
            is_active=True,
            provider_account__is_active=True,
            provider_account__kind="microsoft",
        ).select_related("organisation", "provider_account")
        if vendor is not None:
            vendors = vendors.filter(pk=vendor)
            if not vendors.exists():
                raise CommandError(f"no active connected Microsoft vendor {vendor}")
        this_month = clock.today().replace(day=1)
        # Oldest first: a month whose prices did not change then adds nothing.
        wanted = [f"{add_months(this_month, -back):%Y%m}" for back in range(months, 0, -1)]
        failures = 0
        for item in vendors.order_by("pk"):
            for market in price_sheet_markets(item):
                for month in [*wanted, ""]:
                    label = f"{item} {market} {month or 'current'}"
                    try:
                        run = price_sheet_download(
                            actor=None, vendor=item, market=market, month=month
                        )
                    except (ProviderError, ServiceError) as error:
                        failures += 1
                        self.stderr.write(f"{label}: failed: {error}")
                        continue
                    self.stdout.write(
                        f"{label}: {run.rows_read} lines, {run.prices_added} prices added, "
                        f"{run.prices_unchanged} unchanged, {run.offers_without_price} offers "
                        "without a price"
                    )
        if failures:
            raise CommandError(f"{failures} price sheet(s) not imported")
