"""People tests talk to the real sandbox over HTTPS (the providers' session sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from seatkeeper.conftest import Cast
from seatkeeper.people import services
from seatkeeper.people.models import TenantOnboarding
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.tests import conftest as providers_conftest
from seatkeeper.providers.tests.factories import provider_account

# The real sandbox over HTTPS, shared with the providers' tests.
sandbox = providers_conftest.sandbox
clean_sandbox = providers_conftest.clean_sandbox
test_clock = providers_conftest.test_clock


@dataclass
class Onboarding:
    cast: Cast
    sandbox: Any
    clock: Any
    account: ProviderAccount

    def run_worker(self, onboarding: TenantOnboarding) -> str:
        return services.run_onboarding(onboarding.pk)

    def vendor_customer(self, tenant_id: str) -> dict:
        with self.sandbox.client(self.sandbox.admin.access_token()) as client:
            return client.get(f"/v1/customers/{tenant_id}").json()

    def agreements(self, tenant_id: str) -> list[dict]:
        with self.sandbox.client(self.sandbox.admin.access_token()) as client:
            return client.get(f"/v1/customers/{tenant_id}/agreements").json()["items"]


@pytest.fixture
def onboarding(cast, clean_sandbox, test_clock, settings, monkeypatch) -> Iterator[Onboarding]:
    # The worker is driven by hand; the connector's rate limiter keeps its buckets in the
    # database on the test clock.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.REDIS_URL = None
    sbx = clean_sandbox
    account = provider_account(
        organisation=cast.partner,
        api_base_url=sbx.base_url,
        authority_url=sbx.authority_url,
        partner_tenant_id=sbx.partner_tenant_id,
        application_id=sbx.client_id,
        application_secret=sbx.client_secret,
        refresh_token=sbx.admin.mint_refresh_token(),
        ca_bundle_path=str(sbx.ca_cert),
    )

    def factory(account):
        return MicrosoftProvider.from_account(
            account,
            sleep=test_clock.sleep,
            retry=RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0),
        )

    monkeypatch.setattr(services, "get_provider", factory)
    yield Onboarding(cast=cast, sandbox=sbx, clock=test_clock, account=account)
