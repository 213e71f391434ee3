"""Test support shared by every app's tests."""

from __future__ import annotations

import datetime as dt

# The moment every test starts at (see `seatkeeper/conftest.py`): the suite never reads the
# machine's date, so it passes on any day (CI runs it a second time 400 days ahead).
TEST_NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
