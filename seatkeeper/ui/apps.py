from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "seatkeeper.ui"
    label = "ui"
