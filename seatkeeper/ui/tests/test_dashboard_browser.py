"""In a real browser (Debian's Chromium), on a 1,366 px laptop, in English and in French: the
dashboard's money chart is drawn with its bars, it fits the window, and a bar leads to the billing
report of its month. A screenshot of each language is left in the temporary folder for a person
to look at."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from seatkeeper.accounts.models import User
from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.pricing.tests.world import build_world
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.tests.conftest import Shop
from seatkeeper.subscriptions.tests.fakes import FakeSubscriptionsProvider
from seatkeeper.ui.tests.dashboard_data import build

pytestmark = [pytest.mark.browser]

SCREENSHOTS = Path(tempfile.gettempdir()) / "seatkeeper-screenshots"


@pytest.fixture
def known(transactional_db, settings) -> Cast:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    cast = Cast()
    world = build_world(cast)
    services.tenant_link(
        actor=None,
        customer=cast.customer,
        account=world.vendor.provider_account,
        vendor_customer_id="c0ffee00-0000-4000-8000-000000000001",
        domain="customerone.onmicrosoft.com",
    )
    build(cast, Shop(world=world, provider=FakeSubscriptionsProvider()))
    return cast


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"{page.url} is {width} px wide"


@pytest.mark.parametrize(
    ("username", "language", "title", "sale", "points", "idle"),
    [
        ("operator", "en", "Dashboard", "£190.00", 12, 3),
        ("operator", "fr", "Tableau de bord", "190,00", 12, 3),
        # a customer: what it spent, no cost and no margin
        ("customeradmin", "en", "Dashboard", "£120.00", 0, 1),
    ],
)
def test_the_dashboard_chart_in_each_language_fits_a_laptop(
    page, live_server, known, username, language, title, sale, points, idle
):
    User.objects.filter(username=username).update(language=language)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    expect(page.locator("h1")).to_contain_text(title)
    chart = page.locator("svg.money-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect[data-kind=revenue]")).to_have_count(12)
    expect(chart.locator("circle.point")).to_have_count(points)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 500  # drawn at a readable size, not squeezed
    tallest = chart.locator("rect[data-kind=revenue]").last
    assert float(tallest.get_attribute("height")) > 150
    page.locator("#dash-chart summary").click()
    expect(page.locator("#dash-chart table")).to_contain_text(sale)
    _fits(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{username}-{language}.png"), full_page=True)

    # a month's bar leads to that month's billing report
    chart.locator("a").last.click()
    page.wait_for_url("**/billing/report/**")
    assert "period=custom" in page.url
    expect(page.locator("main")).to_contain_text(sale)

    # the utilisation figure leads to right-sizing, which fits the laptop too
    page.goto(f"{live_server.url}/")
    page.locator("#dash-utilisation a").click()
    page.wait_for_url("**/right-sizing/")
    expect(page.locator("#right-sizing tbody tr")).to_have_count(idle)
    _fits(page)
    page.screenshot(
        path=str(SCREENSHOTS / f"right-sizing-{username}-{language}.png"), full_page=True
    )
