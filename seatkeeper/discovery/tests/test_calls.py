"""What a run costs the vendor: the reads shared by every customer are made once per run."""

from __future__ import annotations

from collections import Counter

import pytest

from seatkeeper.discovery import services
from seatkeeper.discovery.models import RunState
from seatkeeper.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


def _sku_reads(connected) -> Counter:
    return Counter(
        call["path"].lower()
        for call in connected.sandbox.admin.calls()
        if call["path"].startswith("/v1/products/") and call["path"].endswith("/skus")
    )


def test_a_products_skus_are_read_once_per_run_not_once_per_customer(connected):
    connected.sandbox.admin.clear_calls()

    first = connected.discover()

    assert first.state == RunState.COMPLETED
    reads = _sku_reads(connected)
    products = set(Subscription.objects.values_list("offer__product_id", flat=True))
    # Several customers hold the same product, yet each product's SKUs were read once.
    holders = Counter(
        product
        for _tenant, product in set(
            Subscription.objects.values_list("tenant_id", "offer__product_id")
        )
    )
    assert max(holders.values()) > 1
    assert set(reads.values()) == {1}
    assert {path.split("/")[3] for path in reads} == {product.lower() for product in products}

    # The next run reads them again (the catalog may have changed in between).
    connected.sandbox.admin.clear_calls()
    second = connected.discover()
    assert services.run_figures(second).errors == 0
    assert set(_sku_reads(connected).values()) == {1}
