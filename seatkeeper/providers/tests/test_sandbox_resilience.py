"""Throttling, outages, timeouts, expired tokens and stale ETags, against the sandbox.

Sleeping is injected: it moves our clock and the sandbox's together, so a Retry-After of 30 s or
a whole throttling window passes instantly while both sides agree that it has passed.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.budget import ThrottleBudget
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.models import ProviderAccount, RateLimitBucket
from seatkeeper.providers.tests.conftest import SharedClock
from seatkeeper.providers.tests.helpers import buy, new_customer, order_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer_id(provider: MicrosoftProvider) -> str:
    return new_customer(provider).customer.id


def wait_for_calls(sandbox: Any, *, method: str, path: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        calls = [c for c in sandbox.admin.calls(method=method) if c["path"] == path]
        if len(calls) >= count or time.monotonic() > deadline:
            return calls
        time.sleep(0.1)


def script(sandbox: Any, method: str, path: str, status: int | str, times: int) -> None:
    sandbox.admin.set_faults(
        script=[{"method": method, "path": path, "status": status, "times": times}]
    )


def test_a_429_storm_is_waited_out_and_the_order_is_placed_once(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any, test_clock: SharedClock
) -> None:
    # given: the next 4 cart creations are throttled (Retry-After: 30)
    line = order_line(provider, quantity=2)
    script(sandbox, "POST", f"/v1/customers/{customer_id}/carts", 429, 4)
    sandbox.admin.clear_calls()
    slept_before = test_clock.slept

    # when
    (order,) = provider.create_order(customer_id=customer_id, lines=[line], request_key="storm")

    # then: one cart, one checkout, one subscription; every retry reused the request id
    carts = sandbox.admin.calls(method="POST", path=f"/v1/customers/{customer_id}/carts")
    create_calls = [c for c in carts if not c["path"].endswith("/checkout")]
    assert [c["status"] for c in create_calls] == [429, 429, 429, 429, 201]
    assert len({c["requestId"] for c in create_calls}) == 1
    assert test_clock.slept - slept_before >= 4 * 30
    assert len(provider.list_subscriptions(customer_id=customer_id)) == 1
    assert provider.client.stats.throttled == 4
    assert order.lines[0].quantity == 2


def test_a_429_storm_longer_than_the_retry_budget_fails_cleanly(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    script(sandbox, "GET", f"/v1/customers/{customer_id}/subscriptions", 429, 50)

    with pytest.raises(errors.Throttled) as raised:
        provider.list_subscriptions(customer_id=customer_id)

    assert raised.value.retryable is True
    assert raised.value.retry_after == 30
    assert raised.value.http_status == 429


def test_5xx_bursts_are_retried_without_duplicating_the_checkout(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # given: checkout answers 503 three times
    line = order_line(provider, quantity=1)
    script(sandbox, "POST", f"/v1/customers/{customer_id}/carts/*/checkout", 503, 3)
    sandbox.admin.clear_calls()

    # when
    orders = provider.create_order(customer_id=customer_id, lines=[line], request_key="burst")

    # then
    checkouts = [c for c in sandbox.admin.calls(method="POST") if c["path"].endswith("/checkout")]
    assert [c["status"] for c in checkouts] == [503, 503, 503, 201]
    assert len({c["requestId"] for c in checkouts}) == 1
    assert len(orders) == 1
    assert len(provider.list_subscriptions(customer_id=customer_id)) == 1


def test_random_server_errors_do_not_break_a_discovery(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given: a reference listing without faults, then 30% of calls failing
    expected = [c.id for c in provider.list_customers(page_size=2)]
    sandbox.admin.set_faults(error_rate=0.3, seed=7)

    # when
    found = [c.id for c in provider.list_customers(page_size=2)]

    # then
    assert found == expected
    assert provider.client.stats.retried > 0


def test_timeouts_are_retried_and_the_customer_created_once(
    account: ProviderAccount, test_clock: SharedClock, sandbox: Any
) -> None:
    # given: a short read timeout, and the sandbox hanging on the next two creations
    provider = MicrosoftProvider.from_account(
        account,
        sleep=test_clock.sleep,
        timeout=httpx.Timeout(0.5, connect=5.0),
        retry=RetryPolicy(base_delay=0.1),
    )
    sandbox.admin.set_faults(
        timeout_s=1.0,
        script=[{"method": "POST", "path": "/v1/customers", "status": "timeout", "times": 2}],
    )
    before = len(list(provider.list_customers()))
    sandbox.admin.clear_calls()

    # when
    created = new_customer(provider)

    # then (the sandbox logs a hung call only when it gives up on it, after timeout_s)
    posts = wait_for_calls(sandbox, method="POST", path="/v1/customers", count=3)
    assert len(posts) == 3
    assert [c["fault"] for c in posts].count("timeout") == 2
    assert len({c["requestId"] for c in posts}) == 1
    assert provider.client.stats.timeouts == 2
    assert len(list(provider.list_customers())) == before + 1
    assert provider.get_customer(customer_id=created.customer.id).id == created.customer.id
    provider.close()


def test_an_outage_longer_than_the_retries_fails_with_unavailable(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    script(sandbox, "GET", f"/v1/customers/{customer_id}", 503, 50)

    with pytest.raises(errors.Unavailable) as raised:
        provider.get_customer(customer_id=customer_id)

    assert raised.value.retryable is True
    assert raised.value.http_status == 503


def test_expired_tokens_are_renewed_transparently(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # given: both kinds of token in use, then two hours pass on the sandbox's clock only
    provider.get_customer(customer_id=customer_id)
    list(provider.list_users(customer_id=customer_id))
    acquisitions = provider.client.tokens.acquisitions
    sandbox.admin.advance_clock(2 * 3600)
    sandbox.admin.clear_calls()

    # when
    provider.get_customer(customer_id=customer_id)
    users = list(provider.list_users(customer_id=customer_id))

    # then: each call was refused once (expired), then succeeded with a fresh token
    statuses = [c["status"] for c in sandbox.admin.calls(path=f"/v1/customers/{customer_id}")]
    assert statuses == [401, 200, 401, 200]
    assert provider.client.tokens.acquisitions == acquisitions + 2
    assert users


def test_a_rotated_refresh_token_is_stored_encrypted(
    provider: MicrosoftProvider, customer_id: str, account: ProviderAccount
) -> None:
    original = account.refresh_token

    list(provider.list_users(customer_id=customer_id))

    account.refresh_from_db()
    assert account.refresh_token
    assert account.refresh_token != original  # the sandbox rotates refresh tokens
    assert account.refresh_token not in account.refresh_token_encrypted


def test_a_stale_etag_is_refused_with_2055(provider: MicrosoftProvider, customer_id: str) -> None:
    # given: a subscription body read before somebody else changed the subscription
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=2))
    stale = provider._subscription_json(customer_id, subscription.id)
    provider.update_subscription(
        customer_id=customer_id,
        subscription_id=subscription.id,
        change=i.SubscriptionUpdate(friendly_name="changed elsewhere"),
    )

    # when / then
    with pytest.raises(errors.StaleVersion) as raised:
        provider.patch_subscription(customer_id=customer_id, body={**stale, "quantity": 3})
    assert raised.value.code == "2055"
    assert raised.value.retryable is False
    current = provider.get_subscription(customer_id=customer_id, subscription_id=subscription.id)
    assert current.quantity == 2


def test_update_rereads_when_the_etag_went_stale_in_between(
    provider: MicrosoftProvider, customer_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: someone renames the subscription between our GET and our PATCH, once
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=2))
    real_read = provider._subscription_json
    interfered: list[bool] = []

    def read_then_interfere(*args: Any, **kwargs: Any) -> Any:
        body = real_read(*args, **kwargs)
        if not interfered:
            interfered.append(True)
            other = dict(real_read(*args, **kwargs))
            other["friendlyName"] = "someone else"
            provider.patch_subscription(customer_id=customer_id, body=other)
        return body

    monkeypatch.setattr(provider, "_subscription_json", read_then_interfere)

    # when
    updated = provider.update_subscription(
        customer_id=customer_id,
        subscription_id=subscription.id,
        change=i.SubscriptionUpdate(quantity=4),
    )

    # then: our change landed on top of theirs
    assert interfered == [True]
    assert (updated.quantity, updated.friendly_name) == (4, "someone else")


def test_the_shared_limiter_keeps_two_workers_under_the_vendor_limit(
    account: ProviderAccount, customer_id: str, sandbox: Any, test_clock: SharedClock, settings: Any
) -> None:
    # given: the sandbox allows 20 calls per minute per customer, and two workers know it
    settings.REDIS_URL = None  # the database limiter (one machine); Redis has its own test
    sandbox.admin.set_faults(throttle_limit=20)
    budget = ThrottleBudget(requests=20, window_seconds=60, burst=2)
    workers = [
        MicrosoftProvider.from_account(account, sleep=test_clock.sleep, budget=budget)
        for _ in range(2)
    ]
    sandbox.admin.clear_calls()
    started = test_clock.slept

    # when: 60 reads of the same customer, alternating between the workers
    for n in range(60):
        workers[n % 2].get_customer(customer_id=customer_id)

    # then: the vendor never had to say 429, and it took the three minutes the budget implies
    statuses = [c["status"] for c in sandbox.admin.calls(path=f"/v1/customers/{customer_id}")]
    assert statuses.count(200) == 60
    assert 429 not in statuses
    assert test_clock.slept - started >= 60 * (60 - 2) / 20 * 0.95
    assert RateLimitBucket.objects.filter(key__contains=customer_id.lower()).count() == 1
    for worker in workers:
        worker.close()


def test_without_a_matching_budget_the_vendors_429s_are_absorbed(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # given: the sandbox allows 20 calls per minute but our budget says 500
    sandbox.admin.set_faults(throttle_limit=20)
    sandbox.admin.clear_calls()

    # when
    for _ in range(45):
        provider.get_customer(customer_id=customer_id)

    # then: throttled, waited, and every call completed
    statuses = [c["status"] for c in sandbox.admin.calls(path=f"/v1/customers/{customer_id}")]
    assert statuses.count(200) == 45
    assert 429 in statuses
    assert provider.client.stats.throttled == statuses.count(429)


def test_a_refresh_token_unused_for_90_days_is_an_auth_failure(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # given: user consent used once, then 91 idle days
    list(provider.list_users(customer_id=customer_id))
    sandbox.admin.advance_clock(91 * 24 * 3600)

    # when / then: app-only calls still work, App+User ones need a new consent
    assert provider.get_customer(customer_id=customer_id).id == customer_id
    with pytest.raises(errors.AuthFailed) as raised:
        list(provider.list_users(customer_id=customer_id))
    assert raised.value.code == "700082"
    assert raised.value.retryable is False
