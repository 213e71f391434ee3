from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Invitation, Role, User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused


def _invite(client, organisation, **overrides):
    values = {
        "email": "new.person@test.example",
        "first_name": "New",
        "last_name": "Person",
        "role": Role.CUSTOMER_ADMIN,
        "language": "fr",
    }
    values.update(overrides)
    return client.post(f"/organisations/{organisation.pk}/invite/", values)


def test_an_admin_invites_a_person_who_chooses_a_password(
    client, cast, django_capture_on_commit_callbacks
):
    sign_in(client, "reselleradmin")
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client, cast.customer)
    assert response.status_code == 302
    # the login exists once they choose a password; until then the invitation is listed
    assert not User.objects.filter(email="new.person@test.example").exists()
    invitation = Invitation.objects.get(email="new.person@test.example")
    assert invitation.organisation == cast.customer
    page = client.get(f"/organisations/{cast.customer.pk}/").content.decode()
    assert "new.person@test.example" in page
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@test.example"]
    assert "Seatkeeper" in message.subject
    assert "Choisissez votre mot de passe" in message.body  # in the invited person's language
    link = re.search(r"https?://[^/]+(/invitation/\S+)", message.body).group(1)
    client.logout()
    assert client.get(link).status_code == 200
    done = client.post(
        link, {"new_password1": "Welcome-Aboard-77", "new_password2": "Welcome-Aboard-77"}
    )
    assert done.status_code == 302
    invited = User.objects.get(email="new.person@test.example")
    assert (invited.organisation, invited.role, invited.language) == (
        cast.customer,
        Role.CUSTOMER_ADMIN,
        "fr",
    )
    assert invited.check_password("Welcome-Aboard-77")
    assert ActivityRecord.objects.filter(
        object_type="invitation", object_id=str(invitation.pk), operation="user.invite"
    ).exists()
    assert ActivityRecord.objects.filter(
        object_type="user", object_id=str(invited.pk), operation="user.invitation_accept"
    ).exists()
    # the link works once
    assert b"no longer valid" in client.get(link).content
    again = client.post(
        link, {"new_password1": "Other-Secret-88", "new_password2": "Other-Secret-88"}
    )
    assert b"no longer valid" in again.content
    assert User.objects.get(email="new.person@test.example").check_password("Welcome-Aboard-77")


def test_an_invitation_link_expires_after_a_day(client, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.user_invite(
            actor=cast.reseller_admin, organisation=cast.customer, email="late@test.example",
            first_name="Late", last_name="Comer", role=Role.READ_ONLY,
        )  # fmt: skip
    link = re.search(r"https?://[^/]+(/invitation/\S+)", mail.outbox[0].body).group(1)
    with clock.frozen(clock.now() + dt.timedelta(days=1)):
        response = client.post(
            link, {"new_password1": "Late-Secret-99", "new_password2": "Late-Secret-99"}
        )
    assert b"no longer valid" in response.content
    assert not User.objects.filter(email="late@test.example").exists()
    assert client.get("/invitation/forged-token/").status_code == 200
    assert b"no longer valid" in client.get("/invitation/forged-token/").content


def test_inviting_an_address_that_has_a_login_elsewhere_answers_as_for_a_new_one(
    client, cast, django_capture_on_commit_callbacks
):
    """Another partner's login (outsider@) and a sibling customer's login exist outside the
    customer admin's tree; a fresh address exists nowhere. All three answer alike."""
    api = sign_in(APIClient(), "customeradmin")
    sign_in(client, "customeradmin")
    services.user_create(
        actor=None, organisation=cast.customer_two, username="sibling", password="Xx-Secret-2026!",
        email="sibling@test.example", role=Role.READ_ONLY,
    )  # fmt: skip
    answers = {}
    for address in ("fresh@test.example", "outsider@test.example", "sibling@test.example"):
        payload = {
            "organisation": cast.customer.pk, "email": address, "first_name": "A",
            "last_name": "B", "role": Role.READ_ONLY,
        }  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            api_answer = api.post("/api/v1/users/", payload, format="json")
            page_answer = _invite(client, cast.customer, email=address, role=Role.READ_ONLY)
        body = api_answer.json()
        answers[address] = (
            api_answer.status_code,
            sorted(body),
            body["email"] == address,
            page_answer.status_code,
            page_answer["Location"],
            [str(m) for m in client.get(page_answer["Location"]).context["messages"]],
        )
        for text in answers[address][5]:
            assert address in text
    # then the inviter sees the same answers and the same kind of listed invitation
    fresh, *elsewhere = answers.values()
    for answer in elsewhere:
        assert answer[:5] == fresh[:5]
        assert len(answer[5]) == len(fresh[5]) == 1
    assert Invitation.objects.filter(organisation=cast.customer).count() == 6
    assert (
        User.objects.filter(email="outsider@test.example").get().organisation == cast.other_partner
    )
    # and the owners of existing logins get a notice, never a link
    for address in ("outsider@test.example", "sibling@test.example"):
        notices = [m for m in mail.outbox if m.to == [address]]
        assert len(notices) == 2
        assert all("/invitation/" not in m.body and "already has" in m.body for m in notices)
    assert all("/invitation/" in m.body for m in mail.outbox if m.to == ["fresh@test.example"])


def test_inviting_an_existing_address_is_refused_with_a_message(client, cast):
    sign_in(client, "reselleradmin")
    response = _invite(client, cast.customer, email="customeradmin@test.example")
    assert response.status_code == 200
    assert b"already exists" in response.content
    assert mail.outbox == []


def test_a_role_that_does_not_fit_the_organisation_is_refused(cast):
    with pytest.raises(ValidationError) as refused:
        services.user_invite(
            actor=cast.reseller_admin,
            organisation=cast.customer,
            email="x@test.example",
            first_name="X",
            last_name="Y",
            role=Role.CLOUD_ADMIN,
        )
    assert "role" in refused.value.message_dict
    assert not User.objects.filter(email="x@test.example").exists()


def test_nobody_gives_a_role_above_their_own(cast):
    with pytest.raises(PermissionRefused):
        services.user_invite(
            actor=cast.operator,
            organisation=cast.partner,
            email="y@test.example",
            first_name="Y",
            last_name="Z",
            role=Role.CLOUD_ADMIN,
        )
    assert not User.objects.filter(email="y@test.example").exists()


def test_customer_admins_cannot_invite_into_another_customer(client, cast):
    sign_in(client, "customeradmin")
    assert _invite(client, cast.customer_two).status_code == 404
    assert not User.objects.filter(email="new.person@test.example").exists()


def test_read_only_logins_cannot_invite(client, cast):
    sign_in(client, "readonly")
    refused = _invite(client, cast.customer)
    assert refused.status_code == 403
    # the styled page with the navigation and the refusal's words, not Django's plain 403
    body = refused.content.decode()
    assert 'id="refusal"' in body and 'data-nav="' in body
    assert not User.objects.filter(email="new.person@test.example").exists()


def test_nobody_changes_their_own_role(cast):
    with pytest.raises(PermissionRefused):
        services.user_update(
            actor=cast.reseller_admin, user=cast.reseller_admin, role=Role.READ_ONLY
        )
    cast.reseller_admin.refresh_from_db()
    assert cast.reseller_admin.role == Role.RESELLER_ADMIN
