from __future__ import annotations

from dataclasses import dataclass

import pytest

from seatkeeper.pricing.tests.world import World, build_world
from seatkeeper.providers.tests.conftest import (  # noqa: F401 - the real sandbox, over HTTPS
    clean_sandbox,
    sandbox,
    test_clock,
)
from seatkeeper.subscriptions import provisioning, services
from seatkeeper.subscriptions.models import Subscription
from seatkeeper.subscriptions.tests.fakes import FakeSubscriptionsProvider


@dataclass
class Shop:
    world: World
    provider: FakeSubscriptionsProvider

    def provision(self, subscription: Subscription) -> str:
        return provisioning.provision_subscription(
            subscription.pk, provider_factory=lambda account: self.provider
        )


@pytest.fixture
def shop(cast) -> Shop:
    world = build_world(cast)
    services.tenant_link(
        actor=None,
        customer=cast.customer,
        account=world.vendor.provider_account,
        vendor_customer_id="c0ffee00-0000-4000-8000-000000000001",
        domain="customerone.onmicrosoft.com",
    )
    return Shop(world=world, provider=FakeSubscriptionsProvider())


@pytest.fixture(autouse=True)
def _provision_by_hand(settings):
    """Tasks would run inline and call the real registry; these tests drive provisioning."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
