from __future__ import annotations

import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "seatkeeper.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from seatkeeper.billing import charge_tasks, tasks
        from seatkeeper.core.scheduling import register_periodic

        charge_tasks.register()
        # The vendor issues invoices once a month (days 6 to 8 for New Commerce); a daily look
        # finds each new one the day it appears.
        register_periodic("billing.invoices_daily", dt.timedelta(hours=24), tasks.invoices_daily)
        # Line imports wait for the vendor's exports: look every minute which ones are due.
        register_periodic(
            "billing.invoice_lines_sweep", dt.timedelta(minutes=1), tasks.invoice_lines_sweep
        )
        # Both sides of a period move after it closes (credit notes, corrections): compare the
        # recent periods not marked reconciled again each day, so the dashboard stays true.
        register_periodic("billing.reconcile_daily", dt.timedelta(hours=24), tasks.reconcile_daily)
