from __future__ import annotations

import random

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers.microsoft.errors import error_from_response
from seatkeeper.providers.microsoft.retry import RetryPolicy


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(7)

    delays = [policy.backoff(attempt=n, rng=rng) for n in range(1, 8)]

    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 8.0


def test_retry_after_reads_seconds_and_falls_back() -> None:
    policy = RetryPolicy(default_retry_after=5.0)
    assert policy.retry_after("57") == 57.0
    assert policy.retry_after(None) == 5.0
    assert policy.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 5.0


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        *[(status, False) for status in (400, 401, 404, 409, 412, 501)],
        *[(status, True) for status in (408, 429, 500, 502, 503, 504)],
    ],
)
def test_only_transient_statuses_are_retried(status: int, retried: bool) -> None:
    assert RetryPolicy().should_retry_status(status=status, attempt=1) is retried


def test_no_retry_after_the_last_attempt() -> None:
    assert RetryPolicy(max_attempts=3).should_retry_status(status=503, attempt=3) is False


@pytest.mark.parametrize(
    ("_case", "status", "body", "kind", "retryable"),
    [
        (
            "stale etag",
            400,
            {"code": 2055, "description": "Etag is no longer valid"},
            errors.StaleVersion,
            False,
        ),
        (
            "cancel window",
            400,
            {"code": 900117, "description": "passed"},
            errors.WindowClosed,
            False,
        ),
        ("seat decrease", 400, {"code": "800090"}, errors.WindowClosed, False),
        ("sandbox quota", 400, {"code": 800018}, errors.QuotaExceeded, False),
        ("validation", 400, {"code": 2002, "description": "qty"}, errors.ValidationFailed, False),
        ("unknown customer", 404, {"code": 60003}, errors.NotFound, False),
        ("no relationship", 403, {"code": 20002}, errors.Forbidden, False),
        ("not ready", 409, {"code": 800082}, errors.Conflict, True),
        ("cart taken", 409, {"code": 800064}, errors.Conflict, False),
        ("throttled", 429, {"statusCode": 429, "message": "Rate limit"}, errors.Throttled, True),
        ("outage", 503, {"code": 503}, errors.Unavailable, True),
        ("auth", 401, None, errors.AuthFailed, False),
    ],
)
def test_partner_center_errors_map_to_classes(
    _case: str, status: int, body: object, kind: type[errors.ProviderError], retryable: bool
) -> None:
    error = error_from_response(status=status, body=body)

    assert type(error) is kind
    assert error.retryable is retryable
    assert error.http_status == status
    if isinstance(body, dict) and "code" in body:
        assert error.code == str(body["code"])
