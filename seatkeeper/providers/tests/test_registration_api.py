"""Provider accounts over the API: read and test the connection, scoped to the partner's cloud
admins, and never a secret in an answer."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts import services as accounts_services
from seatkeeper.providers import services
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.tests.registration import sandbox_account


@pytest.fixture(autouse=True)
def _fresh_token_sources():
    yield
    forget_token_sources()


def _api(user) -> APIClient:
    _token, plain = accounts_services.api_token_create(actor=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return client


@pytest.fixture
def consented(cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    refresh_token = clean_sandbox.admin.mint_refresh_token()
    services.account_consent_store(
        actor=None, account=account, refresh_token=refresh_token, consented_by="agent@partner"
    )
    return account, refresh_token


def test_a_cloud_admin_reads_accounts_without_any_secret(cast, clean_sandbox, consented):
    account, refresh_token = consented
    api = _api(cast.cloud_admin)
    listing = api.get("/api/v1/provider-accounts/")
    detail = api.get(f"/api/v1/provider-accounts/{account.pk}/")
    assert listing.status_code == 200 and detail.status_code == 200
    assert [item["id"] for item in listing.json()["results"]] == [account.pk]
    body = detail.json()
    assert body["consent_status"] == "granted" and body["consented_by"] == "agent@partner"
    assert body["partner_tenant_id"] == clean_sandbox.partner_tenant_id
    for answer in (listing, detail):
        text = answer.content.decode()
        assert clean_sandbox.client_secret not in text and refresh_token not in text
        assert "encrypted" not in text and "secret" not in text


def test_testing_the_connection_answers_the_result_and_the_account(cast, consented):
    account, _ = consented
    answer = _api(cast.cloud_admin).post(f"/api/v1/provider-accounts/{account.pk}/test-connection/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True and body["user_consent"] is True and body["reason"] == ""
    assert body["account"]["refresh_token_used_at"] is not None
    assert body["account"]["refresh_token_expires_at"] is not None


def test_a_failed_test_says_why(cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox, application_secret="wrong")
    body = _api(cast.cloud_admin).post(f"/api/v1/provider-accounts/{account.pk}/test-connection/")
    assert body.status_code == 200
    assert body.json()["ok"] is False and "7000215" in body.json()["reason"]


@pytest.mark.parametrize("who", ["operator", "reseller_admin", "read_only", "outsider"])
def test_others_see_no_account_and_cannot_test_one(cast, consented, who):
    account, _ = consented
    api = _api(getattr(cast, who))
    assert api.get("/api/v1/provider-accounts/").json()["results"] == []
    assert api.get(f"/api/v1/provider-accounts/{account.pk}/").status_code == 404
    tested = api.post(f"/api/v1/provider-accounts/{account.pk}/test-connection/")
    assert tested.status_code == 404
    account.refresh_from_db()
    assert account.refresh_token_used_at is None


def test_the_openapi_document_describes_the_account_endpoints(cast):
    schema = _api(cast.read_only).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    paths = schema.json()["paths"]
    assert "/api/v1/provider-accounts/{id}/test-connection/" in paths
    assert "/api/v1/provider-accounts/{id}/" in paths
