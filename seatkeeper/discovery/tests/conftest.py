"""A sandbox world of its own for discovery (the demo tenants plus generated customers), and a
partner connected to it with its catalog imported, as `connect_sandbox` connects the demo."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import VendorKind
from seatkeeper.conftest import Cast
from seatkeeper.core import clock
from seatkeeper.discovery import services
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.tests.factories import provider_account


def serve_world(
    tmp_path_factory: pytest.TempPathFactory, name: str = "discovery", **options: Any
) -> Iterator[Any]:
    """Serve discovery's small world (the demo tenants plus four generated customers) until the
    fixture that yields from it ends; `options` go to `running_sandbox` (`start=`...)."""
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp(name),
        customers=4,
        subscriptions_per_customer=3,
        users_per_customer=1,
        random_seed=9,
        **options,
    ) as info:
        yield info
        forget_token_sources()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_world(tmp_path_factory)


@dataclass
class Connected:
    cast: Cast
    sandbox: Any
    account: ProviderAccount

    def provider(self, account: ProviderAccount | None = None) -> MicrosoftProvider:
        return MicrosoftProvider.from_account(
            account or self.account,
            sleep=clock.sleep,
            retry=RetryPolicy(max_attempts=2, base_delay=0.1, max_delay=0.2),
        )

    def discover(self, **kwargs: Any):
        run = services.run_start(actor=None, account=self.account, enqueue=False, **kwargs)
        with self.provider() as provider:
            return services.run_inline(run, provider=provider)

    def vendor_customers(self) -> list:
        with self.provider() as provider:
            return list(provider.list_customers())

    def vendor_subscription_count(self) -> int:
        with self.provider() as provider:
            return sum(
                len(provider.list_subscriptions(customer_id=customer.id))
                for customer in provider.list_customers()
            )


@pytest.fixture
def connected(world, db, settings) -> Connected:
    # Rate-limit buckets in the database, on the frozen clock.
    settings.REDIS_URL = None
    world.admin.reset_faults()
    with clock.frozen(world.admin.now()):
        cast = Cast()
        account = provider_account(
            organisation=cast.partner,
            api_base_url=world.base_url,
            authority_url=world.authority_url,
            partner_tenant_id=world.partner_tenant_id,
            application_id=world.client_id,
            application_secret=world.client_secret,
            refresh_token=world.admin.mint_refresh_token(),
            ca_bundle_path=str(world.ca_cert),
        )
        account.consent_granted_at = clock.now()
        account.save()
        connected = Connected(cast=cast, sandbox=world, account=account)
        vendor = catalog_services.vendor_create(
            actor=None,
            partner=cast.partner,
            name="Microsoft",
            kind=VendorKind.API,
            provider_account=account,
            country="GB",
        )
        with connected.provider() as provider:
            catalog_services.catalog_refresh(vendor=vendor, provider=provider)
        yield connected
    world.admin.reset_faults()
