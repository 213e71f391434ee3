"""In a real browser (Debian's Chromium): ordering in the e-store, changing a quantity with its
live preview, and suspending with the double confirmation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.pricing.tests.world import build_world
from seatkeeper.subscriptions import provisioning, services
from seatkeeper.subscriptions.models import Status, Subscription
from seatkeeper.subscriptions.tests.conftest import Shop
from seatkeeper.subscriptions.tests.fakes import FakeSubscriptionsProvider

pytestmark = [pytest.mark.browser]

# How long an in-place swap may take on a busy machine before a test calls it missing.
SWAP = 15_000


@pytest.fixture
def world(transactional_db) -> tuple[Cast, Shop]:
    """The cast and a priced catalog, committed so the live server's thread sees them."""
    cast = Cast()
    shop_world = build_world(cast)
    services.tenant_link(
        actor=None,
        customer=cast.customer,
        account=shop_world.vendor.provider_account,
        vendor_customer_id="c0ffee00-0000-4000-8000-000000000001",
        domain="customerone.onmicrosoft.com",
    )
    return cast, Shop(world=shop_world, provider=FakeSubscriptionsProvider())


def _provision(shop: Shop, subscription: Subscription) -> str:
    return provisioning.provision_subscription(
        subscription.pk, provider_factory=lambda account: shop.provider
    )


def _sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def _active(cast: Cast, shop: Shop, quantity: int = 5) -> Subscription:
    line = services.OrderLine(
        offer=shop.world.basic,
        quantity=quantity,
        term="P1Y",
        billing_cycle="monthly",
        friendly_name="Office seats",
    )
    placed = services.order_place(actor=cast.reseller_admin, customer=cast.customer, lines=[line])
    subscription = placed.subscriptions.get()
    assert _provision(shop, subscription) == "done"
    subscription.refresh_from_db()
    return subscription


def test_ordering_in_the_estore(page, live_server, world):
    cast, shop = world
    offer = shop.world.e3
    _sign_in(page, live_server.url, "reselleradmin")
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/subscriptions/")
    page.click("[data-action=new-subscription]")
    store_url = page.url

    # choosing a category, then a group, updates the products in place (no submit button); each
    # choice waits for its answer from the store before the next, as a person waits for the page
    def store_answer():
        return page.expect_response(lambda r: "/store/" in r.url and r.request.method == "GET")

    def swapped():
        # the answer is in: wait until htmx has put it in place (a change made on the old
        # form while it is being replaced is lost)
        busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling")
        expect(busy).to_have_count(0, timeout=SWAP)

    with store_answer():
        page.select_option("#category", offer.category)
    swapped()
    with store_answer():
        page.select_option("#group", offer.product_group)
    swapped()
    row = page.locator(f"tr[data-offer='{offer.pk}']")
    expect(row.locator("td").first).to_have_attribute("title", "Microsoft 365 E3 description")
    with store_answer():
        row.locator("[data-action=select]").click()
    swapped()
    # the chosen product is highlighted and its form sits right under it
    expect(row).to_have_class("selected", timeout=SWAP)
    expect(page.locator(f"tr[data-offer='{offer.pk}'] + tr.order-row #order-form")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"offer={offer.pk}"), timeout=SWAP)
    assert page.url != store_url
    page.select_option("#id_term_cycle", "P1Y|monthly")
    # the price follows the quantity before any review
    page.fill("#id_quantity", "3")
    expect(page.locator("#order-price")).to_contain_text("£97.20", timeout=SWAP)
    page.fill("#id_quantity", "4")
    expect(page.locator("#order-price")).not_to_contain_text("£97.20", timeout=SWAP)
    page.fill("#id_quantity", "3")
    expect(page.locator("#order-price")).to_contain_text("£97.20", timeout=SWAP)
    page.fill("#id_friendly_name", "Engineers")
    page.fill("#id_po_number", "PO-42")
    page.click("#review-order")
    expect(page.locator("#order-price")).to_contain_text("Reseller price")
    expect(page.locator("#order-price")).to_contain_text("£97.20")
    assert not Subscription.objects.filter(friendly_name="Engineers").exists()
    page.click("#confirm-order")
    expect(page.locator("h1")).to_contain_text("Engineers")
    expect(page.locator("#status")).to_have_text("Pending")
    subscription = Subscription.objects.get(friendly_name="Engineers")
    assert (subscription.quantity, subscription.po_number) == (3, "PO-42")
    assert _provision(shop, subscription) == "done"
    page.reload()
    expect(page.locator("#status")).to_have_text("Active")
    expect(page.locator("#sync-status")).to_contain_text("Synchronized")


def test_quantity_change_with_live_preview(page, live_server, world):
    cast, shop = world
    subscription = _active(cast, shop)
    _sign_in(page, live_server.url, "reselleradmin")
    page.goto(f"{live_server.url}/subscriptions/{subscription.pk}/")
    page.click("[data-action=quantity]")
    page.fill("#id_quantity", "7")
    expect(page.locator("#quote-total")).to_contain_text("£31.50")
    expect(page.locator("#quote-adjustment")).to_contain_text("£")
    expect(page.locator("#quote-audience")).to_contain_text("Reseller price")
    expect(page.locator(".quote-lines")).to_contain_text("2 × £4.50")
    assert Subscription.objects.get(pk=subscription.pk).quantity == 5  # only a preview
    page.fill("#id_quantity", "9")
    expect(page.locator("#quote-total")).to_contain_text("£40.50")
    page.click("#quantity-form button[type=submit]")
    expect(page.locator("#quantity")).to_have_text("9")
    assert Subscription.objects.get(pk=subscription.pk).quantity == 9


def test_suspend_asks_for_confirmation_twice(page, live_server, world):
    cast, shop = world
    subscription = _active(cast, shop)
    _sign_in(page, live_server.url, "reselleradmin")
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/subscriptions/")
    row = page.locator(f"tr[data-subscription='{subscription.pk}']")
    row.locator("summary").click()
    row.locator("[data-action=suspend]").click()
    expect(page.locator("#question")).to_contain_text("Suspend this subscription?")
    page.click("#confirm")
    expect(page.locator("#question")).to_contain_text("confirm again")
    assert Subscription.objects.get(pk=subscription.pk).status == Status.ACTIVE
    page.click("#confirm")
    expect(page.locator("#status")).to_have_text("Suspended")
    expect(page).to_have_url(re.compile(rf"/subscriptions/{subscription.pk}/$"))
    assert Subscription.objects.get(pk=subscription.pk).status == Status.SUSPENDED


def test_the_list_filters_in_place(page, live_server, world):
    cast, shop = world
    _active(cast, shop)
    line = services.OrderLine(
        offer=shop.world.e3, quantity=2, term="P1Y", billing_cycle="monthly",
        friendly_name="Engineering E3",
    )  # fmt: skip
    services.order_place(actor=cast.reseller_admin, customer=cast.customer, lines=[line])
    _sign_in(page, live_server.url, "reselleradmin")
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/subscriptions/")
    table = page.locator("#table-region")
    expect(table).to_contain_text("Office seats")
    page.fill("input[name=q]", "Engineering")
    expect(table).not_to_contain_text("Office seats")
    expect(table).to_contain_text("Engineering E3")
    assert "q=Engineering" in page.url
    page.fill("input[name=q]", "")
    page.select_option("#status-filter", "pending")
    expect(table).not_to_contain_text("Office seats")
    expect(table).to_contain_text("Engineering E3")


def test_filters_in_place_reach_the_address_bar_and_the_export_links(page, live_server, world):
    cast, shop = world
    _active(cast, shop)
    line = services.OrderLine(
        offer=shop.world.e3, quantity=2, term="P1Y", billing_cycle="monthly",
        friendly_name="Engineering E3",
    )  # fmt: skip
    services.order_place(actor=cast.reseller_admin, customer=cast.customer, lines=[line])
    _sign_in(page, live_server.url, "reselleradmin")
    page.goto(f"{live_server.url}/subscriptions/")
    table = page.locator("#table-region")
    expect(table).to_contain_text("Office seats")
    page.select_option("#status-filter", "pending")
    expect(table).not_to_contain_text("Office seats", timeout=SWAP)
    expect(page).to_have_url(re.compile(r"[?&]status=pending"))
    csv_link = page.locator("a[data-export=csv]")
    expect(csv_link).to_have_attribute("href", re.compile(r"status=pending"))
    expect(page.locator("a[data-export=xlsx]")).to_have_attribute(
        "href", re.compile(r"status=pending")
    )
    exported = page.request.get(csv_link.evaluate("link => link.href")).text()
    assert "Engineering E3" in exported and "Office seats" not in exported
    # The address bar is a link to the same list: reloading it shows the same rows.
    page.reload()
    expect(table).to_contain_text("Engineering E3")
    expect(table).not_to_contain_text("Office seats")
    assert page.locator("#status-filter").input_value() == "pending"


def test_an_addon_is_reviewed_with_its_price_then_confirmed(page, live_server, world):
    cast, shop = world
    base = _active(cast, shop)
    _sign_in(page, live_server.url, "reselleradmin")
    page.goto(f"{live_server.url}/subscriptions/{base.pk}/addons/")
    page.select_option("#id_offer", str(shop.world.teams.pk))
    page.fill("#id_quantity", "3")
    page.fill("#id_friendly_name", "Phones")
    page.click("#review-addon")
    expect(page.locator("#addon-review")).to_contain_text("Teams Phone Standard")
    expect(page.locator("#addon-price")).not_to_be_empty()
    assert not Subscription.objects.filter(parent=base).exists()
    page.click("#confirm-addon")
    expect(page).not_to_have_url(re.compile(r"/addons/$"))
    addon = Subscription.objects.get(parent=base)
    assert (addon.quantity, addon.friendly_name) == (3, "Phones")


def _fits(page) -> None:
    """No page is wider than a 1,366 px laptop window: wide tables scroll inside themselves."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect()"
        ".right > 1366).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"
    )
    assert width <= 1366, f"{page.url} is {width} px wide: {wide}"


@pytest.mark.parametrize(
    ("language", "quantity", "total", "raised", "charge"),
    [
        ("en", "7", "£31.50", "raised Office seats from 5 to 7 seats", "£"),
        ("fr", "7", "31,50 £", "a augmenté l'abonnement Office seats de 5 à 7 licences", " £"),
    ],
)
def test_a_walk_from_the_list_to_the_history_fits_a_laptop_in_each_language(
    page, live_server, world, language, quantity, total, raised, charge
):
    cast, shop = world
    subscription = _active(cast, shop)
    page.set_viewport_size({"width": 1366, "height": 800})
    _sign_in(page, live_server.url, "reselleradmin")
    page.select_option("#language-switch", language)
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/subscriptions/")
    _fits(page)
    page.goto(f"{live_server.url}/subscriptions/")
    _fits(page)
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/subscriptions/")
    page.locator(f"tr[data-subscription='{subscription.pk}'] td a").first.click()
    expect(page.locator("h1")).to_contain_text("Office seats")
    _fits(page)
    page.click("[data-action=quantity]")
    _fits(page)
    page.fill("#id_quantity", quantity)
    expect(page.locator("#quote-total")).to_contain_text(total)
    page.click("#quantity-form button[type=submit]")
    expect(page.locator("#quantity")).to_have_text(quantity)
    _fits(page)
    history = page.locator("#history")
    expect(history).to_contain_text(raised)
    expect(history).to_contain_text(charge)
