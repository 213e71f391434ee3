"""API tokens that expire and die with a password change; throttled password forms."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from seatkeeper.accounts import services
from seatkeeper.accounts.models import ApiToken, User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import PASSWORD, sign_in
from seatkeeper.core import clock


@pytest.fixture
def clock_at_test_now(_clock_frozen_for_each_test):
    """The clock every test starts on, to move forward."""
    return _clock_frozen_for_each_test


def _token_api(plain: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return api


# --- expiry -----------------------------------------------------------------------------------


def test_an_owner_gives_a_token_an_expiry_through_the_api_and_it_ends_then(cast, clock_at_test_now):
    # given
    api = sign_in(APIClient(), "reselleradmin")
    expires = clock.now() + dt.timedelta(days=7)
    # when
    created = api.post(
        "/api/v1/tokens/", {"name": "ERP", "expires_at": expires.isoformat()}, format="json"
    )
    # then
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["token"].startswith("sk_")
    assert ApiToken.objects.get(pk=body["id"]).expires_at == expires
    listed = api.get("/api/v1/tokens/").json()["results"]
    assert (listed[0]["expires_at"], listed[0]["is_active"]) == (body["expires_at"], True)
    assert _token_api(body["token"]).get("/api/v1/me/").status_code == 200
    clock_at_test_now.advance(days=7)
    refused = _token_api(body["token"]).get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["message"] == "This token has expired."
    assert api.get("/api/v1/tokens/").json()["results"][0]["is_active"] is False


def test_an_expiry_in_the_past_is_refused_on_its_field(cast):
    api = sign_in(APIClient(), "reselleradmin")
    past = (clock.now() - dt.timedelta(minutes=1)).isoformat()
    response = api.post("/api/v1/tokens/", {"name": "ERP", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"expires_at"}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("requested", [None, 31])
def test_a_token_made_with_a_token_never_outlives_it(cast, requested):
    # given a token good for 30 days
    _token, plain = services.api_token_create(
        actor=cast.reseller_admin, name="CI", expires_at=clock.now() + dt.timedelta(days=30)
    )
    expires = None if requested is None else (clock.now() + dt.timedelta(days=requested))
    # when it asks for a token without expiry, or one that ends later
    response = _token_api(plain).post(
        "/api/v1/tokens/",
        {"name": "forever", "expires_at": expires and expires.isoformat()},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"expires_at"}
    assert ApiToken.objects.count() == 1


def test_the_profile_page_creates_a_token_with_an_expiry_and_lists_it(
    cast, client, clock_at_test_now
):
    # given
    sign_in(client, "reselleradmin")
    # when
    client.post("/profile/tokens/", {"name": "ERP", "expires_in": "30"})
    services.api_token_create(actor=cast.reseller_admin, name="Old")
    clock_at_test_now.advance(days=31)
    # then
    token = ApiToken.objects.get(name="ERP")
    assert token.expires_at == clock.now() - dt.timedelta(days=1)
    page = client.get("/profile/").content.decode()
    assert "expired" in page and "never" in page
    activity = ActivityRecord.objects.get(object_id=str(token.pk), operation="api_token.create")
    assert activity.details == {"expires_at": token.expires_at.isoformat()}


# --- revoked by a password change or reset -----------------------------------------------------


def _tokens_of(user):
    return [services.api_token_create(actor=user, name=f"token {n}")[1] for n in (1, 2)]


def test_changing_the_password_revokes_every_token(cast, client):
    # given
    plains = _tokens_of(cast.customer_admin)
    other = services.api_token_create(actor=cast.reseller_admin, name="not theirs")[1]
    sign_in(client, "customeradmin")
    # when
    response = client.post(
        "/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "Fresh-Secret-4242",
            "new_password2": "Fresh-Secret-4242",
        },
    )
    # then
    assert response.status_code == 302
    for plain in plains:
        refused = _token_api(plain).get("/api/v1/me/")
        assert (refused.status_code, refused.json()["message"]) == (401, "This token was revoked.")
    assert _token_api(other).get("/api/v1/me/").status_code == 200
    record = ActivityRecord.objects.get(operation="api_token.revoke_all")
    assert (record.actor, record.object_id) == (cast.customer_admin, str(cast.customer_admin.pk))
    assert record.details["reason"] == "password_change"
    assert len(record.details["tokens"]) == 2


def test_resetting_the_password_revokes_every_token(cast, client):
    # given
    plains = _tokens_of(cast.customer_admin)
    client.post("/password/reset/", {"email": "customeradmin@test.example"})
    link = re.search(r"http://testserver(/password/reset/\S+)", mail.outbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    # when
    done = client.post(
        set_url, {"new_password1": "Reset-Secret-2026", "new_password2": "Reset-Secret-2026"}
    )
    # then
    assert done.status_code == 302
    assert all(_token_api(plain).get("/api/v1/me/").status_code == 401 for plain in plains)
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    record = ActivityRecord.objects.get(operation="api_token.revoke_all")
    assert record.details["reason"] == "password_reset"


# --- throttles --------------------------------------------------------------------------------


def _change(client, old: str):
    return client.post(
        "/password/change/",
        {
            "old_password": old,
            "new_password1": "Brand-New-Secret-7",
            "new_password2": "Brand-New-Secret-7",
        },
    )


def test_wrong_old_passwords_lock_the_password_change_form(cast, client, clock_at_test_now):
    # given
    sign_in(client, "customeradmin")
    # when five wrong old passwords are tried
    answers = [_change(client, f"guess-{n}").status_code for n in range(5)]
    # then the fifth locks the form, even against the right password
    assert answers == [200, 200, 200, 200, 429]
    locked = _change(client, PASSWORD)
    assert locked.status_code == 429
    assert b"Too many attempts" in locked.content
    user = User.objects.get(username="customeradmin")
    assert user.check_password(PASSWORD)
    assert ActivityRecord.objects.filter(operation="user.password_change_locked").count() == 1
    # another login is not affected
    sign_in(client, "reselleradmin")
    assert _change(client, "guess").status_code == 200
    # and fifteen minutes later the form opens again
    sign_in(client, "customeradmin")
    clock_at_test_now.advance(minutes=14)
    assert _change(client, PASSWORD).status_code == 429
    clock_at_test_now.advance(minutes=1)
    assert _change(client, PASSWORD).status_code == 302
    assert User.objects.get(username="customeradmin").check_password("Brand-New-Secret-7")


@pytest.mark.parametrize("address", ["customeradmin@test.example", "nobody@test.example"])
def test_password_reset_mails_are_limited_per_address_alike(
    cast, client, clock_at_test_now, address
):
    # when the same address is asked for four times
    answers = [client.post("/password/reset/", {"email": address}).status_code for _ in range(4)]
    # then the fourth is refused, whether a login has that address or not
    assert answers == [302, 302, 302, 429]
    sent = len(mail.outbox)
    assert sent == (3 if address.startswith("customeradmin") else 0)
    # one more request is allowed every twenty minutes
    clock_at_test_now.advance(minutes=20)
    assert client.post("/password/reset/", {"email": address}).status_code == 302
    assert client.post("/password/reset/", {"email": address.upper()}).status_code == 429


def test_password_reset_requests_are_limited_per_client(cast, client):
    answers = [
        client.post("/password/reset/", {"email": f"someone{n}@test.example"}).status_code
        for n in range(11)
    ]
    assert answers == [302] * 10 + [429]
    assert mail.outbox == []
