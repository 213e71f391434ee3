"""`Idempotency-Key` on creating API calls: a retry after a lost answer does nothing twice."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from seatkeeper.api.idempotency import KEY_LIFETIME, purge_expired_keys
from seatkeeper.api.models import IdempotencyKey
from seatkeeper.core import clock
from seatkeeper.subscriptions.models import Operation, Order, Subscription
from seatkeeper.subscriptions.tests.helpers import START
from seatkeeper.subscriptions.tests.test_api import api_as


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def order_body(shop, quantity=4) -> dict:
    return {
        "customer": shop.world.basic.vendor.organisation.pk,
        "lines": [
            {"offer": shop.world.basic.pk, "quantity": quantity, "term": "P1Y",
             "billing_cycle": "monthly"}
        ],
    }  # fmt: skip


def place(api, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post("/api/v1/orders/", body, format="json", **headers)


def counts() -> tuple[int, int, int]:
    return Order.objects.count(), Subscription.objects.count(), Operation.objects.count()


@pytest.fixture
def body(cast, shop) -> dict:
    values = order_body(shop)
    values["customer"] = cast.customer.pk
    return values


def test_a_retry_with_the_same_key_answers_the_first_answer_and_orders_once(
    cast, shop, frozen, body
):
    api = api_as(cast.reseller_admin)
    # when the client sends the order, loses the answer and sends it again with the same key
    first = place(api, body, key="order-2026-0001")
    before_retry = counts()
    again = place(api, body, key="order-2026-0001")
    # then one order was placed, and the retry answered the same
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == before_retry == (1, 1, 1)


def test_the_same_key_with_another_body_is_refused_with_422(cast, shop, frozen, body):
    api = api_as(cast.reseller_admin)
    place(api, body, key="k-1")
    before = counts()
    other = place(api, {**body, "po_number": "PO-other"}, key="k-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json()["fields"]
    assert counts() == before


def test_without_a_key_each_call_orders_and_keys_are_per_user(cast, shop, frozen, body):
    reseller = api_as(cast.reseller_admin)
    place(reseller, body)
    place(reseller, body)
    assert counts()[0] == 2
    # another person's identical key is another key
    from seatkeeper.accounts.models import Role
    from seatkeeper.accounts.services import user_create

    colleague = user_create(
        actor=None, organisation=cast.reseller, username="colleague", email="c@test.example",
        password="Test-Password-2026!", role=Role.RESELLER_ADMIN, first_name="C", last_name="T",
    )  # fmt: skip
    assert place(reseller, body, key="same").status_code == 201
    assert place(api_as(colleague), body, key="same").status_code == 201
    assert counts()[0] == 4


def test_a_refused_call_keeps_its_key_free_for_the_corrected_retry(cast, shop, frozen, body):
    api = api_as(cast.reseller_admin)
    refused = place(api, {**body, "lines": [{**body["lines"][0], "quantity": 0}]}, key="k-2")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert place(api, body, key="k-2").status_code == 201
    assert counts()[0] == 1


def test_a_key_expires_after_its_lifetime(cast, shop, frozen, body):
    api = api_as(cast.reseller_admin)
    place(api, body, key="k-3")
    frozen.advance(seconds=KEY_LIFETIME.total_seconds() + 1)
    # when the same key comes back after its lifetime, it is a new call
    assert place(api, body, key="k-3").status_code == 201
    assert counts()[0] == 2
    # and the scheduler's purge deletes keys whose time is up
    frozen.advance(seconds=KEY_LIFETIME.total_seconds() + 1)
    assert purge_expired_keys.call() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey"])
def test_a_malformed_key_answers_400_and_orders_nothing(cast, shop, frozen, body, key):
    response = place(api_as(cast.reseller_admin), body, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert counts() == (0, 0, 0)


def test_other_creating_calls_take_the_key_too(cast, shop, frozen):
    api = api_as(cast.cloud_admin)
    body = {"name": "Global EUR", "currency": "EUR"}
    first = api.post("/api/v1/price-lists/", body, format="json", HTTP_IDEMPOTENCY_KEY="pl-1")
    again = api.post("/api/v1/price-lists/", body, format="json", HTTP_IDEMPOTENCY_KEY="pl-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]


def test_the_schema_documents_the_header_on_creating_calls(cast):
    schema = api_as(cast.cloud_admin).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    operation = schema.json()["paths"]["/api/v1/orders/"]["post"]
    names = [parameter["name"] for parameter in operation["parameters"]]
    assert "Idempotency-Key" in names
    assert "422" in operation["responses"]


@pytest.mark.skipif(
    "sqlite" in connection.vendor, reason="row locks across threads need a server database"
)
def test_two_web_processes_retrying_at_once_place_one_order(
    transactional_db, cast, shop, frozen, body
):
    # given two clients (as two web processes would serve them) sending the same keyed order
    clients = [api_as(cast.reseller_admin), api_as(cast.reseller_admin)]
    barrier = threading.Barrier(2)
    answers: list = []

    def send(api):
        barrier.wait()
        try:
            answers.append(place(api, body, key="same-moment"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(api,)) for api in clients]
    # when both arrive at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then the database let one through; the other waited for it and answered its answer
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert sorted(answer.get("Idempotent-Replayed", "") for answer in answers) == ["", "true"]
    assert counts() == (1, 1, 1)
