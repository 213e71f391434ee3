"""Background work of the provider accounts: watching the partners' consents."""

from __future__ import annotations

from django.tasks import task

from seatkeeper.core import clock
from seatkeeper.providers import notifications

# Thresholds are days apart; a few checks a day find each one the day it is crossed.
CONSENT_CHECK_EVERY_HOURS = 6


@task()
def consent_health() -> int:
    """E-mail the cloud admins about refresh tokens close to lapsing (or lapsed)."""
    return notifications.expiring_consents(clock.now())
