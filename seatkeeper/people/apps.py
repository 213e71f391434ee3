from __future__ import annotations

import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "seatkeeper.people"
    label = "people"
    verbose_name = _("People")

    def ready(self) -> None:
        from seatkeeper.core.scheduling import register_periodic
        from seatkeeper.people import tasks

        register_periodic(
            "people.onboarding_sweep", dt.timedelta(minutes=1), tasks.onboarding_sweep
        )
        register_periodic("people.licence_sweep", dt.timedelta(minutes=1), tasks.licence_sweep)
        register_periodic("people.user_sweep", dt.timedelta(minutes=1), tasks.user_sweep)
        register_periodic(
            "people.credentials_purge", dt.timedelta(minutes=15), tasks.credentials_purge
        )
