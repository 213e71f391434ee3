"""Friendly names and PO numbers refuse control characters, from the API and the pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.subscriptions.models import Order, Subscription
from seatkeeper.subscriptions.tests.helpers import START, order

REFUSED = "Control characters (line breaks, tabs, direction marks…) are not allowed here."


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


@pytest.mark.parametrize(
    ("field", "po_number", "friendly_name"),
    [("po_number", "PO\r\n42", "Seats"), ("friendly_name", "PO-42", "Seats\x1b[2J")],
)
def test_an_order_names_the_field_and_writes_nothing(
    cast, shop, frozen, field, po_number, friendly_name
):
    api = sign_in(APIClient(), "reselleradmin")
    line = {"offer": shop.world.basic.pk, "quantity": 4, "term": "P1Y", "billing_cycle": "monthly"}
    response = api.post(
        "/api/v1/orders/",
        {
            "customer": cast.customer.pk,
            "po_number": po_number,
            "lines": [{**line, "friendly_name": friendly_name}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    assert not Order.objects.exists() and not Subscription.objects.exists()


def test_the_edit_page_names_the_field(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    response = client.post(
        f"/subscriptions/{subscription.pk}/edit/",
        {
            "version": subscription.version,
            "friendly_name": "Renamed\u202e",
            "po_number": "PO\t9",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["friendly_name"] == [REFUSED] and errors["po_number"] == [REFUSED]
    subscription.refresh_from_db()
    assert (subscription.friendly_name, subscription.po_number) == ("Office seats", "PO-1")
