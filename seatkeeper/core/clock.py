"""The one clock. Domain code calls `clock.now()`; tests freeze or move it with `frozen(...)`.

Times are aware UTC datetimes everywhere; conversion to a person's or an account's zone happens
only at the edges (display, billing period boundaries).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

UTC = dt.UTC
_state = threading.local()


def now() -> dt.datetime:
    fixed = getattr(_state, "fixed", None)
    if fixed is not None:
        return fixed
    return dt.datetime.now(UTC)


def today() -> dt.date:
    return now().date()


@contextlib.contextmanager
def frozen(moment: dt.datetime) -> Iterator[FrozenClock]:
    """Freeze `now()` at `moment` (aware) for the current thread; `.advance()` moves it."""
    if moment.tzinfo is None:
        raise ValueError("the clock only takes aware datetimes")
    previous = getattr(_state, "fixed", None)
    clock = FrozenClock()
    _state.fixed = moment.astimezone(UTC)
    try:
        yield clock
    finally:
        _state.fixed = previous


class FrozenClock:
    def advance(self, **delta: float) -> dt.datetime:
        _state.fixed = _state.fixed + dt.timedelta(**delta)
        return _state.fixed

    def set(self, moment: dt.datetime) -> dt.datetime:
        _state.fixed = moment.astimezone(UTC)
        return _state.fixed
