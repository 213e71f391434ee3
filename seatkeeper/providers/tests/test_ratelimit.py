from __future__ import annotations

import os
import uuid
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seatkeeper.providers.errors import Throttled
from seatkeeper.providers.models import RateLimitBucket
from seatkeeper.providers.ratelimit import (
    BucketStore,
    DatabaseBucketStore,
    Limit,
    RateLimiter,
    RedisBucketStore,
)
from seatkeeper.providers.tests.fakes import FakeTime


def most_in_any_window(times: list[float], window: float) -> int:
    best, recent = 0, deque[float]()
    for moment in times:
        recent.append(moment)
        while recent[0] <= moment - window:
            recent.popleft()
        best = max(best, len(recent))
    return best


def run_workers(
    store: BucketStore, *, requests: int, workers: int = 3
) -> tuple[list[float], float]:
    """Round-robin `workers` limiters (separate processes in real life) over one store."""
    time = FakeTime()
    limiters = [RateLimiter(store=store, sleep=time.sleep, now=time.now) for _ in range(workers)]
    limit = Limit.for_window(key=f"test:{uuid.uuid4()}", requests=100, window_seconds=60, burst=10)
    sent: list[float] = []
    for n in range(requests):
        limiters[n % workers].acquire([limit])
        sent.append(time.now())
    return sent, time.now() - 1_700_000_000.0


@pytest.mark.django_db
def test_database_buckets_keep_every_window_under_the_budget_across_workers() -> None:
    # when: 3 workers send 450 requests through one 100-per-minute budget
    sent, elapsed = run_workers(DatabaseBucketStore(), requests=450)

    # then: no 60-second window holds more than 100, and throughput is close to the budget
    assert most_in_any_window(sent, 60) <= 100
    assert 100 * (450 - 10) / 90 / 60 <= 450 / elapsed * 60 <= 100
    assert RateLimitBucket.objects.count() == 1


@pytest.mark.django_db
def test_burst_is_served_without_waiting() -> None:
    time = FakeTime()
    limiter = RateLimiter(store=DatabaseBucketStore(), sleep=time.sleep, now=time.now)
    limit = Limit(key="burst", rate=1.0, capacity=5)

    for _ in range(5):
        limiter.acquire([limit])

    assert time.slept == []
    limiter.acquire([limit])
    assert time.slept == [1.0]


@pytest.mark.django_db
def test_hold_off_makes_every_worker_wait_the_retry_after() -> None:
    # given: two workers on one bucket, the first told by the vendor to wait 30 s
    time = FakeTime()
    store = DatabaseBucketStore()
    first = RateLimiter(store=store, sleep=time.sleep, now=time.now)
    second = RateLimiter(store=store, sleep=time.sleep, now=time.now)
    limit = Limit(key="held", rate=10.0, capacity=10)
    first.acquire([limit])

    # when
    first.hold_off([limit], seconds=30)
    started = time.now()
    second.acquire([limit])

    # then: the other worker only got its token after the 30 s
    assert time.now() - started >= 30


@pytest.mark.django_db
def test_a_worker_with_other_work_is_told_how_long_to_wait_instead_of_sleeping() -> None:
    # given: a bucket the vendor told us to leave alone for 30 s
    time = FakeTime()
    store = DatabaseBucketStore()
    limit = Limit(key="held-impatient", rate=10.0, capacity=10)
    told = RateLimiter(store=store, sleep=time.sleep, now=time.now)
    told.acquire([limit])
    told.hold_off([limit], seconds=30)
    impatient = RateLimiter(store=store, sleep=time.sleep, now=time.now, max_wait=2.0)
    started = time.now()

    # when / then: no sleeping through it; the wait comes back as Throttled.retry_after
    with pytest.raises(Throttled) as throttled:
        impatient.acquire([limit])
    assert time.now() == started
    assert 29 <= throttled.value.retry_after <= 31


@pytest.mark.django_db
def test_a_lost_race_is_retried_not_double_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: another worker takes a token between our read and our conditional update
    store = DatabaseBucketStore()
    limit = Limit(key="race", rate=1.0, capacity=2)
    assert store.take(limit=limit, cost=1, now=0.0) == 0.0
    real_filter = RateLimitBucket.objects.filter
    interfered = []

    def filter_with_interference(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if "version" in kwargs and not interfered:
            interfered.append(True)
            other = DatabaseBucketStore()
            assert other.take(limit=limit, cost=1, now=0.0) == 0.0
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(RateLimitBucket.objects, "filter", filter_with_interference)

    # when: the bucket had 2 tokens; the other worker took the second one
    wait = store.take(limit=limit, cost=1, now=0.0)

    # then: we were told to wait instead of overdrawing the bucket
    assert interfered == [True]
    assert wait == pytest.approx(1.0)
    assert RateLimitBucket.objects.get(key="race").tokens == pytest.approx(0.0)


def test_window_limit_leaves_room_for_the_burst() -> None:
    limit = Limit.for_window(key="k", requests=500, window_seconds=60, burst=10)
    assert limit.capacity == 10
    assert limit.capacity + limit.rate * 60 == pytest.approx(500)


@pytest.mark.redis
def test_redis_buckets_keep_every_window_under_the_budget() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL not set")
    url = url.rsplit("/", 1)[0] + "/5"  # a database of our own
    store = RedisBucketStore(url=url, prefix=f"seatkeeper-test:{uuid.uuid4()}:")

    sent, _ = run_workers(store, requests=300)

    assert most_in_any_window(sent, 60) <= 100


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    requests=st.integers(min_value=5, max_value=60),
    window=st.sampled_from([1.0, 10.0, 60.0]),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=120),
)
def test_no_window_ever_exceeds_the_budget_whatever_the_arrival_pattern(
    requests: int, window: float, burst: int, gaps: list[float]
) -> None:
    # given: callers arriving with arbitrary pauses between them
    time = FakeTime()
    limiter = RateLimiter(store=DatabaseBucketStore(), sleep=time.sleep, now=time.now)
    limit = Limit.for_window(
        key=f"prop:{uuid.uuid4()}", requests=requests, window_seconds=window, burst=burst
    )
    sent: list[float] = []

    # when
    for gap in gaps:
        time.current += gap
        limiter.acquire([limit])
        sent.append(time.now())

    # then
    assert most_in_any_window(sent, window) <= requests
