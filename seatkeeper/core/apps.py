from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "seatkeeper.core"
    label = "core"

    def ready(self) -> None:
        import datetime as dt

        from seatkeeper.core import tasks
        from seatkeeper.core.scheduling import register_periodic

        register_periodic("core.reap_workers", dt.timedelta(minutes=1), tasks.reap_workers)
