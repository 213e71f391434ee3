from __future__ import annotations

import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "seatkeeper.subscriptions"
    label = "subscriptions"
    verbose_name = _("Subscriptions")

    def ready(self) -> None:
        from seatkeeper.core.scheduling import register_periodic
        from seatkeeper.subscriptions import tasks

        register_periodic(
            "subscriptions.provisioning_sweep",
            dt.timedelta(minutes=1),
            tasks.provisioning_sweep,
            at_worker_start=True,
        )
        register_periodic(
            "subscriptions.refresh_vendor_facts",
            dt.timedelta(minutes=10),
            tasks.refresh_vendor_facts,
        )
        register_periodic("subscriptions.lifecycle", dt.timedelta(hours=1), tasks.lifecycle)
        register_periodic(
            "subscriptions.window_reminders", dt.timedelta(hours=6), tasks.window_reminders
        )
