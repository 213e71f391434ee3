"""Paging over thousands of items, against a sandbox of its own with a large world."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from seatkeeper.core import clock
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.tests.conftest import SharedClock
from seatkeeper.providers.tests.factories import provider_account

CUSTOMERS = 2500


@pytest.fixture(scope="module")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp("pc-big"),
        customers=CUSTOMERS,
        subscriptions_per_customer=1,
        users_per_customer=1,
    ) as info:
        yield info
        forget_token_sources()


@pytest.fixture
def big_provider(big_sandbox: Any, db: None) -> Iterator[MicrosoftProvider]:
    account = provider_account(
        api_base_url=big_sandbox.base_url,
        authority_url=big_sandbox.authority_url,
        partner_tenant_id=big_sandbox.partner_tenant_id,
        application_id=big_sandbox.client_id,
        application_secret=big_sandbox.client_secret,
        ca_bundle_path=str(big_sandbox.ca_cert),
    )
    with clock.frozen(big_sandbox.admin.now()) as frozen:
        shared = SharedClock(sandbox=big_sandbox, frozen=frozen)
        provider = MicrosoftProvider.from_account(account, sleep=shared.sleep)
        yield provider
        provider.close()


def test_thousands_of_customers_are_read_lazily_page_by_page(
    big_provider: MicrosoftProvider, big_sandbox: Any
) -> None:
    # given
    big_sandbox.admin.clear_calls()
    customers = big_provider.list_customers(page_size=100)

    # when: the first item is taken, only the first page has been fetched
    first = next(customers)
    assert len(big_sandbox.admin.calls(path="/v1/customers")) == 1

    # then: the rest arrive, each exactly once, 100 per page
    ids = [first.id, *(c.id for c in customers)]
    assert len(ids) == len(set(ids))
    assert len(ids) >= CUSTOMERS
    pages = big_sandbox.admin.calls(path="/v1/customers")
    assert len(pages) == -(-len(ids) // 100)
    assert all(page["status"] == 200 for page in pages)


def test_thousands_of_audit_records_are_read_through_seek_pages(
    big_provider: MicrosoftProvider, big_sandbox: Any
) -> None:
    since = big_sandbox.admin.now().date() - dt.timedelta(days=89)

    records = list(big_provider.list_audit_records(since=since, page_size=500))

    assert len(records) >= 1000
    # Two orders placed in the same tick share an id in the sandbox, so the correlation id
    # completes the key; no record may come twice across page boundaries.
    assert len({(r.id, r.correlation_id) for r in records}) == len(records)
    assert len(big_sandbox.admin.calls(path="/v1/auditrecords")) >= len(records) // 500


def test_a_listing_resumes_from_a_stored_cursor(
    big_provider: MicrosoftProvider, big_sandbox: Any
) -> None:
    # given: a discovery read three pages, stored its cursor, and crashed
    cursor: str | None = None
    seen: list[str] = []
    for _ in range(3):
        page = big_provider.customers_page(cursor=cursor, page_size=200)
        seen.extend(c.id for c in page.items)
        cursor = page.next_cursor
    assert cursor is not None

    # when: a new connector (a new worker) resumes from the stored cursor
    resumed = MicrosoftProvider(client=big_provider.client)
    while cursor is not None:
        page = resumed.customers_page(cursor=cursor, page_size=200)
        seen.extend(c.id for c in page.items)
        cursor = page.next_cursor

    # then: everything exactly once, the same as one uninterrupted listing
    assert seen == [c.id for c in big_provider.list_customers(page_size=200)]
    assert len(set(seen)) == len(seen) >= CUSTOMERS
