import datetime as dt

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "seatkeeper.api"
    label = "api"

    def ready(self) -> None:
        from seatkeeper.api import idempotency
        from seatkeeper.core.scheduling import register_periodic

        register_periodic(
            "api.idempotency_purge", dt.timedelta(hours=1), idempotency.purge_expired_keys
        )
