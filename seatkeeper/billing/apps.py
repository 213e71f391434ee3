from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "seatkeeper.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from seatkeeper.billing import charge_tasks

        charge_tasks.register()
