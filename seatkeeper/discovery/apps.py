import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiscoveryConfig(AppConfig):
    name = "seatkeeper.discovery"
    label = "discovery"
    verbose_name = _("Discovery")

    def ready(self) -> None:
        from seatkeeper.core.scheduling import register_periodic
        from seatkeeper.discovery import tasks

        register_periodic(
            "discovery.schedule",
            dt.timedelta(minutes=tasks.SCHEDULE_CHECK_MINUTES),
            tasks.discovery_schedule,
        )
