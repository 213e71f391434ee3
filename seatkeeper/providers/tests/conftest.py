"""Fixtures for tests that talk to a real sandbox over HTTPS.

One sandbox process serves the whole session (generating a world takes a moment); each test
starts from default faults, an empty call log, and its own provider account row, so rate-limit
buckets and cached tokens never leak from one test into another.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from seatkeeper.core import clock
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.tests.factories import provider_account


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp("pc"), customers=6, users_per_customer=5
    ) as info:
        yield info
        # Close pooled token-endpoint connections so the server can stop at once.
        forget_token_sources()


@pytest.fixture
def clean_sandbox(sandbox: Any) -> Iterator[Any]:
    sandbox.admin.reset_faults()
    sandbox.admin.clear_calls()
    yield sandbox
    sandbox.admin.reset_faults()


@dataclass
class SharedClock:
    """Sleeping moves our frozen clock AND the sandbox's, so throttling windows, Retry-After
    and token lifetimes pass instantly and identically on both sides."""

    sandbox: Any
    frozen: clock.FrozenClock
    slept: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.frozen.advance(seconds=seconds)
        self.sandbox.admin.advance_clock(seconds)


@pytest.fixture
def test_clock(clean_sandbox: Any) -> Iterator[SharedClock]:
    # Start where the shared sandbox's clock is: an earlier test may have moved it weeks ahead.
    with clock.frozen(clean_sandbox.admin.now()) as frozen:
        yield SharedClock(sandbox=clean_sandbox, frozen=frozen)


@pytest.fixture
def account(clean_sandbox: Any, db: None) -> ProviderAccount:
    sbx = clean_sandbox
    return provider_account(
        api_base_url=sbx.base_url,
        authority_url=sbx.authority_url,
        partner_tenant_id=sbx.partner_tenant_id,
        application_id=sbx.client_id,
        application_secret=sbx.client_secret,
        refresh_token=sbx.admin.mint_refresh_token(),
        ca_bundle_path=str(sbx.ca_cert),
        graph_base_url=sbx.graph_base_url,
    )


@pytest.fixture
def provider(account: ProviderAccount, test_clock: SharedClock) -> Iterator[MicrosoftProvider]:
    connector = MicrosoftProvider.from_account(
        account,
        sleep=test_clock.sleep,
        retry=RetryPolicy(max_attempts=6, base_delay=0.2, max_delay=2.0),
    )
    yield connector
    connector.close()
