"""The client's retry, idempotency and token behaviour, against scripted HTTP answers."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest

from seatkeeper.providers import errors
from seatkeeper.providers.microsoft.budget import ThrottleBudget
from seatkeeper.providers.microsoft.client import PartnerCenterClient
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.ratelimit import DatabaseBucketStore, RateLimiter
from seatkeeper.providers.tests.fakes import FakeTime, FakeTokens

Answer = Callable[[httpx.Request], httpx.Response | Exception]


def scripted(*answers: Answer | httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        result = answer(request) if callable(answer) else answer
        if isinstance(result, Exception):
            raise result
        return result

    return httpx.MockTransport(handle), seen


def make_client(
    transport: httpx.MockTransport, *, time: FakeTime, limiter: RateLimiter | None = None
) -> tuple[PartnerCenterClient, FakeTokens]:
    tokens = FakeTokens()
    budget = ThrottleBudget()
    client = PartnerCenterClient(
        base_url="https://pc.test",
        tokens=tokens,  # type: ignore[arg-type]
        limits=lambda path, customer: budget.limits(
            account_key="t", path=path, customer_id=customer
        ),
        limiter=limiter,
        retry=RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=4.0),
        sleep=time.sleep,
        rng=random.Random(1),
        transport=transport,
    )
    return client, tokens


def timeout(request: httpx.Request) -> Exception:
    return httpx.ReadTimeout("slow", request=request)


def test_a_timed_out_create_is_retried_with_the_same_request_id() -> None:
    # given: the first attempt times out, the second succeeds
    transport, seen = scripted(timeout, httpx.Response(201, json={"id": "c1"}))
    time = FakeTime()
    client, _ = make_client(transport, time=time)

    # when
    response = client.send("POST", "/v1/customers", json={"x": 1})

    # then
    assert response.status_code == 201
    assert len(seen) == 2
    assert seen[0].headers["MS-RequestId"] == seen[1].headers["MS-RequestId"]
    assert seen[0].headers["MS-CorrelationId"] == seen[1].headers["MS-CorrelationId"]
    assert len(time.slept) == 1 and 0.5 <= time.slept[0] <= 1.0
    assert client.stats.timeouts == 1


def test_server_errors_back_off_then_succeed() -> None:
    transport, seen = scripted(
        httpx.Response(503, json={"code": 503}),
        httpx.Response(502),
        httpx.Response(200, json={"ok": True}),
    )
    time = FakeTime()
    client, _ = make_client(transport, time=time)

    assert client.get_json("/v1/invoices") == {"ok": True}
    assert len(seen) == 3
    assert len({r.headers["MS-RequestId"] for r in seen}) == 1
    assert 0.5 <= time.slept[0] <= 1.0 and 1.0 <= time.slept[1] <= 2.0


def test_validation_errors_are_not_retried() -> None:
    transport, seen = scripted(
        httpx.Response(400, json={"code": 2002, "description": "Quantity out of range"})
    )
    client, _ = make_client(transport, time=FakeTime())

    with pytest.raises(errors.ValidationFailed) as raised:
        client.send("PATCH", "/v1/customers/c/subscriptions/s", json={})

    assert raised.value.code == "2002"
    assert raised.value.retryable is False
    assert len(seen) == 1


def test_retries_stop_after_the_last_attempt() -> None:
    transport, seen = scripted(httpx.Response(500))
    client, _ = make_client(transport, time=FakeTime())

    with pytest.raises(errors.Unavailable) as raised:
        client.send("GET", "/v1/invoices")

    assert len(seen) == 4
    assert raised.value.retryable is True


def test_repeated_timeouts_fail_cleanly() -> None:
    transport, seen = scripted(timeout)
    client, _ = make_client(transport, time=FakeTime())

    with pytest.raises(errors.Unavailable):
        client.send("POST", "/v1/customers/c/carts", json={})

    assert len(seen) == 4
    assert len({r.headers["MS-RequestId"] for r in seen}) == 1


def test_an_expired_token_is_renewed_once() -> None:
    transport, seen = scripted(httpx.Response(401), httpx.Response(200, json={"items": []}))
    client, tokens = make_client(transport, time=FakeTime())

    client.send("GET", "/v1/customers")

    assert [r.headers["Authorization"] for r in seen] == [
        "Bearer app-token-0",
        "Bearer app-token-1",
    ]
    assert len(tokens.invalidated) == 1


def test_a_token_refused_twice_is_an_auth_failure() -> None:
    transport, seen = scripted(httpx.Response(401, json={"code": 800001}))
    client, _ = make_client(transport, time=FakeTime())

    with pytest.raises(errors.AuthFailed):
        client.send("GET", "/v1/customers")
    assert len(seen) == 2


@pytest.mark.django_db
def test_throttling_waits_retry_after_through_the_shared_limiter() -> None:
    # given
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "20"}, json={"statusCode": 429}),
        httpx.Response(200, json={"id": "s"}),
    )
    time = FakeTime()
    limiter = RateLimiter(store=DatabaseBucketStore(), sleep=time.sleep, now=time.now)
    client, _ = make_client(transport, time=time, limiter=limiter)

    # when
    client.send("GET", "/v1/customers/c1/subscriptions/s")

    # then: the second attempt went out only after the vendor's 20 seconds
    assert len(seen) == 2
    assert sum(time.slept) >= 20
    assert client.stats.throttled == 1


def test_a_long_retry_after_goes_back_to_the_caller() -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    client, _ = make_client(transport, time=FakeTime())

    with pytest.raises(errors.Throttled) as raised:
        client.send("GET", "/v1/customers/c1/orders")

    assert raised.value.retry_after == 3600
    assert len(seen) == 1


def test_a_delete_whose_answer_was_lost_counts_as_done_on_retry() -> None:
    # given: the first DELETE worked but its answer was lost; the retry finds nothing
    transport, seen = scripted(timeout, httpx.Response(404, json={"code": 60002}))
    client, _ = make_client(transport, time=FakeTime())

    # when
    response = client.send("DELETE", "/v1/customers/c/users/u", gone_after_retry_is_done=True)

    # then
    assert response.status_code == 404
    assert len(seen) == 2


def test_a_delete_of_something_missing_from_the_start_is_not_found() -> None:
    transport, _ = scripted(httpx.Response(404, json={"code": 60002}))
    client, _ = make_client(transport, time=FakeTime())

    with pytest.raises(errors.NotFound):
        client.send("DELETE", "/v1/customers/c/users/u", gone_after_retry_is_done=True)
