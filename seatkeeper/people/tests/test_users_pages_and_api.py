"""The users' pages and REST API over the same services: creating (the password policy checked
as it is typed), editing, deleting, restoring, a new password, the default licence's star;
scoped like the rest (another reseller's customer is a 404), refusals change nothing."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from seatkeeper.conftest import sign_in
from seatkeeper.people import users
from seatkeeper.people.models import DefaultLicence, DirectoryUser, UserChange, UserStatus
from seatkeeper.people.tests import test_directory as directory_tests
from seatkeeper.people.tests.test_directory import _seat_to_give
from seatkeeper.subscriptions.models import OperationState
from seatkeeper.subscriptions.tests.test_api import api_as

pytestmark = pytest.mark.django_db

world = directory_tests.world
connected = directory_tests.connected
imported = directory_tests.imported
by_hand = directory_tests.by_hand

GOOD = "Bright#Harbour42"


def _alias() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def _made(link, tenant) -> DirectoryUser:
    change = users.user_create(
        actor=link.cast.cloud_admin,
        customer=tenant.customer,
        display_name="Ada Lovelace",
        first_name="Ada",
        last_name="Lovelace",
        user_name=f"{_alias()}@{tenant.domain}",
        usage_location="GB",
        password=GOOD,
    )
    assert users.run_user_change(change.pk, provider_factory=link.provider) == "done"
    change.user.refresh_from_db()
    return change.user


def test_the_new_user_page_creates_and_checks_the_password_as_it_is_typed(
    imported, client, by_hand
):
    link, tenants = imported
    tenant = tenants[0]
    customer = tenant.customer
    sign_in(client, link.cast.cloud_admin.username)
    listing = client.get(reverse("customer_users", args=[customer.pk])).content.decode()
    assert reverse("user_create", args=[customer.pk]) in listing
    url = reverse("user_create", args=[customer.pk])
    page = client.get(url).content.decode()
    assert f'value="{tenant.domain.lower()}"' in page and 'name="password_mode"' in page
    check = reverse("user_password_check", args=[customer.pk])
    said = client.post(check, {"password": "lovelace1", "alias": "ada.lovelace"})
    assert said.status_code == 200
    text = said.content.decode()
    assert "Add an upper case letter." in text and "lovelace" in text
    assert 'data-acceptable="false"' in text
    fine = client.post(check, {"password": GOOD, "alias": "ada.lovelace"}).content.decode()
    assert 'data-acceptable="true"' in fine
    before = (DirectoryUser.objects.count(), UserChange.objects.count())
    form = {
        "display_name": "Ada Lovelace",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "alias": "ada.lovelace",
        "domain": tenant.domain.lower(),
        "usage_location": "GB",
        "password_mode": "type",
        "password": "ada#Lovelace1",
    }
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "part of the user" in refused.content.decode()
    assert (DirectoryUser.objects.count(), UserChange.objects.count()) == before
    alias = _alias()
    made = client.post(url, {**form, "alias": alias, "password": GOOD})
    assert made.status_code == 302
    user = DirectoryUser.objects.get(user_principal_name=f"{alias}@{tenant.domain.lower()}")
    assert made["Location"] == reverse("user_licences", args=[customer.pk, user.pk])
    page = client.get(made["Location"]).content.decode()
    assert 'data-action="edit"' in page and 'id="user-changes"' in page
    # A creation the vendor refused for good shows on the users page, with its answer.
    UserChange.objects.create(
        customer=customer,
        user=None,
        user_principal_name=f"refused@{tenant.domain}",
        action="create",
        state=OperationState.FAILED,
        requested_by_name="Someone",
        error_code="60010",
        error_message="A user with userPrincipalName refused already exists.",
    )
    listing = client.get(reverse("customer_users", args=[customer.pk])).content.decode()
    assert 'id="refused-changes"' in listing and "60010" in listing
    # Read-only logins see the users but may not create one; another reseller sees nothing.
    sign_in(client, link.cast.read_only.username)
    assert client.get(url).status_code in (403, 404)
    sign_in(client, link.cast.reseller_admin.username)
    assert client.get(url).status_code == 404
    assert client.post(check, {"password": "x"}).status_code == 404


def test_edit_delete_restore_and_reset_from_the_user_page(imported, client, by_hand):
    link, tenants = imported
    user = _made(link, tenants[0])
    customer = user.customer
    sign_in(client, link.cast.cloud_admin.username)
    edit = reverse("user_edit", args=[customer.pk, user.pk])
    alias = user.user_principal_name.split("@")[0]
    domain = user.user_principal_name.split("@")[1]
    answer = client.post(
        edit,
        {
            "display_name": "Ada King",
            "first_name": "Ada",
            "last_name": "King",
            "alias": alias,
            "domain": domain,
            "usage_location": "FR",
        },
    )
    assert answer.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.usage_location) == ("Ada King", "FR")
    action = lambda name: reverse("user_action", args=[customer.pk, user.pk, name])  # noqa: E731
    client.post(action("reset-password"), {"send_password_to": "ada@example.org"})
    assert UserChange.objects.filter(user=user, action="password").exists()
    # Deleting waits for nothing here (the changes queue in order at the vendor).
    client.post(action("delete"))
    user.refresh_from_db()
    assert user.status == UserStatus.DELETED
    listing = client.get(reverse("customer_users", args=[customer.pk]), {"show": "deleted"})
    assert f'data-purge="{user.purge_at.date().isoformat()}"' in listing.content.decode()
    client.post(action("restore"))
    user.refresh_from_db()
    assert user.status == UserStatus.ACTIVE
    assert client.post(action("nonsense")).status_code == 404
    sign_in(client, link.cast.reseller_admin.username)
    assert client.post(action("delete")).status_code == 404
    user.refresh_from_db()
    assert user.status == UserStatus.ACTIVE


def test_the_star_marks_the_default_licence(imported, client, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    customer = user.customer
    sign_in(client, link.cast.cloud_admin.username)
    page = reverse("user_licences", args=[customer.pk, user.pk])
    url = reverse("default_licence", args=[customer.pk])
    client.post(url, {"subscription": subscription.pk, "next": page})
    assert DefaultLicence.objects.get(customer=customer).subscription == subscription
    assert 'data-default="true"' in client.get(page).content.decode()
    client.post(url, {"next": page})
    assert not DefaultLicence.objects.filter(customer=customer).exists()
    sign_in(client, link.cast.read_only.username)
    assert client.post(url, {"subscription": subscription.pk}).status_code in (403, 404)
    assert not DefaultLicence.objects.filter(customer=customer).exists()


def test_the_api_creates_edits_deletes_restores_and_resets_scoped(imported, by_hand):
    link, tenants = imported
    tenant = tenants[0]
    api = api_as(link.cast.cloud_admin)
    base = f"/api/v1/customers/{tenant.customer_id}/users/"
    body = {
        "display_name": "Alan Turing",
        "first_name": "Alan",
        "last_name": "Turing",
        "user_name": f"{_alias()}@{tenant.domain}",
        "usage_location": "GB",
        "send_password_to": "alan@example.org",
    }
    first = api.post(base, body, format="json", HTTP_IDEMPOTENCY_KEY="make-alan")
    again = api.post(base, body, format="json", HTTP_IDEMPOTENCY_KEY="make-alan")
    assert first.status_code == again.status_code == 202, first.content
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["password_link_sent_to"] == "alan@example.org"
    assert "password" not in first.json()
    assert DirectoryUser.objects.filter(user_principal_name=body["user_name"]).count() == 1
    taken = api.post(base, body, format="json", HTTP_IDEMPOTENCY_KEY="make-alan-2")
    assert taken.status_code == 409
    weak = api.post(base, {**body, "user_name": f"{_alias()}@{tenant.domain}", "password": "weak"})
    assert weak.status_code == 400 and "password" in weak.json()["fields"]
    check = api.post(f"{base}password-check/", {"password": "turing", "last_name": "Turing"})
    assert check.status_code == 200 and check.json()["acceptable"] is False
    assert any("turing" in problem for problem in check.json()["problems"])

    user = _made(link, tenant)
    one = f"{base}{user.pk}/"
    assert api.get(one).json()["user_principal_name"] == user.user_principal_name
    edited = api.patch(one, {"display_name": "Ada B."}, format="json")
    assert edited.status_code == 202 and edited.json()["action"] == "update"
    assert api.patch(one, {"display_name": "Ada B."}, format="json").status_code == 400
    reset = api.post(f"{one}reset-password/", {"send_password_to": "ada@example.org"})
    assert reset.status_code == 202 and reset.json()["action"] == "password"
    gone = api.post(f"{one}delete/")
    assert gone.status_code == 202
    assert api.post(f"{one}delete/").status_code == 409
    assert api.post(f"{one}restore/").status_code == 202
    assert api.post(f"{one}restore/").status_code == 409
    changes = UserChange.objects.filter(user=user).count()
    # The user through another customer's address (one this login may see): not there.
    elsewhere = f"/api/v1/customers/{tenants[1].customer_id}/users/{user.pk}/"
    assert tenants[1].customer_id != user.customer_id
    assert api.get(elsewhere).status_code == 404
    assert api.post(f"{elsewhere}delete/").status_code == 404
    assert api.patch(elsewhere, {"display_name": "X"}, format="json").status_code == 404
    other = api_as(link.cast.reseller_admin)
    assert other.get(one).status_code == 404
    assert other.post(f"{one}delete/").status_code == 404
    assert other.post(base, body, format="json").status_code == 404
    assert UserChange.objects.filter(user=user).count() == changes
    assert not UserChange.objects.filter(state=OperationState.FAILED).exists()


def test_the_api_sets_and_unsets_the_default_licence(imported, by_hand):
    link, tenants = imported
    _user, subscription = _seat_to_give(tenants)
    url = f"/api/v1/customers/{subscription.customer_id}/default-licence/"
    api = api_as(link.cast.cloud_admin)
    assert api.get(url).json()["subscription"] is None
    put = api.put(url, {"subscription": subscription.pk}, format="json")
    assert put.status_code == 200 and put.json()["subscription"] == subscription.pk
    assert api.get(url).json()["name"] == subscription.friendly_name
    assert api.put(url, {"subscription": 2**31 - 1}, format="json").status_code == 404
    assert api_as(link.cast.reseller_admin).delete(url).status_code == 404
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 400
    assert not DefaultLicence.objects.filter(customer_id=subscription.customer_id).exists()
