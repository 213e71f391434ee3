"""The dashboard per role: money by month (an SVG chart with its table), top customers, licence
utilisation, renewals, cancellation windows, failures and discovery, each figure linking to the
list behind it with its filter, each scoped to the viewer, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from rest_framework.test import APIClient

from seatkeeper.billing.dashboard import money_by_month, top_customers
from seatkeeper.catalog.models import add_months
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.money import Money
from seatkeeper.discovery.models import DiscoveryRun
from seatkeeper.subscriptions.models import SeatLot, Subscription, SyncStatus
from seatkeeper.subscriptions.tests import conftest as subscriptions_fixtures
from seatkeeper.subscriptions.tests.helpers import order
from seatkeeper.ui.tests import dashboard_data
from seatkeeper.ui.tests.dashboard_data import build, charge, hold_seats, this_month

pytestmark = pytest.mark.django_db

# The subscriptions tests' shop: the priced world, Customer One's tenant, provisioning by hand.
shop = subscriptions_fixtures.shop
_provision_by_hand = subscriptions_fixtures._provision_by_hand


@pytest.fixture
def data(cast, shop):
    return build(cast, shop)


def gbp(amount: str) -> Money:
    return Money(Decimal(amount), "GBP")


def home(client, username: str) -> str:
    sign_in(client, username)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def section(page: str, name: str) -> str:
    start = page.index(f'id="{name}"')
    end = page.find('<div class="card"', start + 1)
    section_end = page.find("</section>", start)
    candidates = [index for index in (end, section_end) if index != -1]
    return page[start : min(candidates)]


def links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"#]+)"', html)]


# --- selectors ---------------------------------------------------------------------------------


def test_partner_staff_see_their_sale_cost_and_margin_per_month(cast, data):
    (series,) = money_by_month(cast.operator).values()

    assert len(series) == 12 and series[-1].month == this_month()
    last, current = series[-2], series[-1]
    assert (current.revenue, current.cost, current.margin) == (
        gbp("190.00"),
        gbp("140.00"),
        gbp("50.00"),
    )
    assert (last.revenue, last.cost, last.margin) == (gbp("50.00"), gbp("45.00"), gbp("5.00"))
    assert all(month.revenue == gbp("0") for month in series[:-2])


def test_a_reseller_sees_its_own_customers_at_its_own_prices(cast, data):
    (series,) = money_by_month(cast.reseller_admin).values()

    current = series[-1]
    # Customer One only (not Reseller Two's customer, not the direct one), sold at the customer
    # price, bought at the reseller price; the partner's cost of 90.00 appears nowhere
    assert (current.revenue, current.cost, current.margin) == (
        gbp("120.00"),
        gbp("100.00"),
        gbp("20.00"),
    )
    (top,) = top_customers(cast.reseller_admin)
    assert top["name"] == "Customer One" and top["revenue"] == gbp("180.00")
    assert top["cost"] == gbp("150.00")


def test_a_customer_sees_what_it_spent_and_no_cost(cast, data):
    (series,) = money_by_month(cast.customer_admin).values()

    assert series[-1].revenue == gbp("120.00") and series[-2].revenue == gbp("60.00")
    assert all(month.cost is None and month.margin is None for month in series)
    assert top_customers(cast.customer_admin) is None


def test_top_customers_of_the_partner_are_ordered_by_what_it_sold_them(cast, data):
    rows = top_customers(cast.operator)

    assert [(row["name"], row["revenue"], row["margin"]) for row in rows] == [
        ("Customer One", gbp("150.00"), gbp("15.00")),  # 50 + 100 at the reseller price
        ("Direct Customer", gbp("70.00"), gbp("30.00")),
        ("Customer Three", gbp("20.00"), gbp("10.00")),
    ]


def test_another_partner_sees_none_of_it(cast, data):
    assert money_by_month(cast.outsider) == {}
    assert top_customers(cast.outsider) == []


# --- the page ----------------------------------------------------------------------------------


def test_the_chart_draws_each_months_bars_and_margin_to_scale(client, data):
    chart = section(home(client, "operator"), "dash-chart")

    assert '<svg class="money-chart"' in chart and "<title" in chart and "<desc" in chart
    # axis 0 → £200 (steps of £50) over 206 px from y=14: £190 reaches y=24.3, £140 y=75.8,
    # the £50 margin sits at y=168.5; the baseline (zero) is y=220
    assert 'data-kind="revenue" x="' in chart
    assert re.search(r'data-kind="revenue" [^>]*y="24.3" [^>]*height="195.7"', chart)
    assert re.search(r'data-kind="cost" [^>]*y="75.8" [^>]*height="144.2"', chart)
    assert re.search(r'data-kind="revenue" [^>]*y="168.5" [^>]*height="51.5"', chart)  # £50
    assert re.search(r'data-kind="cost" [^>]*y="173.7" [^>]*height="46.3"', chart)  # £45
    assert 'cy="168.5"' in chart  # this month's margin point (£50)
    assert chart.count('data-kind="revenue"') == 12 and chart.count('class="point"') == 12
    for label in ("£0.00", "£50.00", "£100.00", "£150.00", "£200.00"):
        assert f">{label}</text>" in chart
    # the table gives the same figures
    assert "£190.00" in chart and "£140.00" in chart


def test_every_figure_links_to_a_list_that_answers(client, data):
    page = home(client, "operator")
    current = this_month().strftime("%Y-%m")

    chart_links = links(section(page, "dash-chart"))
    assert (
        f"/billing/report/?organisation={data['one'].customer.parent.parent_id}"
        f"&period=custom&from={current}&to={current}" in chart_links
    )
    top = links(section(page, "dash-top-customers"))
    assert any(
        href.startswith(f"/billing/report/?organisation={data['one'].customer_id}&period=custom")
        for href in top
    )
    assert "/right-sizing/" in links(section(page, "dash-utilisation"))
    assert "/subscriptions/?renews_within=30" in links(section(page, "dash-renewals"))
    assert "/subscriptions/?status=failed" in links(section(page, "dash-failures"))
    assert "/subscriptions/?cancellable_within=48" in links(section(page, "dash-windows"))
    assert "/discovery/" in links(section(page, "dash-discovery"))
    every = set(links(page.split("<main", 1)[1]))
    for href in sorted(every):
        path = urlsplit(href).path
        resolve(path)  # raises Resolver404 when the link leads nowhere
        if path.startswith(("/billing/report/", "/subscriptions/", "/right-sizing/")):
            assert client.get(href).status_code == 200, href


def test_utilisation_counts_assigned_against_purchased(client, data):
    tile = section(home(client, "reselleradmin"), "dash-utilisation")

    assert "40" in tile  # 2 of 5 seats
    assert "2 assigned of 5 purchased" in tile
    assert "Right-sizing: 3 unassigned" in tile


def test_renewals_and_windows_count_what_their_lists_show(client, cast, data):
    soon = clock.today() + dt.timedelta(days=10)
    Subscription.objects.filter(pk=data["one"].pk).update(commitment_end_date=soon)
    SeatLot.objects.filter(subscription=data["one"]).update(
        cancellable_until=clock.now() + dt.timedelta(hours=5)
    )
    page = home(client, "reselleradmin")

    renewals = section(page, "dash-renewals")
    assert '<div class="stat">1</div>' in renewals and "Office seats" in renewals
    windows = section(page, "dash-windows")
    assert '<div class="stat">1</div>' in windows
    response = client.get("/subscriptions/?renews_within=30")
    listed = response.context["rows"]
    assert [row["subscription"].pk for row in listed] == [data["one"].pk]
    # the list says which filter the figure applied, keeps it in its form, and can drop it
    html = response.content.decode()
    note = html[html.index('id="list-window-filter"') :]
    assert "Active, term ending within 30 days" in note and 'href="?"' in note
    assert '<input type="hidden" name="renews_within" value="30">' in html
    listed = client.get("/subscriptions/?cancellable_within=48").context["rows"]
    assert [row["subscription"].pk for row in listed] == [data["one"].pk]
    assert client.get("/subscriptions/?renews_within=0").status_code == 400


def test_a_reseller_never_sees_another_resellers_customers_or_the_partner_cost(client, data):
    page = home(client, "reselleradmin")

    assert "Customer Three" not in page and "Direct Customer" not in page
    chart = section(page, "dash-chart")
    assert "£120.00" in chart and "£100.00" in chart
    assert "£90.00" not in chart and "£190.00" not in chart and "£140.00" not in chart
    assert 'id="dash-discovery"' not in page


def test_a_customer_sees_its_spending_and_never_a_cost(client, data):
    page = home(client, "customeradmin")
    # the value axis's round steps (£50.00, £100.00…) are not figures of anyone's
    page = re.sub(r'<text class="tick"[^>]*>[^<]*</text>', "", page)

    chart = section(page, "dash-chart")
    assert "Spending by month" in chart and "£120.00" in chart and "£60.00" in chart
    assert 'data-kind="cost"' not in chart and 'class="point"' not in chart
    for hidden in ("£100.00", "£90.00", "£50.00", "£45.00", "Margin", 'id="dash-top-customers"'):
        assert hidden not in page
    customer = data["one"].customer_id
    assert f"/customers/{customer}/subscriptions/?renews_within=30" in links(page)


def test_the_dashboard_speaks_french(client, cast, data):
    cast.operator.language = "fr"
    cast.operator.save(update_fields=["language"])
    chart = section(home(client, "operator"), "dash-chart")

    assert "190,00" in chart and "190.00" not in chart
    # the drawing's coordinates stay numbers an SVG reads, whatever the language
    assert re.search(r'data-kind="revenue" [^>]*y="24.3" [^>]*height="195.7"', chart)
    assert 'cy="168.5"' in chart and "195,7" not in chart
    assert "Ventes, coût et marge par mois" in chart


# --- queries -------------------------------------------------------------------------------------


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


@pytest.mark.parametrize("username", ["operator", "reselleradmin", "customeradmin"])
def test_the_dashboard_does_not_query_more_with_more_data(client, cast, shop, data, username):
    sign_in(client, username)
    _queries(client)  # warm the caches read once per process
    small = _queries(client)

    for number in range(6):
        more = order(cast, shop, quantity=3 + number, name=f"More {number}")
        hold_seats(more, 1, prefix=f"more{number}")
        for back in range(3):
            charge(more, months_back=back, cost="1.00", reseller="2.00", customer="3.00")
        other = order(
            cast, shop, actor=cast.cloud_admin, customer=cast.customer_three, name=f"R2 {number}"
        )
        charge(other, months_back=2, cost="1.00", reseller="2.00", customer="3.00")
        Subscription.objects.filter(pk=more.pk).update(
            sync_status=SyncStatus.FAILED,
            commitment_end_date=clock.today() + dt.timedelta(days=number + 1),
        )

    assert _queries(client) == small


def test_the_chart_months_follow_the_clock(cast, data):
    (series,) = money_by_month(cast.operator).values()

    assert [month.month for month in series] == [
        add_months(this_month(), offset) for offset in range(-11, 1)
    ]
    assert dashboard_data.cycle_end(0).month == series[-1].month.month


def test_the_api_filters_renewals_and_windows_as_the_list_does(cast, data):
    Subscription.objects.filter(pk=data["one"].pk).update(
        commitment_end_date=clock.today() + dt.timedelta(days=3)
    )
    api = sign_in(APIClient(), "operator")

    body = api.get("/api/v1/subscriptions/?renews_within=30").json()
    assert [row["id"] for row in body["results"]] == [data["one"].pk]
    assert api.get("/api/v1/subscriptions/?cancellable_within=48").json()["count"] == 0
    refused = api.get("/api/v1/subscriptions/?renews_within=400")
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["renews_within"]
    document = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    names = {p["name"] for p in document["paths"]["/api/v1/subscriptions/"]["get"]["parameters"]}
    assert {"renews_within", "cancellable_within"} <= names


def test_discovery_shows_the_last_run_to_partner_staff_only(client, cast, shop, data):
    account = shop.world.vendor.provider_account
    DiscoveryRun.objects.create(account=account, state="error", trigger="schedule")
    last = DiscoveryRun.objects.create(account=account, state="completed", trigger="person")

    tile = section(home(client, "operator"), "dash-discovery")

    assert "Completed" in tile and "Partner Center" in tile
    assert f"/discovery/runs/{last.pk}/" in links(tile)
    assert client.get(f"/discovery/runs/{last.pk}/").status_code == 200
    client.logout()
    assert 'id="dash-discovery"' not in home(client, "customeradmin")
