"""Fixtures of the billing tests: the shared cast's partner connected to a real sandbox over
HTTPS (one sandbox for the session; each test gets default faults, an empty call log and the
sandbox's clock shared with ours)."""

from __future__ import annotations

from typing import Any

import pytest

from seatkeeper.conftest import Cast
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.tests.conftest import (  # noqa: F401 - fixtures used by these tests
    SharedClock,
    clean_sandbox,
    sandbox,
    test_clock,
)
from seatkeeper.providers.tests.factories import provider_account
from seatkeeper.subscriptions.tests.conftest import (  # noqa: F401 - the charges tests' shop
    _provision_by_hand,
    shop,
)


def connect(cast: Cast, sandbox_info: Any) -> ProviderAccount:
    return provider_account(
        organisation=cast.partner,
        api_base_url=sandbox_info.base_url,
        authority_url=sandbox_info.authority_url,
        partner_tenant_id=sandbox_info.partner_tenant_id,
        application_id=sandbox_info.client_id,
        application_secret=sandbox_info.client_secret,
        refresh_token=sandbox_info.admin.mint_refresh_token(),
        ca_bundle_path=str(sandbox_info.ca_cert),
        graph_base_url=sandbox_info.graph_base_url,
    )


@pytest.fixture
def account(cast: Cast, clean_sandbox: Any) -> ProviderAccount:  # noqa: F811
    return connect(cast, clean_sandbox)


@pytest.fixture
def provider(account: ProviderAccount, test_clock: SharedClock):  # noqa: F811
    connector = MicrosoftProvider.from_account(
        account,
        sleep=test_clock.sleep,
        retry=RetryPolicy(max_attempts=6, base_delay=0.2, max_delay=2.0),
    )
    yield connector
    connector.close()
