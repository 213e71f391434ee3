"""In a real browser (Debian's Chromium): the billing report's date range, expanding a cycle and a
subscription in place, and the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from seatkeeper.billing import charges
from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.core import clock
from seatkeeper.pricing.tests.world import build_world
from seatkeeper.subscriptions import provisioning, services
from seatkeeper.subscriptions.tests.fakes import FakeSubscriptionsProvider
from seatkeeper.testing.browser import click_nav

pytestmark = [pytest.mark.browser]


@pytest.fixture
def billed(transactional_db, _clock_frozen_for_each_test) -> Cast:
    """November and December billed for Customer One, seen on 5 January 2027."""
    cast = Cast()
    world = build_world(cast)
    services.tenant_link(
        actor=None,
        customer=cast.customer,
        account=world.vendor.provider_account,
        vendor_customer_id="c0ffee00-0000-4000-8000-000000000001",
        domain="customerone.onmicrosoft.com",
    )
    provider = FakeSubscriptionsProvider()

    def provision(subscription) -> None:
        provisioning.provision_subscription(subscription.pk, provider_factory=lambda a: provider)

    line = services.OrderLine(
        offer=world.basic, quantity=5, term="P1Y", billing_cycle="monthly", friendly_name="Office"
    )
    placed = services.order_place(
        actor=cast.reseller_admin, customer=cast.customer, lines=[line], po_number="PO-77"
    )
    subscription = placed.subscriptions.get()
    provision(subscription)
    with clock.frozen(dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)):
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=8
        )
        provision(subscription)
    _clock_frozen_for_each_test.set(dt.datetime(2027, 1, 5, 9, tzinfo=dt.UTC))
    for day in (dt.date(2026, 11, 30), dt.date(2026, 12, 31)):
        charges.billing_run(account=cast.reseller, day=day)
    return cast


def _sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_range_expand_and_export(page, live_server, billed):
    _sign_in(page, live_server.url, "reselleradmin")
    click_nav(page, "billing")

    # Last month: December's report only, its total in the summary
    cycles = page.locator("details.cycle")
    expect(cycles).to_have_count(1)
    december = page.locator("details[data-cycle='2026-12-31']")
    expect(december.locator("summary").first).to_contain_text("£40.00")

    # A custom range of two months: one report per cycle
    page.select_option("#period", "custom")
    page.fill("input[name=from]", "2026-11")
    page.fill("input[name=to]", "2026-12")
    page.click("#report-filter button[type=submit]")
    expect(cycles).to_have_count(2)

    # Expand November, then the subscription: one detail line per transaction type
    november = page.locator("details[data-cycle='2026-11-30']")
    subscription = november.locator("details.subscription")
    expect(subscription).to_be_hidden()
    november.locator("summary").first.click()
    expect(subscription).to_be_visible()
    prorata = subscription.locator("tr[data-kind=prorata]")
    expect(prorata).to_be_hidden()
    subscription.locator("summary").click()
    expect(prorata).to_be_visible()
    expect(prorata).to_contain_text("£14.00")
    expect(subscription.locator("tr[data-kind=cycle_fee]")).to_contain_text("£25.00")
    expect(subscription.locator(".explanation").first).to_contain_text("5 × £5.00")
    expect(december.locator("details.subscription")).to_be_hidden()  # still folded

    # Export: every line of the range, with the friendly name and the PO number
    with page.expect_download() as download:
        page.click("[data-export=csv]")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text("utf-8-sig"))))
    assert [(row["Cycle to"], row["Type"]) for row in rows] == [
        ("2026-11-30", "Cycle fee"),
        ("2026-11-30", "Pro-rata"),
        ("2026-12-31", "Cycle fee"),
    ]
    assert {(row["Friendly name"], row["PO number"]) for row in rows} == {("Office", "PO-77")}
    with page.expect_download() as download:
        page.click("[data-export=xlsx]")
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sheet.max_row == 4
    with page.expect_download() as download:
        november.locator(f"[data-statement='{billed.customer.pk}']").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")
