"""Right-sizing: per subscription, the seats paid for that nobody holds, and what reducing them at
renewal would save, priced by the pricing engine at the viewer's audience; the page (reached from
the dashboard and the subscription page) and the API, scoped like everything else.

Prices of the shared world (GBP, Microsoft 365 Business Basic, 1-year term billed monthly): partner
cost and reseller price £4.50 per seat per month, customer price £5.00."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from seatkeeper.conftest import sign_in
from seatkeeper.core.money import Money
from seatkeeper.people.rightsizing import idle_seats
from seatkeeper.subscriptions.models import Subscription
from seatkeeper.subscriptions.tests import conftest as subscriptions_fixtures
from seatkeeper.subscriptions.tests.helpers import order
from seatkeeper.ui.tests.dashboard_data import build, hold_seats

pytestmark = pytest.mark.django_db

shop = subscriptions_fixtures.shop
_provision_by_hand = subscriptions_fixtures._provision_by_hand


@pytest.fixture
def data(cast, shop):
    return build(cast, shop)


def rows_by_name(result) -> dict:
    return {row.subscription.friendly_name: row for row in result.rows}


def test_partner_staff_see_every_idle_seat_at_the_partner_cost(cast, data):
    result = idle_seats(cast.operator)

    assert result.audience == "partner_cost"
    rows = rows_by_name(result)
    assert set(rows) == {"Office seats", "R2 seats", "Direct seats"}
    office = rows["Office seats"]
    assert (office.quantity, office.assigned, office.unassigned) == (5, 2, 3)
    assert office.unit == Money("4.50", "GBP")
    assert office.saving_per_period == Money("13.50", "GBP")  # 3 seats a month
    assert office.saving_over_term == Money("162.00", "GBP")  # 12 months of the renewed year
    # nobody holds the other two subscriptions' 5 seats each: the largest savings come first
    assert [row.subscription.friendly_name for row in result.rows][-1] == "Office seats"
    assert result.totals == {"GBP": Money("702.00", "GBP")}  # 162 + 2 × 270 (5 × 4.50 × 12)


def test_a_reseller_sees_only_its_customers_at_its_own_price(cast, data):
    result = idle_seats(cast.reseller_admin)

    assert result.audience == "reseller_price"
    assert [row.subscription.friendly_name for row in result.rows] == ["Office seats"]
    # asking for the partner cost is not allowed: the reseller's own price is shown instead
    assert idle_seats(cast.reseller_admin, audience="partner_cost").audience == "reseller_price"


def test_a_customer_sees_its_own_seats_at_its_own_price(cast, data):
    (row,) = idle_seats(cast.customer_admin, audience="partner_cost").rows

    assert row.unit == Money("5.00", "GBP")
    assert row.saving_per_period == Money("15.00", "GBP")
    assert row.saving_over_term == Money("180.00", "GBP")


def test_a_quantity_scheduled_for_renewal_and_no_renewal_are_taken_into_account(cast, data):
    Subscription.objects.filter(pk=data["one"].pk).update(renewal_quantity=4)
    office = rows_by_name(idle_seats(cast.reseller_admin))["Office seats"]
    assert (office.quantity_at_renewal, office.unassigned) == (4, 2)
    assert office.saving_over_term == Money("108.00", "GBP")

    Subscription.objects.filter(pk=data["one"].pk).update(auto_renew=False)
    office = rows_by_name(idle_seats(cast.reseller_admin))["Office seats"]
    assert office.unassigned == 2 and not office.renews
    assert office.saving_per_period is None and office.saving_over_term is None


def test_a_subscription_whose_seats_are_all_held_is_not_listed(cast, data):
    hold_seats(data["one"], 3, prefix="more")

    assert "Office seats" not in rows_by_name(idle_seats(cast.operator))


# --- the page ---------------------------------------------------------------------------------


def test_the_page_is_reached_from_the_subscription_and_the_dashboard(client, data):
    sign_in(client, "reselleradmin")
    detail = client.get(f"/subscriptions/{data['one'].pk}/").content.decode()
    assert f'href="/right-sizing/?subscription={data["one"].pk}"' in detail
    assert 'href="/right-sizing/"' in client.get("/").content.decode()

    page = client.get(f"/right-sizing/?subscription={data['one'].pk}")

    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index(f'data-subscription="{data["one"].pk}"') :]
    assert '<td class="num" data-unassigned>3</td>' in row
    assert "£13.50" in row and "£162.00" in row


def test_another_organisations_customer_or_subscription_answers_404(client, cast, data):
    sign_in(client, "reselleradmin")
    assert client.get(f"/right-sizing/?subscription={data['three'].pk}").status_code == 404
    assert client.get(f"/right-sizing/?customer={cast.customer_three.pk}").status_code == 404
    assert client.get("/right-sizing/?customer=abc").status_code == 400


def test_a_customer_never_sees_a_cost_on_the_page(client, data):
    sign_in(client, "customeradmin")
    html = client.get("/right-sizing/").content.decode()

    assert "£15.00" in html and "£180.00" in html
    assert "£4.50" not in html and "£13.50" not in html and "R2 seats" not in html


def test_the_page_does_not_query_more_with_more_subscriptions(client, cast, shop, data):
    sign_in(client, "operator")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/right-sizing/").status_code == 200
        return len(queries)

    count()
    small = count()
    for number in range(5):
        more = order(cast, shop, quantity=4 + number, name=f"More {number}")
        hold_seats(more, 1, prefix=f"more{number}")

    assert count() == small


# --- the API ----------------------------------------------------------------------------------


def test_the_api_gives_the_same_rows_scoped_and_priced(cast, data):
    api = sign_in(APIClient(), "reselleradmin")

    body = api.get("/api/v1/right-sizing/").json()

    assert body["count"] == 1
    (row,) = body["results"]
    assert row["subscription"] == data["one"].pk and row["unassigned"] == 3
    assert row["audience"] == "reseller_price" and row["currency"] == "GBP"
    assert (row["unit_price"], row["saving_per_period"], row["saving_over_term"]) == (
        "4.5000",  # unit prices keep four places, as everywhere in the API
        "13.50",
        "162.00",
    )
    assert api.get(f"/api/v1/right-sizing/?customer={cast.customer_three.pk}").status_code == 404
    refused = api.get("/api/v1/right-sizing/", {"audience": "everyone"})
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["audience"]


def test_the_api_is_in_the_openapi_document(cast):
    document = (
        sign_in(APIClient(), "readonly")
        .get("/api/v1/schema/", HTTP_ACCEPT="application/json")
        .json()
    )
    operation = document["paths"]["/api/v1/right-sizing/"]["get"]

    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"customer", "subscription", "audience", "limit", "offset"} <= names
