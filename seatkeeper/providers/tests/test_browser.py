"""In a real browser (Debian's Chromium): a cloud admin registers the partner's account and logs
in with Microsoft against the real sandbox over HTTPS (msal's auth-code flow on our side): the
partner agent signs in, passes MFA, consents, and lands back on the account page."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.providers.consent_session import callback_url
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.models import ConsentStatus, ProviderAccount
from seatkeeper.testing.browser import CHROMIUM_FLAGS, chromium_path, click_nav

pytestmark = [pytest.mark.browser]


@pytest.fixture
def world(transactional_db) -> Cast:
    """The cast, committed so the live server's thread sees it."""
    return Cast()


@pytest.fixture
def sandbox(tmp_path, live_server, settings) -> Iterator:
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    settings.SITE_URL = live_server.url
    with testing.running_sandbox(tmp_path) as info:
        # The app owner's step: our callback is one of the app's redirect URIs.
        info.admin.add_redirect_uri(callback_url())
        yield info
        forget_token_sources()


@pytest.fixture
def sandbox_page(browser, sandbox) -> Iterator:
    """A Chromium that trusts exactly the sandbox's certificate (by its public key), the way
    the server trusts the sandbox's CA: verification stays on for everything else."""
    cert = x509.load_pem_x509_certificate((sandbox.data_dir / "tls" / "server.pem").read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    instance = browser.browser_type.launch(
        executable_path=chromium_path(),
        args=[*CHROMIUM_FLAGS, f"--ignore-certificate-errors-spki-list={pin}"],
    )
    context = instance.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    instance.close()


def _sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "cloudadmin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def _register(page, base_url: str, sandbox) -> None:
    click_nav(page, "providers")
    page.click("[data-action=add-account]")
    page.fill("#id_name", "Partner Center sandbox")
    page.fill("#id_partner_tenant_id", sandbox.partner_tenant_id)
    page.fill("#id_application_id", sandbox.client_id)
    page.fill("#id_application_secret", sandbox.client_secret)
    page.fill("#id_authority_url", sandbox.base_url)
    page.fill("#id_api_base_url", sandbox.base_url)
    page.fill("#id_ca_bundle_path", str(sandbox.ca_cert))
    expect(page.locator("#redirect-uri")).to_have_text(f"{base_url}/providers/consent/callback/")
    page.click("#login-with-microsoft")


def _partner_agent_signs_in(page, sandbox) -> None:
    # Microsoft's side (the sandbox): password, then the authenticator's code.
    expect(page.locator("h1")).to_have_text("Sign in")
    assert page.url.startswith(f"{sandbox.authority_url}/oauth2/v2.0/authorize")
    page.fill("#login", sandbox.agent_upn)
    page.fill("#password", sandbox.agent_password)
    page.click("#next")
    expect(page.locator("h1")).to_have_text("Enter code")
    page.fill("#otc", sandbox.admin.mfa_code())
    page.click("#verify")
    expect(page.locator("h1")).to_have_text("Permissions requested")


def test_registration_with_login_with_microsoft(sandbox_page, live_server, world, sandbox):
    page = sandbox_page
    _sign_in(page, live_server.url)
    _register(page, live_server.url, sandbox)
    _partner_agent_signs_in(page, sandbox)
    page.click("#accept")
    # Back on the account page, consent granted by the agent
    account = ProviderAccount.objects.get()
    page.wait_for_url(f"{live_server.url}/providers/{account.pk}/?registered=1")
    expect(page.locator("#consent-status").first).to_have_attribute("data-status", "granted")
    expect(page.locator("#consented-by")).to_have_text(sandbox.agent_upn)
    expect(page.locator("#registered")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text(f"Consent granted by {sandbox.agent_upn}.")
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.GRANTED
    assert account.refresh_token and account.refresh_token not in account.refresh_token_encrypted
    operations = list(
        ActivityRecord.objects.filter(object_type="provideraccount")
        .order_by("pk")
        .values_list("operation", "actor__username")
    )
    assert operations == [
        ("provider_account.register", "cloudadmin"),
        ("provider_account.consent", "cloudadmin"),
    ]
    # The stored consent works: Test connection redeems it
    expect(page.locator("#last-used")).to_have_text("Never")
    page.click("#test-connection")
    expect(page.locator(".messages")).to_contain_text("Connection works")
    expect(page.locator("#last-used")).not_to_have_text("Never")


def test_cancelling_the_consent_comes_back_with_the_reason(
    sandbox_page, live_server, world, sandbox
):
    page = sandbox_page
    _sign_in(page, live_server.url)
    _register(page, live_server.url, sandbox)
    _partner_agent_signs_in(page, sandbox)
    page.click("#cancel")
    account = ProviderAccount.objects.get()
    page.wait_for_url(f"{live_server.url}/providers/{account.pk}/")
    expect(page.locator(".messages")).to_contain_text("Consent was declined")
    expect(page.locator("#consent-status").first).to_have_attribute("data-status", "not_granted")
    expect(page.locator("#login-with-microsoft")).to_have_text("Login with Microsoft")
    account.refresh_from_db()
    assert account.refresh_token is None
