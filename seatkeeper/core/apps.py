from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "seatkeeper.core"
    label = "core"
