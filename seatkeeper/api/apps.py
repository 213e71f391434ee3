from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "seatkeeper.api"
    label = "api"
