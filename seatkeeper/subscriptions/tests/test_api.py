"""The subscriptions API: scoped reads, each operation allowed and refused, 400/403/404/409."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts import services as account_services
from seatkeeper.core import clock
from seatkeeper.providers.errors import ValidationFailed
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import OperationState, Status, Subscription
from seatkeeper.subscriptions.tests.helpers import START, grant, order, recorded_state


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def api_as(user) -> APIClient:
    _token, plain = account_services.api_token_create(actor=user, name="tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return api


def test_list_is_scoped_filtered_and_priced_for_the_viewer(cast, shop, frozen):
    subscription = order(cast, shop)
    order(cast, shop, name="Second", quantity=2)
    services.subscription_suspend(actor=cast.reseller_admin, subscription=subscription)
    body = api_as(cast.reseller_admin).get("/api/v1/subscriptions/").json()
    assert body["count"] == 2
    row = next(item for item in body["results"] if item["id"] == subscription.pk)
    assert row["price"]["audience"] == "reseller_price"
    assert row["price"]["total"] == "22.50" and row["price"]["currency"] == "GBP"
    assert row["price"]["explanation"]
    assert row["assigned_seats"] == 0 and row["addon_count"] == 0
    suspended = api_as(cast.reseller_admin).get("/api/v1/subscriptions/?status=suspended").json()
    assert [item["id"] for item in suspended["results"]] == [subscription.pk]
    customer = api_as(cast.customer_admin).get("/api/v1/subscriptions/").json()
    assert customer["results"][0]["price"]["audience"] == "customer_price"
    assert api_as(cast.outsider).get("/api/v1/subscriptions/").json()["count"] == 0


def test_other_organisations_get_404(cast, shop, frozen):
    subscription = order(cast, shop)
    api = api_as(cast.outsider)
    assert api.get(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 404
    assert api.get(f"/api/v1/subscriptions/?customer={cast.customer.pk}").status_code == 404
    response = api.post(f"/api/v1/subscriptions/{subscription.pk}/quantity/", {"quantity": 9})
    assert response.status_code == 404
    assert api.post(f"/api/v1/subscriptions/{subscription.pk}/suspend/").status_code == 404
    assert Subscription.objects.get(pk=subscription.pk).quantity == 5


def test_order_then_change_quantity_with_the_version(cast, shop, frozen):
    api = api_as(cast.reseller_admin)
    response = api.post(
        "/api/v1/orders/",
        {
            "customer": cast.customer.pk,
            "po_number": "PO-API",
            "lines": [
                {
                    "offer": shop.world.basic.pk,
                    "quantity": 4,
                    "term": "P1Y",
                    "billing_cycle": "monthly",
                    "friendly_name": "API seats",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    subscription = Subscription.objects.get(pk=response.json()["subscriptions"][0])
    assert subscription.po_number == "PO-API" and subscription.status == Status.PENDING
    shop.provision(subscription)
    detail = api.get(f"/api/v1/subscriptions/{subscription.pk}/").json()
    changed = api.post(
        f"/api/v1/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 6, "version": detail["version"]},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["quantity"] == 6
    before = recorded_state(shop)
    stale = api.post(
        f"/api/v1/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 8, "version": detail["version"]},
        format="json",
    )
    assert stale.status_code == 409
    assert "changed this subscription" in stale.json()["message"]
    assert Subscription.objects.get(pk=subscription.pk).quantity == 6
    assert recorded_state(shop) == before


def test_a_broken_rule_is_400_with_the_services_message(cast, shop, frozen):
    api = api_as(cast.reseller_admin)
    before = recorded_state(shop)
    response = api.post(
        "/api/v1/orders/",
        {
            "customer": cast.customer.pk,
            "lines": [
                {"offer": shop.world.teams.pk, "quantity": 1, "term": "P1Y",
                 "billing_cycle": "monthly"}
            ],
        },
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "attaches to one of the customer's subscriptions" in response.json()["message"]
    invalid = api.post("/api/v1/orders/", {"customer": cast.customer.pk}, format="json")
    assert invalid.status_code == 400 and "lines" in invalid.json()["fields"]
    assert not Subscription.objects.exists()
    assert recorded_state(shop) == before


def test_a_customer_admin_needs_rights_for_each_operation(cast, shop, frozen):
    subscription = order(cast, shop)
    api = api_as(cast.customer_admin)
    url = f"/api/v1/subscriptions/{subscription.pk}"
    before = recorded_state(shop)
    refused = api.post(f"{url}/quantity/", {"quantity": 9})
    assert refused.status_code == 403
    assert "increase quantities" in refused.json()["message"]
    assert api.post(f"{url}/renewal/", {"renewal_option": "none"}).status_code == 403
    assert api.post(f"{url}/cancel/").status_code == 403
    assert api.post(f"{url}/suspend/").status_code == 403
    assert recorded_state(shop) == before
    grant(cast, can_increase=True, can_change_renewal=True)
    assert api.post(f"{url}/quantity/", {"quantity": 9}).status_code == 200
    assert api.post(f"{url}/quantity/", {"quantity": 7}).status_code == 403
    assert api.post(f"{url}/renewal/", {"renewal_option": "none"}).status_code == 200
    assert api.post(f"{url}/suspend/").status_code == 403
    subscription.refresh_from_db()
    assert subscription.quantity == 9 and not subscription.auto_renew


def test_read_only_changes_nothing(cast, shop, frozen):
    subscription = order(cast, shop)
    api = api_as(cast.read_only)
    assert api.get(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 200
    before = recorded_state(shop)
    response = api.post(f"/api/v1/subscriptions/{subscription.pk}/suspend/")
    assert response.status_code == 403 and "only read" in response.json()["message"]
    assert recorded_state(shop) == before


def test_suspend_reactivate_cancel(cast, shop, frozen):
    subscription = order(cast, shop)
    api = api_as(cast.reseller_admin)
    url = f"/api/v1/subscriptions/{subscription.pk}"
    assert api.post(f"{url}/suspend/").json()["status"] == "suspended"
    assert api.post(f"{url}/reactivate/").json()["status"] == "active"
    before = recorded_state(shop)
    refused = api.post(f"{url}/reactivate/")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_state"
    assert recorded_state(shop) == before
    assert api.post(f"{url}/cancel/").json()["status"] == "cancelled"


def test_cancel_after_the_window_is_refused_with_the_date(cast, shop, frozen):
    subscription = order(cast, shop)
    frozen.advance(days=10)
    api = api_as(cast.reseller_admin)
    before = recorded_state(shop)
    response = api.post(f"/api/v1/subscriptions/{subscription.pk}/cancel/")
    assert response.status_code == 400 and response.json()["code"] == "window_closed"
    assert recorded_state(shop) == before
    assert "2026" in response.json()["message"]


def test_renewal_schedules_changes(cast, shop, frozen):
    subscription = order(cast, shop)
    response = api_as(cast.reseller_admin).post(
        f"/api/v1/subscriptions/{subscription.pk}/renewal/",
        {"schedule": True, "renewal_quantity": 3},
        format="json",
    )
    assert response.status_code == 200 and response.json()["renewal_quantity"] == 3


def test_quote_preview_says_whose_prices(cast, shop, frozen):
    subscription = order(cast, shop)
    response = api_as(cast.reseller_admin).post(
        f"/api/v1/subscriptions/{subscription.pk}/quote/", {"quantity": 7}, format="json"
    )
    body = response.json()
    assert response.status_code == 200
    assert body["audience"] == "reseller_price" and body["audience_label"] == "Reseller price"
    assert body["new_periodic_total"] == "31.50" and body["adjustment_now"] == "9.00"
    assert body["lines"][0]["explanation"]
    partner = api_as(cast.reseller_admin).post(
        f"/api/v1/subscriptions/{subscription.pk}/quote/",
        {"quantity": 7, "audience": "partner_cost"},
        format="json",
    )
    assert partner.json()["audience"] == "reseller_price"  # not theirs to see


def test_retry_a_failed_operation(cast, shop, frozen):
    subscription = order(cast, shop)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=7
    )
    shop.provider.failures = [ValidationFailed("Quantity outside limits", code="2002")]
    shop.provision(subscription)
    failed = subscription.operations.get(state=OperationState.FAILED)
    assert (
        api_as(cast.customer_admin).post(f"/api/v1/operations/{failed.pk}/retry/").status_code
        == 403
    )
    assert api_as(cast.outsider).post(f"/api/v1/operations/{failed.pk}/retry/").status_code == 404
    response = api_as(cast.reseller_admin).post(f"/api/v1/operations/{failed.pk}/retry/")
    assert response.status_code == 200 and response.json()["state"] == "pending"
    again = api_as(cast.reseller_admin).post(f"/api/v1/operations/{failed.pk}/retry/")
    assert again.status_code == 409
    history = api_as(cast.reseller_admin).get(f"/api/v1/subscriptions/{subscription.pk}/history/")
    assert [row["kind"] for row in history.json()["results"]] == ["quantity", "create"]


def test_the_schema_documents_the_operations(cast):
    api = api_as(cast.reseller_admin)
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    for operation in (
        "subscriptions_list",
        "orders_create",
        "subscriptions_change_quantity",
        "subscriptions_suspend",
        "subscriptions_quote",
        "operations_retry",
    ):
        assert operation in schema


def _order_body(cast, shop, term="P1Y"):
    return {
        "customer": cast.customer.pk,
        "lines": [
            {"offer": shop.world.basic.pk, "quantity": 2, "term": term, "billing_cycle": "monthly"}
        ],
    }


def test_a_customer_admin_orders_only_with_the_right(cast, shop, frozen):
    api = api_as(cast.customer_admin)
    before = recorded_state(shop)
    refused = api.post("/api/v1/orders/", _order_body(cast, shop), format="json")
    assert refused.status_code == 403 and "order new subscriptions" in refused.json()["message"]
    assert not Subscription.objects.exists()
    assert recorded_state(shop) == before
    grant(cast, can_order=True)
    assert api.post("/api/v1/orders/", _order_body(cast, shop), format="json").status_code == 201


def test_monthly_only_rights_cover_monthly_term_subscriptions_only(cast, shop, frozen):
    grant(cast, can_order=True, can_increase=True, monthly_only=True)
    api = api_as(cast.customer_admin)
    refused = api.post("/api/v1/orders/", _order_body(cast, shop, term="P1Y"), format="json")
    assert refused.status_code == 403 and "monthly licences only" in refused.json()["message"]
    placed = api.post("/api/v1/orders/", _order_body(cast, shop, term="P1M"), format="json")
    assert placed.status_code == 201
    monthly = Subscription.objects.get(pk=placed.json()["subscriptions"][0])
    shop.provision(monthly)
    yearly = order(cast, shop)  # ordered by the reseller
    ok = api.post(f"/api/v1/subscriptions/{monthly.pk}/quantity/", {"quantity": 4})
    assert ok.status_code == 200
    no = api.post(f"/api/v1/subscriptions/{yearly.pk}/quantity/", {"quantity": 9})
    assert no.status_code == 403 and "monthly licences only" in no.json()["message"]
