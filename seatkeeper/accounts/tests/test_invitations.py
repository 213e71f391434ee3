from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Role, User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import sign_in
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
    invited = User.objects.get(email="new.person@test.example")
    assert invited.organisation == cast.customer
    assert not invited.has_usable_password()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@test.example"]
    assert "Seatkeeper" in message.subject
    assert "Choisissez votre mot de passe" in message.body  # in the invited person's language
    link = re.search(r"https?://[^/]+(/invitation/\S+)", message.body).group(1)
    client.logout()
    page = client.get(link, follow=True)
    set_url = page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "Welcome-Aboard-77", "new_password2": "Welcome-Aboard-77"}
    )
    assert done.status_code == 302
    invited.refresh_from_db()
    assert invited.check_password("Welcome-Aboard-77")
    assert set(
        ActivityRecord.objects.filter(object_type="user", object_id=str(invited.pk)).values_list(
            "operation", flat=True
        )
    ) == {"user.invite", "user.password_invitation"}


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
    assert _invite(client, cast.customer).status_code == 403
    assert not User.objects.filter(email="new.person@test.example").exists()


def test_nobody_changes_their_own_role(cast):
    with pytest.raises(PermissionRefused):
        services.user_update(
            actor=cast.reseller_admin, user=cast.reseller_admin, role=Role.READ_ONLY
        )
    cast.reseller_admin.refresh_from_db()
    assert cast.reseller_admin.role == Role.RESELLER_ADMIN
