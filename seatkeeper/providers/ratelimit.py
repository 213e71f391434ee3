"""A client-side rate limiter shared by every worker that talks to the same vendor account.

The vendor counts requests per tenant over a window (Partner Center: 500 per minute per tenant
identifier). A per-process limiter would let N workers send N times that, so the buckets live
where all workers can see them: the database (one machine, SQLite or PostgreSQL) or Redis (several
machines). Both stores implement the same token bucket; the limiter on top only decides how long to
sleep, and the sleep function is injected so tests never wait for real.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.db import IntegrityError, transaction
from django.db.models import F

from seatkeeper.core import clock
from seatkeeper.providers.errors import Throttled


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """A token bucket: `rate` tokens per second, holding at most `capacity` tokens."""

    key: str
    rate: float
    capacity: float

    @classmethod
    def for_window(cls, *, key: str, requests: int, window_seconds: float, burst: int) -> Limit:
        """A bucket that never sends more than `requests` in any `window_seconds` window.

        Over any window a bucket lets through at most `capacity + rate * window`, so the refill
        rate is what is left of the allowance after the burst.
        """
        burst = max(1, min(burst, requests // 2))
        return cls(key=key, rate=(requests - burst) / window_seconds, capacity=float(burst))


class BucketStore(Protocol):
    def take(self, *, limit: Limit, cost: float, now: float) -> float:
        """Take `cost` tokens if the bucket holds them and return 0; else take nothing and
        return how many seconds until it will."""

    def drain(self, *, limit: Limit, seconds: float, now: float) -> None:
        """Empty the bucket so that nobody sends for `seconds` (the vendor told us to wait)."""


def _refill(*, tokens: float, refilled_at: float, limit: Limit, now: float) -> tuple[float, float]:
    # Clocks of different workers may disagree slightly; never refill backwards.
    elapsed = max(0.0, now - refilled_at)
    return min(limit.capacity, tokens + elapsed * limit.rate), max(now, refilled_at)


class DatabaseBucketStore:
    """Buckets as rows, changed only by `UPDATE ... WHERE version = <what we read>`.

    A lost race updates zero rows and we read again; no lock is held while anybody sleeps, and
    it behaves the same on SQLite (where SELECT FOR UPDATE is a no-op) and PostgreSQL.
    """

    max_races = 100

    def take(self, *, limit: Limit, cost: float, now: float) -> float:
        from seatkeeper.providers.models import RateLimitBucket

        for _ in range(self.max_races):
            row = (
                RateLimitBucket.objects.filter(key=limit.key)
                .values("tokens", "refilled_at", "version")
                .first()
            )
            if row is None:
                try:
                    with transaction.atomic():
                        RateLimitBucket.objects.create(
                            key=limit.key, tokens=limit.capacity, refilled_at=now
                        )
                except IntegrityError:
                    pass  # another worker created it first; read theirs
                continue
            tokens, refilled_at = _refill(
                tokens=row["tokens"], refilled_at=row["refilled_at"], limit=limit, now=now
            )
            wait = 0.0 if tokens >= cost else (cost - tokens) / limit.rate
            if wait == 0.0:
                tokens -= cost
            won = RateLimitBucket.objects.filter(key=limit.key, version=row["version"]).update(
                tokens=tokens, refilled_at=refilled_at, version=F("version") + 1
            )
            if won:
                return wait
        # Hundreds of lost races in a row means extreme contention: back off a little.
        return cost / limit.rate

    def drain(self, *, limit: Limit, seconds: float, now: float) -> None:
        from seatkeeper.providers.models import RateLimitBucket

        floor = -seconds * limit.rate
        RateLimitBucket.objects.filter(key=limit.key, tokens__gt=floor).update(
            tokens=floor, refilled_at=now, version=F("version") + 1
        )


# Runs atomically inside Redis, so concurrent workers on any machine see one bucket. Numbers go
# back as strings because Redis truncates Lua numbers to integers in replies.
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
if now > ts then tokens = math.min(capacity, tokens + (now - ts) * rate); ts = now end
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 3600)
return tostring(wait)
"""

_DRAIN_SCRIPT = """
local floor = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens == nil or tokens > floor then
  redis.call('HSET', KEYS[1], 'tokens', tostring(floor), 'ts', tostring(now))
  redis.call('EXPIRE', KEYS[1], 3600)
end
return 1
"""


class RedisBucketStore:
    def __init__(self, *, url: str, prefix: str = "seatkeeper:ratelimit:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE_SCRIPT)
        self._drain = self._redis.register_script(_DRAIN_SCRIPT)

    def take(self, *, limit: Limit, cost: float, now: float) -> float:
        args = [repr(limit.rate), repr(limit.capacity), repr(cost), repr(now)]
        return float(self._take(keys=[self._prefix + limit.key], args=args))

    def drain(self, *, limit: Limit, seconds: float, now: float) -> None:
        self._drain(keys=[self._prefix + limit.key], args=[repr(-seconds * limit.rate), repr(now)])


def _clock_seconds() -> float:
    return clock.now().timestamp()


class RateLimiter:
    """Blocks (through the injected `sleep`) until every bucket named has a token for us."""

    def __init__(
        self,
        *,
        store: BucketStore,
        sleep: Callable[[float], None] = clock.sleep,
        now: Callable[[], float] = _clock_seconds,
        max_wait: float | None = None,
    ) -> None:
        self.store = store
        self.sleep = sleep
        self.now = now
        # A caller with other work to do (the provisioning worker) waits at most this long and
        # is told how long the rest would be (Throttled.retry_after) instead; None waits it out.
        self.max_wait = max_wait
        self.waited = 0.0  # total seconds slept; read by the benchmark

    def acquire(self, limits: Sequence[Limit], *, cost: float = 1.0) -> None:
        for limit in limits:
            while True:
                wait = self.store.take(limit=limit, cost=cost, now=self.now())
                if wait <= 0:
                    break
                if self.max_wait is not None and wait > self.max_wait:
                    raise Throttled(
                        "the vendor's request budget is spent for now",
                        retry_after=wait,
                        code="429",
                    )
                # Sleep a hair longer than needed so the refill has really happened.
                pause = math.ceil(wait * 1000) / 1000
                self.waited += pause
                self.sleep(pause)

    def hold_off(self, limits: Sequence[Limit], *, seconds: float) -> None:
        """Make every worker sharing these buckets wait `seconds` (after a 429 Retry-After)."""
        for limit in limits:
            self.store.drain(limit=limit, seconds=seconds, now=self.now())


def default_store() -> BucketStore:
    """Redis when the deployment has it (several machines), else the database (one machine)."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", None)
    if url:
        return _redis_store(url)
    return DatabaseBucketStore()


@functools.cache
def _redis_store(url: str) -> RedisBucketStore:
    # One connection pool per process, shared by every connector built here.
    return RedisBucketStore(url=url)
