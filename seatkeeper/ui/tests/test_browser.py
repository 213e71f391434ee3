"""A person signs in with each demo role in a real browser, sees what the role may see, and
switches the interface to French."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from seatkeeper.accounts.demo import LOGINS
from seatkeeper.testing.browser import click_nav

pytestmark = [pytest.mark.browser]


@pytest.fixture
def demo(transactional_db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo")


def _sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


@pytest.mark.parametrize("login", LOGINS, ids=[login.role for login in LOGINS])
def test_each_demo_role_signs_in_and_sees_its_own_tree(page, live_server, demo, login):
    _sign_in(page, live_server.url, login.username, login.password)
    assert login.organisation in page.inner_text(".who")
    click_nav(page, "my_organisation")
    expect(page.locator("h1")).to_contain_text(login.organisation)
    page.goto(f"{live_server.url}/activity/")
    assert page.locator("#table-region table").is_visible()
    if login.role in ("cloud_admin", "partner_operator"):
        page.goto(f"{live_server.url}/organisations/")
        assert page.locator("text=Thames IT Partners").first.is_visible()
    if login.role == "reseller_admin":
        page.goto(f"{live_server.url}/organisations/")
        body = page.inner_text("#table-region")
        assert "Boulangerie Martin" in body and "Harbour Logistics" not in body


def test_switching_the_interface_to_french(page, live_server, demo):
    login = next(item for item in LOGINS if item.role == "customer_admin")
    _sign_in(page, live_server.url, login.username, login.password)
    # The switch submits and reloads the page: wait for the new page, not the one already there.
    page.select_option("#language-switch", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    page.select_option("#language-switch", "fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_contain_text("Tableau de bord")
    assert "Journal d'activité" in page.inner_text("main")


def test_searching_the_organisation_list_updates_in_place(page, live_server, demo):
    login = next(item for item in LOGINS if item.role == "cloud_admin")
    _sign_in(page, live_server.url, login.username, login.password)
    page.goto(f"{live_server.url}/organisations/")
    page.fill("input[name=q]", "Oakwood")
    expect(page.locator("#table-region")).not_to_contain_text("Boulangerie")
    assert "Oakwood Dental Practice" in page.inner_text("#table-region")
    assert "q=Oakwood" in page.url


def test_removing_a_margin_rule_asks_first(page, live_server, demo):
    from seatkeeper.pricing.models import MarginRule

    login = next(item for item in LOGINS if item.role == "cloud_admin")
    _sign_in(page, live_server.url, login.username, login.password)
    page.goto(f"{live_server.url}/pricing/rules/")
    removals = MarginRule.objects.filter(method="removed").count()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    action = page.locator("form[data-confirm]").first.get_attribute("action")
    rule = action.rstrip("/").split("/")[-2]
    page.locator("form[data-confirm] button").first.click()
    # dismissed: nothing was posted (the demo cloud admin reads French)
    assert questions == [
        f"Supprimer la règle n° {rule} ? Dès aujourd'hui, le prix le plus précis suivant "
        "s'applique."
    ]
    assert MarginRule.objects.filter(method="removed").count() == removals
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form[data-confirm] button").first.click()
    expect(page.locator(".messages")).to_be_visible()
    assert MarginRule.objects.filter(method="removed").count() == removals + 1


def test_the_menu_groups_open_with_the_keyboard_one_at_a_time(page, live_server, transactional_db):
    from seatkeeper.conftest import PASSWORD, Cast

    Cast()
    page.set_viewport_size({"width": 1366, "height": 768})
    _sign_in(page, live_server.url, "cloudadmin", PASSWORD)
    settings_group = page.locator("[data-nav-group=settings]")
    billing_group = page.locator("[data-nav-group=billing_group]")
    expect(page.locator("[data-nav=providers]")).to_be_hidden()
    # The menu fits on one line of a 1,366 px window
    tops = page.locator(".mainnav > a, .mainnav > details > summary").evaluate_all(
        "els => els.map(el => Math.round(el.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 1, tops
    settings_group.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-nav=providers]")).to_be_visible()
    # Opening another group closes the first
    billing_group.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-nav=invoices]")).to_be_visible()
    expect(page.locator("[data-nav=providers]")).to_be_hidden()
    # Escape closes it and gives the focus back to its title
    page.keyboard.press("Escape")
    expect(page.locator("[data-nav=invoices]")).to_be_hidden()
    assert page.evaluate("document.activeElement.textContent.trim()").startswith("Billing")
    # Tab reaches an entry of an open group, Enter follows it
    settings_group.locator("summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/organisations/*/")
