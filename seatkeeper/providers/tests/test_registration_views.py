"""The provider account pages: only the partner's cloud admins see them; registration goes on to
Microsoft's sign-in and ends on the account page; every error return is explained."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import sign_in
from seatkeeper.core.formatting import format_datetime
from seatkeeper.providers import services
from seatkeeper.providers.consent_session import SESSION_KEY
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.models import ConsentStatus, ProviderAccount
from seatkeeper.providers.tests.registration import authority_reply, sandbox_account


@pytest.fixture(autouse=True)
def _fresh_token_sources():
    yield
    forget_token_sources()


def _form(sandbox, **overrides) -> dict[str, str]:
    values = {
        "name": "Partner Center sandbox",
        "partner_tenant_id": sandbox.partner_tenant_id,
        "application_id": sandbox.client_id,
        "application_secret": sandbox.client_secret,
        "authority_url": sandbox.base_url,
        "api_base_url": sandbox.base_url,
        "ca_bundle_path": str(sandbox.ca_cert),
    }
    values.update(overrides)
    return values


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_registration_goes_to_the_sign_in_and_ends_on_the_account_page(client, cast, clean_sandbox):
    # Given a cloud admin on the registration form
    sign_in(client, "cloudadmin")
    assert client.get("/providers/new/").status_code == 200
    # When they submit it with Login with Microsoft
    response = client.post("/providers/new/", _form(clean_sandbox))
    # Then the account is registered and the browser is on its way to the sandbox's sign-in
    account = ProviderAccount.objects.get()
    assert response.status_code == 200
    auth_uri = response.context["auth_uri"]
    assert auth_uri.startswith(f"{clean_sandbox.authority_url}/oauth2/v2.0/authorize?")
    assert f'content="0; url={auth_uri}"'.replace("&", "&amp;") in response.content.decode()
    assert client.session[SESSION_KEY]["account_id"] == account.pk
    # When the partner agent signs in, passes MFA and consents
    reply = authority_reply(clean_sandbox, auth_uri)
    response = client.get("/providers/consent/callback/", reply)
    # Then the registration ends on the account page, consent granted
    assert response.status_code == 302
    assert response["Location"] == f"/providers/{account.pk}/?registered=1"
    page = client.get(response["Location"])
    assert f"Consent granted by {clean_sandbox.agent_upn}." in _messages(page)
    assert 'data-status="granted"' in page.content.decode()
    assert 'id="registered"' in page.content.decode()
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.GRANTED
    assert SESSION_KEY not in client.session
    # And the same answer cannot be used twice
    again = client.get("/providers/consent/callback/", reply, follow=True)
    assert "No sign-in with Microsoft was waiting" in _messages(again)[-1]


def test_invalid_input_stays_on_the_form_naming_the_field(client, cast, clean_sandbox):
    sign_in(client, "cloudadmin")
    response = client.post("/providers/new/", _form(clean_sandbox, application_id="nope"))
    assert response.status_code == 200
    assert response.context["form"].errors["application_id"]
    assert not ProviderAccount.objects.exists()
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("who", ["operator", "reselleradmin", "customeradmin", "readonly"])
def test_everyone_else_is_not_allowed_and_nothing_is_written(client, cast, clean_sandbox, who):
    account = sandbox_account(cast, clean_sandbox)
    sign_in(client, who)
    listing = client.get("/providers/")
    creating = client.post(
        "/providers/new/", _form(clean_sandbox, partner_tenant_id=cast.partner.pk)
    )
    assert listing.status_code == 403 and b"Not allowed" in listing.content
    assert creating.status_code == 403
    assert client.get(f"/providers/{account.pk}/").status_code == 404
    assert client.post(f"/providers/{account.pk}/consent/").status_code == 404
    assert client.post(f"/providers/{account.pk}/test/").status_code == 404
    assert client.get(f"/api/v1/provider-accounts/{account.pk}/").status_code == 404
    assert ProviderAccount.objects.count() == 1
    assert "provider_accounts" not in str(client.get("/").context["nav_items"])


def test_another_partners_cloud_admin_sees_a_404(client, cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    sign_in(client, "outsider")
    assert client.get("/providers/").status_code == 200
    assert account.name.encode() not in client.get("/providers/").content
    for url in (f"/providers/{account.pk}/", f"/providers/{account.pk}/edit/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/providers/{account.pk}/test/").status_code == 404


def _start(client, account) -> str:
    response = client.post(f"/providers/{account.pk}/consent/")
    assert response.status_code == 200
    return response.context["auth_uri"]


def test_declined_consent_is_explained_and_changes_nothing(client, cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    sign_in(client, "cloudadmin")
    reply = authority_reply(clean_sandbox, _start(client, account), decision="cancel")
    response = client.get("/providers/consent/callback/", reply, follow=True)
    assert response.redirect_chain[-1][0] == f"/providers/{account.pk}/"
    assert _messages(response) == [
        "Consent was declined at Microsoft's sign-in: nothing was changed."
    ]
    account.refresh_from_db()
    assert account.refresh_token is None
    assert not ActivityRecord.objects.filter(operation="provider_account.consent").exists()


def test_an_answer_with_another_state_is_refused(client, cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    sign_in(client, "cloudadmin")
    reply = authority_reply(clean_sandbox, _start(client, account))
    response = client.get("/providers/consent/callback/", {**reply, "state": "forged"}, follow=True)
    assert "does not belong to the sign-in started here" in _messages(response)[0]
    account.refresh_from_db()
    assert account.refresh_token is None


def test_a_sign_in_that_took_too_long_has_expired(
    client, cast, clean_sandbox, _clock_frozen_for_each_test
):
    account = sandbox_account(cast, clean_sandbox)
    sign_in(client, "cloudadmin")
    reply = authority_reply(clean_sandbox, _start(client, account))
    _clock_frozen_for_each_test.advance(minutes=11)
    response = client.get("/providers/consent/callback/", reply, follow=True)
    assert _messages(response) == [
        "The sign-in with Microsoft took too long and has expired. Start again."
    ]
    account.refresh_from_db()
    assert account.refresh_token is None


def test_an_answer_without_a_pending_sign_in_is_refused(client, cast):
    sign_in(client, "cloudadmin")
    response = client.get("/providers/consent/callback/", {"code": "x", "state": "y"}, follow=True)
    assert response.redirect_chain[-1][0] == "/providers/"
    assert "No sign-in with Microsoft was waiting" in _messages(response)[0]


def test_a_sign_in_started_by_someone_else_cannot_be_finished_here(client, cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    sign_in(client, "cloudadmin")
    reply = authority_reply(clean_sandbox, _start(client, account))
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "user_id": cast.outsider.pk}
    session.save()
    response = client.get("/providers/consent/callback/", reply, follow=True)
    assert "No sign-in with Microsoft was waiting" in _messages(response)[0]
    account.refresh_from_db()
    assert account.refresh_token is None


def test_the_account_page_shows_consent_health_and_tests_the_connection(
    client, cast, clean_sandbox
):
    account = sandbox_account(cast, clean_sandbox)
    account = services.account_consent_store(
        actor=cast.cloud_admin,
        account=account,
        refresh_token=clean_sandbox.admin.mint_refresh_token(),
        consented_by=clean_sandbox.agent_upn,
    )
    sign_in(client, "cloudadmin")
    page = client.get(f"/providers/{account.pk}/").content.decode()
    assert 'data-status="granted"' in page and clean_sandbox.agent_upn in page
    assert 'id="last-used">Never' in page
    assert clean_sandbox.client_secret not in page
    response = client.post(f"/providers/{account.pk}/test/", follow=True)
    assert _messages(response) == [
        "Connection works: the application signed in and the partner's consent was used."
    ]
    account.refresh_from_db()
    assert account.refresh_token_used_at is not None
    expires = format_datetime(account.refresh_token_used_at + dt.timedelta(days=90))
    assert expires in response.content.decode()


def test_editing_rotates_the_secret_without_showing_it(client, cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox, application_secret="old-secret")
    sign_in(client, "cloudadmin")
    form = client.get(f"/providers/{account.pk}/edit/")
    assert b"old-secret" not in form.content
    values = _form(clean_sandbox, application_secret=clean_sandbox.client_secret)
    del values["partner_tenant_id"]
    response = client.post(f"/providers/{account.pk}/edit/", values)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.application_secret == clean_sandbox.client_secret
    kept = client.post(f"/providers/{account.pk}/edit/", {**values, "application_secret": ""})
    assert kept.status_code == 302
    account.refresh_from_db()
    assert account.application_secret == clean_sandbox.client_secret


def test_the_registration_form_proposes_the_local_sandbox(client, cast, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    sign_in(client, "cloudadmin")
    microsoft = client.get("/providers/new/").context["form"]
    assert microsoft["authority_url"].value() == "https://login.microsoftonline.com"
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "sandbox.json").write_text(
        '{"base_url": "https://127.0.0.1:8765", "ca_cert": "/x/ca.pem"}'
    )
    sandbox = client.get("/providers/new/")
    assert sandbox.context["form"]["authority_url"].value() == "https://127.0.0.1:8765"
    assert sandbox.context["form"]["ca_bundle_path"].value() == "/x/ca.pem"
    assert urlparse(sandbox.context["callback_url"]).path == "/providers/consent/callback/"
