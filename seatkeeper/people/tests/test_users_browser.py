"""In a real browser (Debian's Chromium) against a running sandbox world: creating a user with a
generated password and opening the one-time link from the real SMTP server's mail; giving the
user a licence and taking it back, the subscription's counts following."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import VendorKind
from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.core import clock
from seatkeeper.discovery import services as discovery
from seatkeeper.people import directory, licences, users
from seatkeeper.people.models import CredentialLink, DirectoryUser, LicenceSku, UserChange
from seatkeeper.people.selectors import licence_choices
from seatkeeper.people.tests import test_directory as directory_tests
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.tests.factories import provider_account
from seatkeeper.subscriptions.models import OperationState, Tenant

pytestmark = [pytest.mark.browser]

world = directory_tests.world


@pytest.fixture
def discovered(world, transactional_db, settings, monkeypatch, live_server) -> Iterator[Any]:
    """The cast committed (the live server's thread sees it), its partner connected to the
    sandbox world and its tenants, users and licences discovered; the people tasks run inline
    when the request commits."""
    settings.REDIS_URL = None
    settings.SITE_URL = live_server.url
    world.admin.reset_faults()

    def factory(account):
        return MicrosoftProvider.from_account(
            account, sleep=clock.sleep, retry=RetryPolicy(max_attempts=2, base_delay=0.1)
        )

    for module in (users, licences, directory):
        monkeypatch.setattr(module, "get_provider", factory)
    with clock.frozen(world.admin.now()):
        cast = Cast()
        account = provider_account(
            organisation=cast.partner,
            api_base_url=world.base_url,
            authority_url=world.authority_url,
            partner_tenant_id=world.partner_tenant_id,
            application_id=world.client_id,
            application_secret=world.client_secret,
            refresh_token=world.admin.mint_refresh_token(),
            ca_bundle_path=str(world.ca_cert),
        )
        account.consent_granted_at = clock.now()
        account.save()
        vendor = catalog_services.vendor_create(
            actor=None,
            partner=cast.partner,
            name="Microsoft",
            kind=VendorKind.API,
            provider_account=account,
            country="GB",
        )
        with factory(account) as provider:
            catalog_services.catalog_refresh(vendor=vendor, provider=provider)
            run = discovery.run_start(actor=None, account=account, enqueue=False)
            discovery.run_inline(run, provider=provider)
        yield cast
    world.admin.reset_faults()


def _giving_tenant() -> tuple[Tenant, Any]:
    """A tenant with a subscription that has a seat left and licences the vendor showed."""
    for tenant in Tenant.objects.order_by("pk"):
        for choice in licence_choices(DirectoryUser(tenant=tenant)):
            known = LicenceSku.objects.filter(
                tenant=tenant, product_key=choice["subscription"].offer.external_id
            ).exists()
            if choice["available"] and known:
                return tenant, choice["subscription"]
    raise AssertionError("no seat to give in the sandbox world")


def _counts(page, subscription) -> tuple[int, int]:
    cells = page.locator(f'#assign tr[data-subscription="{subscription.pk}"] td.num')
    return int(cells.nth(1).inner_text()), int(cells.nth(2).inner_text())


def test_a_new_user_gets_its_password_by_link_and_a_licence_given_then_taken_back(
    page, live_server, discovered, smtp_server
):
    tenant, subscription = _giving_tenant()
    customer = tenant.customer
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "cloudadmin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/customers/{customer.pk}/users/")
    page.click("[data-action=new-user]")
    page.fill("#id_display_name", "Katherine Johnson")
    page.fill("#id_first_name", "Katherine")
    page.fill("#id_last_name", "Johnson")
    alias = f"kj{uuid.uuid4().hex[:8]}"
    page.fill("#id_alias", alias)
    page.select_option("#id_domain", tenant.domain.lower())
    page.fill("#id_usage_location", "GB")

    # A typed password is checked as it is typed, the reason said, before anything is sent.
    page.check("input[name=password_mode][value=type]")
    page.fill("#id_password", "johnson")
    check = page.locator("#password-check")
    expect(check).to_have_attribute("data-acceptable", "false")
    expect(check).to_contain_text("part of the user's name")
    expect(check).to_contain_text("Add an upper case letter.")
    page.fill("#id_password", "Orbit#Moon1969")
    expect(page.locator("#password-check")).to_have_attribute("data-acceptable", "true")

    # But this one gets a generated password, through a one-time link.
    page.check("input[name=password_mode][value=generate]")
    page.fill("#id_send_password_to", "katherine@example.org")
    page.click("[data-action=create-user]")
    upn = f"{alias}@{tenant.domain.lower()}"
    expect(page.locator("h1")).to_contain_text("Katherine Johnson")
    change = UserChange.objects.get(user_principal_name=upn)
    assert change.state == OperationState.DONE and change.secret == ""
    user = DirectoryUser.objects.get(user_principal_name=upn)
    assert user.vendor_user_id

    (mail,) = smtp_server.messages
    assert mail["To"] == "katherine@example.org"
    body = mail.get_payload(decode=True).decode()
    url = re.search(r"https?://\S+/password-link/\S+/", body).group(0)
    page.goto(url)
    page.click("#reveal-password")
    password = page.locator("#credential-password").inner_text()
    assert users.password_problems(password, user_name=upn, display_name="Katherine Johnson") == []
    assert password not in body
    expect(page.locator("#credential-user")).to_have_text(upn)
    page.goto(url)
    expect(page.locator("#credential-gone")).to_be_visible()
    assert CredentialLink.objects.get(user_name=upn).secret == ""

    # A licence given, then taken back: the subscription's counts follow.
    page.goto(f"{live_server.url}/customers/{customer.pk}/users/{user.pk}/licences/")
    assigned, available = _counts(page, subscription)
    page.check(f"#sub-{subscription.pk}")
    page.click("[data-action=assign]")
    expect(page.locator("#held tr[data-sku]")).to_have_count(1)
    assert _counts(page, subscription) == (assigned + 1, available - 1)
    page.click("#held [data-action=remove]")
    expect(page.locator("#held tr[data-sku]")).to_have_count(0)
    assert _counts(page, subscription) == (assigned, available)
    assert not user.licences.exists()
