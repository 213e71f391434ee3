from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from seatkeeper.accounts.models import User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import PASSWORD, sign_in


def test_passwords_are_hashed_with_argon2_in_production_settings():
    # the test suite swaps in a fast hasher, so read what the settings module itself declares
    import seatkeeper.settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_signing_in_and_out(client, cast):
    response = client.post("/login/", {"username": "reselleradmin", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, cast):
    response = client.post("/login/", {"username": "reselleradmin", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content
    assert "_auth_user_id" not in client.session


def test_login_is_locked_after_repeated_failures(client, cast, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/login/", {"username": "reselleradmin", "password": "wrong"})
    # even the right password is refused now
    response = client.post("/login/", {"username": "reselleradmin", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # another login from the same address is not locked
    other = client.post("/login/", {"username": "customeradmin", "password": PASSWORD})
    assert other.status_code == 302


def test_forms_refuse_a_post_without_csrf_token(cast):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "reselleradmin", "password": PASSWORD})
    assert response.status_code == 403


def test_security_headers_are_sent(client, cast):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'nonce="{nonce}"'.encode() in response.content


def test_session_cookie_is_http_only_and_same_site(client, cast):
    client.post("/login/", {"username": "reselleradmin", "password": PASSWORD})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_password_change_is_recorded(client, cast):
    sign_in(client, "customeradmin")
    response = client.post(
        "/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "Another-Secret-99",
            "new_password2": "Another-Secret-99",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="customeradmin")
    assert user.check_password("Another-Secret-99")
    assert (
        ActivityRecord.objects.filter(
            object_type="user", object_id=str(user.pk), operation="user.password_change"
        ).count()
        == 1
    )


def test_password_reset_by_email(client, cast):
    response = client.post("/password/reset/", {"email": "customeradmin@test.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "Reset-Secret-2026", "new_password2": "Reset-Secret-2026"}
    )
    assert done.status_code == 302
    assert User.objects.get(username="customeradmin").check_password("Reset-Secret-2026")
    # the link works once
    assert b"no longer valid" in client.get(link, follow=True).content


def test_password_reset_for_an_unknown_address_sends_nothing_and_looks_the_same(client, cast):
    response = client.post("/password/reset/", {"email": "nobody@test.example"})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.parametrize("path", ["/", "/organisations/", "/activity/", "/profile/"])
def test_pages_need_a_signed_in_person(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "path", ["/", "/organisations/", "/profile/", "/organisations/?export=csv", "/api/v1/me/"]
)
def test_signed_in_pages_are_never_stored(client, cast, path):
    sign_in(client, "customeradmin")
    response = client.get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_api_answers_to_a_token_are_never_stored(cast):
    from rest_framework.test import APIClient

    from seatkeeper.accounts import services

    _token, plain = services.api_token_create(actor=cast.customer_admin, name="ERP")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    assert "no-store" in api.get("/api/v1/organisations/")["Cache-Control"]
