from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts import services
from seatkeeper.accounts.models import ApiToken, Organisation, hash_token
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import company, sign_in


@pytest.fixture
def token_client(cast):
    _token, plain = services.api_token_create(actor=cast.reseller_admin, name="billing export")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return api, plain


def test_a_token_is_stored_hashed_and_shown_once(cast, client):
    sign_in(client, "reselleradmin")
    response = client.post("/profile/tokens/", {"name": "ERP"}, follow=True)
    plain = response.context["new_token"]
    assert plain.startswith("sk_")
    token = ApiToken.objects.get(user=cast.reseller_admin)
    assert token.token_hash == hash_token(plain)
    assert plain not in str(ApiToken.objects.values_list(flat=True))
    assert plain not in client.get("/profile/").content.decode()


def test_a_token_authenticates_and_a_revoked_one_does_not(cast, token_client):
    api, plain = token_client
    me = api.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "reselleradmin"
    token = ApiToken.objects.get(token_hash=hash_token(plain))
    assert token.last_used_at is not None
    services.api_token_revoke(actor=cast.reseller_admin, token=token)
    refused = api.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["message"] == "This token was revoked."
    unknown = APIClient()
    unknown.credentials(HTTP_AUTHORIZATION=f"Token {plain}x")
    assert unknown.get("/api/v1/me/").json()["message"] == "Invalid token."


def test_requests_without_credentials_are_refused():
    assert APIClient().get("/api/v1/organisations/").status_code == 401


def test_someone_elses_token_cannot_be_revoked(cast, token_client):
    token = ApiToken.objects.get(user=cast.reseller_admin)
    other = APIClient()
    sign_in(other, "cloudadmin")
    assert other.post(f"/api/v1/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_creating_a_customer_through_the_api(cast, token_client):
    api, _ = token_client
    payload = {**company("Fresh Customer"), "parent": cast.reseller.pk, "kind": "customer"}
    response = api.post("/api/v1/organisations/", payload, format="json")
    assert response.status_code == 201
    created = Organisation.objects.get(name="Fresh Customer")
    assert created.parent == cast.reseller
    assert created.path == f"{cast.reseller.path}{created.pk}/"
    assert ActivityRecord.objects.filter(
        object_type="organisation", object_id=str(created.pk), operation="organisation.create"
    ).exists()


def test_invalid_input_is_explained_per_field_and_nothing_is_written(cast, token_client):
    api, _ = token_client
    payload = {
        **company("Broken"),
        "parent": cast.reseller.pk,
        "kind": "customer",
        "country": "France",
        "contact_email": "not-an-address",
    }
    before = Organisation.objects.count()
    response = api.post("/api/v1/organisations/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"country", "contact_email"}
    assert Organisation.objects.count() == before


def test_a_reseller_cannot_create_a_reseller(cast, token_client):
    api, _ = token_client
    payload = {**company("Sub Reseller"), "parent": cast.reseller.pk, "kind": "reseller"}
    response = api.post("/api/v1/organisations/", payload, format="json")
    assert response.status_code == 403
    assert not Organisation.objects.filter(name="Sub Reseller").exists()


def test_creating_under_a_foreign_parent_answers_404(cast, token_client):
    api, _ = token_client
    payload = {**company("Sneaky"), "parent": cast.reseller_two.pk, "kind": "customer"}
    assert api.post("/api/v1/organisations/", payload, format="json").status_code == 404
    assert not Organisation.objects.filter(name="Sneaky").exists()


def test_the_openapi_document_describes_the_endpoints(token_client):
    api, _ = token_client
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/organisations/" in document["paths"]
    assert "/api/v1/users/{id}/" in document["paths"]
    assert "tokenAuth" in document["components"]["securitySchemes"]


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_the_schema_and_the_docs_need_a_signed_in_user_or_a_token(path, cast):
    # given nobody signed in
    assert APIClient().get(path).status_code == 401
    # then a signed-in person reads them
    assert sign_in(APIClient(), "readonly").get(path).status_code == 200


def test_the_docs_page_uses_only_local_assets(client, cast):
    sign_in(client, "readonly")
    page = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page.replace("https://swagger.io", "")
