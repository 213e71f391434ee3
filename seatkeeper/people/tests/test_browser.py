"""In a real browser (Debian's Chromium) against the running sandbox: onboarding a customer's
tenant with a taken then a free domain, then the contact opening the one-time password link
from the real SMTP server's mail."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.people import services
from seatkeeper.people.models import CredentialLink, TenantOnboarding
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.tests.factories import provider_account
from seatkeeper.subscriptions.models import Tenant

pytestmark = [pytest.mark.browser]


@pytest.fixture
def connected(transactional_db, clean_sandbox, test_clock, settings, monkeypatch, live_server):
    """The cast committed (the live server's thread sees it), its partner connected to the
    sandbox; onboarding tasks run inline when the request commits."""
    settings.REDIS_URL = None
    settings.SITE_URL = live_server.url
    cast = Cast()
    sbx = clean_sandbox
    provider_account(
        organisation=cast.partner,
        api_base_url=sbx.base_url,
        authority_url=sbx.authority_url,
        partner_tenant_id=sbx.partner_tenant_id,
        application_id=sbx.client_id,
        application_secret=sbx.client_secret,
        refresh_token=sbx.admin.mint_refresh_token(),
        ca_bundle_path=str(sbx.ca_cert),
    )
    monkeypatch.setattr(
        services,
        "get_provider",
        lambda account: MicrosoftProvider.from_account(
            account, sleep=test_clock.sleep, retry=RetryPolicy(max_attempts=2, base_delay=0.2)
        ),
    )
    return cast


def test_onboarding_a_tenant_with_a_taken_then_a_free_domain(
    page, live_server, connected, smtp_server
):
    cast = connected
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "reselleradmin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # From the customer's subscriptions, the way to its tenant.
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/subscriptions/")
    page.click("[data-action=create-tenant]")
    expect(page.locator("#id_postal_code")).to_have_value("EC1A 1AA")  # from the profile

    # A taken domain is said as the person types, with what to do instead.
    page.fill("#id_domain", "tailspintoys")
    status = page.locator("#domain-status")
    expect(status).to_have_attribute("data-available", "false")
    expect(status).to_contain_text("relationship request")

    free = f"sk{uuid.uuid4().hex[:10]}"
    page.fill("#id_domain", free)
    expect(status).to_have_attribute("data-available", "true")
    expect(status).to_contain_text(f"{free}.onmicrosoft.com is free")

    page.check("#id_mca_accepted")
    page.fill("#id_mca_accepted_at", "2026-01-05")
    page.click("#create-tenant button[type=submit]")

    # The worker ran when the request committed: the tenant is there, agreement confirmed.
    expect(page.locator("#tenant-ready")).to_contain_text(f"{free}.onmicrosoft.com")
    expect(page.locator("#tenant-ready")).to_contain_text("Microsoft Customer Agreement accepted")
    tenant = Tenant.objects.get(customer=cast.customer)
    assert TenantOnboarding.objects.get().tenant == tenant

    # The contact's mail holds a link, not the password; the link shows it once.
    (mail,) = smtp_server.messages
    body = mail.get_payload(decode=True).decode()
    url = re.search(r"https?://\S+/password-link/\S+/", body).group(0)
    page.goto(url)
    page.click("#reveal-password")
    password = page.locator("#credential-password").inner_text()
    assert len(password) >= 8 and password not in body
    expect(page.locator("#credential-user")).to_have_text(f"admin@{free}.onmicrosoft.com")
    page.goto(url)
    expect(page.locator("#credential-gone")).to_be_visible()
    assert CredentialLink.objects.get().secret == ""
