"""Throttles for the two account forms an attacker can repeat at will.

Axes locks the sign-in form. Two more forms need a limit of their own:

- the password-change form checks the old password, so a stolen session could guess it
  without end. Wrong old passwords are counted per login, whatever address they come from,
  and after `PASSWORD_CHANGE_GUESSES.failures` of them the form is locked for a while;
- the password-reset form sends an e-mail to whatever address it is given, so it could flood
  an inbox or the outgoing mail. Requests are counted per address asked for and per client,
  the same way whether a login has that address or not, so the limit reveals nothing.

The counts are token buckets kept where every web process sees them: the store the vendor
rate limiter shares (`providers.ratelimit`: the database on one machine, Redis when the
deployment has it). Time comes from the clock seam. Keys are keyed hashes, so the store holds
no e-mail address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass

from django.conf import settings

from seatkeeper.core import clock
from seatkeeper.providers.ratelimit import Limit, default_store

KEY_PREFIX = "throttle:"


def _now() -> float:
    return clock.now().timestamp()


def _seconds(wait: float) -> int:
    # Both stores work in floating point (Redis even through strings): a bucket refilled to
    # exactly zero may read a hair below it. Less than a hundredth of a second is no wait.
    return 0 if wait < 0.01 else math.ceil(wait)


def _limit(name: str, key: object, *, capacity: float, window: dt.timedelta) -> Limit:
    digest = hmac.new(settings.SECRET_KEY.encode(), str(key).encode(), hashlib.sha256)
    return Limit(
        key=f"{KEY_PREFIX}{name}:{digest.hexdigest()[:40]}",
        rate=capacity / window.total_seconds(),
        capacity=capacity,
    )


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most `attempts` per `window` (a burst of `attempts`, then one every window/attempts)."""

    name: str
    attempts: int
    window: dt.timedelta

    def hit(self, key: object) -> int:
        """Count one attempt: 0 when it is allowed, else the seconds until one will be."""
        limit = _limit(self.name, key, capacity=float(self.attempts), window=self.window)
        return _seconds(default_store().take(limit=limit, cost=1.0, now=_now()))


@dataclass(frozen=True, slots=True)
class Lockout:
    """Locked for `duration` once `failures` failures came within about `duration`."""

    name: str
    failures: int
    duration: dt.timedelta

    def _limit(self, key: object) -> Limit:
        # The failure that finds the bucket empty locks: `failures - 1` tokens to spend first.
        return _limit(self.name, key, capacity=float(self.failures - 1), window=self.duration)

    def locked_for(self, key: object) -> int:
        """Seconds the lock still holds (0: open). Only a lock empties the bucket below zero,
        so asking for no token at all answers exactly that."""
        return _seconds(default_store().take(limit=self._limit(key), cost=0.0, now=_now()))

    def failed(self, key: object) -> int:
        """Count one failure: the seconds of the lock it set off, or 0."""
        limit, store, now = self._limit(key), default_store(), _now()
        if not _seconds(store.take(limit=limit, cost=1.0, now=now)):
            return 0
        seconds = self.duration.total_seconds()
        store.drain(limit=limit, seconds=seconds, now=now)
        return math.ceil(seconds)


PASSWORD_CHANGE_GUESSES = Lockout("password-change", failures=5, duration=dt.timedelta(minutes=15))
PASSWORD_RESET_PER_ADDRESS = Throttle(
    "password-reset-address", attempts=3, window=dt.timedelta(hours=1)
)
PASSWORD_RESET_PER_CLIENT = Throttle(
    "password-reset-client", attempts=10, window=dt.timedelta(hours=1)
)
