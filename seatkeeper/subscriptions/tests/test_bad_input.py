"""Bad input on subscriptions gives a 400 naming the field, never a 500, and writes nothing."""

from __future__ import annotations

import pytest

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.subscriptions.models import Operation, Order, Subscription
from seatkeeper.subscriptions.tests.helpers import START, order
from seatkeeper.subscriptions.tests.test_api import api_as

HUGE = 10**30


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def test_a_change_quote_with_an_unknown_billing_cycle_answers_400(cast, shop, frozen):
    subscription = order(cast, shop)
    api = api_as(cast.reseller_admin)
    for field, value in (("billing_cycle", "bogus"), ("term", "P9Y"), ("quantity", HUGE)):
        response = api.post(
            f"/api/v1/subscriptions/{subscription.pk}/quote/", {field: value}, format="json"
        )
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": str(HUGE)}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"offset": str(HUGE)}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"status": "bogus"}, "status"),
        ({"section": "bogus"}, "section"),
        ({"customer": str(HUGE)}, "customer"),
    ],
)
def test_a_bad_list_query_answers_400_naming_the_field(cast, shop, frozen, query, field):
    order(cast, shop)
    response = api_as(cast.reseller_admin).get("/api/v1/subscriptions/", query)
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_api_lists_have_a_maximum_page_size(cast, shop, frozen):
    order(cast, shop)
    api = api_as(cast.reseller_admin)
    assert api.get("/api/v1/subscriptions/", {"limit": 200}).status_code == 200
    assert api.get("/api/v1/subscriptions/", {"limit": 201}).status_code == 400
    assert api.get("/api/v1/activity/", {"limit": 201}).status_code == 400
    assert api.get("/api/v1/vendors/", {"limit": 201}).status_code == 400


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"section": "bogus"}])
def test_the_subscription_pages_answer_400_to_an_unknown_filter(client, cast, shop, frozen, query):
    sign_in(client, "reselleradmin")
    response = client.get("/subscriptions/", query)
    assert response.status_code == 400
    assert next(iter(query)) in response.content.decode()
    export = client.get("/subscriptions/", {**query, "export": "csv"})
    assert export.status_code == 400


def test_the_quantity_preview_refuses_a_huge_quantity_naming_it(client, cast, shop, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    response = client.get(
        f"/subscriptions/{subscription.pk}/quantity/preview/", {"quantity": str(HUGE)}
    )
    assert response.status_code == 400
    assert "100,000" in response.content.decode()
    assert Subscription.objects.get(pk=subscription.pk).quantity == 5


@pytest.mark.parametrize("start_date", ["9999-12-31", "3000-01-01"])
def test_an_order_starting_at_the_end_of_time_answers_400(cast, shop, frozen, start_date):
    orders, subscriptions, operations = (
        Order.objects.count(), Subscription.objects.count(), Operation.objects.count(),
    )  # fmt: skip
    response = api_as(cast.reseller_admin).post(
        "/api/v1/orders/",
        {
            "customer": cast.customer.pk,
            "start_date": start_date,
            "lines": [
                {
                    "offer": shop.world.basic.pk,
                    "quantity": 1,
                    "term": "P1Y",
                    "billing_cycle": "monthly",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "start_date" in response.json()["fields"]
    assert (Order.objects.count(), Subscription.objects.count(), Operation.objects.count()) == (
        orders, subscriptions, operations,
    )  # fmt: skip


def test_the_order_service_refuses_a_start_beyond_the_calendar(cast, shop, frozen):
    import datetime as dt

    from seatkeeper.core.errors import ServiceError
    from seatkeeper.subscriptions import services

    line = services.OrderLine(
        offer=shop.world.basic, quantity=1, term="P1Y", billing_cycle="monthly",
        friendly_name="", parent=None,
    )  # fmt: skip
    with pytest.raises(ServiceError) as refused:
        services.order_place(
            actor=cast.reseller_admin, customer=cast.customer, lines=[line],
            start_date=dt.date(9999, 12, 31),
        )  # fmt: skip
    assert refused.value.field == "start_date"
    assert not Subscription.objects.exists()
