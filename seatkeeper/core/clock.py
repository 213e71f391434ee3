"""The one clock. Domain code calls `clock.now()`; tests freeze or move it with `frozen(...)`.

Times are aware UTC datetimes everywhere; conversion to a person's or an account's zone happens
only at the edges (display, billing period boundaries).

A frozen clock holds for the whole process, not one thread: a test's live server, its worker
threads and the test itself must all agree on "now", or data written at the frozen moment is
read back at the real one (the suite would then pass only on the day it was written). The test
suite freezes the clock for every test (see `seatkeeper/conftest.py`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator

UTC = dt.UTC
_lock = threading.Lock()
_fixed: dt.datetime | None = None


def now() -> dt.datetime:
    fixed = _fixed
    if fixed is not None:
        return fixed
    return dt.datetime.now(UTC)


def today() -> dt.date:
    return now().date()


def sleep(seconds: float) -> None:
    """Wait `seconds`: for real, or, while the clock is frozen, by moving it forward, so code
    that waits for time to pass (a rate limiter, a back-off) sees it pass at once in tests."""
    global _fixed
    if seconds <= 0:
        return
    with _lock:
        if _fixed is not None:
            _fixed = _fixed + dt.timedelta(seconds=seconds)
            return
    time.sleep(seconds)


def is_frozen() -> bool:
    return _fixed is not None


def _set(moment: dt.datetime | None) -> None:
    global _fixed
    with _lock:
        _fixed = moment


@contextlib.contextmanager
def frozen(moment: dt.datetime) -> Iterator[FrozenClock]:
    """Freeze `now()` at `moment` (aware) for the process; `.advance()` moves it. Blocks nest:
    leaving one restores the moment that held before it."""
    if moment.tzinfo is None:
        raise ValueError("the clock only takes aware datetimes")
    previous = _fixed
    _set(moment.astimezone(UTC))
    try:
        yield FrozenClock()
    finally:
        _set(previous)


class FrozenClock:
    def advance(self, **delta: float) -> dt.datetime:
        global _fixed
        with _lock:
            _fixed = (_fixed or dt.datetime.now(UTC)) + dt.timedelta(**delta)
            return _fixed

    def set(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            raise ValueError("the clock only takes aware datetimes")
        _set(moment.astimezone(UTC))
        return moment.astimezone(UTC)
