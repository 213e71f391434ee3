import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "seatkeeper.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from seatkeeper.catalog import tasks
        from seatkeeper.core.scheduling import register_periodic

        register_periodic(
            "catalog.refresh",
            dt.timedelta(hours=tasks.REFRESH_EVERY_HOURS),
            tasks.refresh_all_catalogs,
        )
