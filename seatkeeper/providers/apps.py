import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvidersConfig(AppConfig):
    name = "seatkeeper.providers"
    label = "providers"
    verbose_name = _("Providers")

    def ready(self) -> None:
        from seatkeeper.core.scheduling import register_periodic
        from seatkeeper.providers import tasks

        register_periodic(
            "providers.consent_health",
            dt.timedelta(hours=tasks.CONSENT_CHECK_EVERY_HOURS),
            tasks.consent_health,
        )
