"""Users created, edited, deleted, restored and given a new password here, against the running
sandbox: shown at once and pending, sent by the worker in order and retried, undone when the
vendor refuses for good, never overwritten by a sync while pending; and the default licence."""

from __future__ import annotations

import re
import uuid

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.people import licences, services, users
from seatkeeper.people.models import (
    CredentialLink,
    DefaultLicence,
    DirectoryUser,
    LicenceChange,
    UserAction,
    UserChange,
    UserStatus,
)
from seatkeeper.people.tests import test_directory as directory_tests
from seatkeeper.people.tests.test_directory import _seat_to_give, _sync, _vendor, _vendor_skus
from seatkeeper.subscriptions import selectors as subscription_selectors
from seatkeeper.subscriptions.models import OperationState, Subscription, SyncStatus

pytestmark = pytest.mark.django_db

# The directory tests' sandbox world, partner and users (a world of this module's own).
world = directory_tests.world
connected = directory_tests.connected
imported = directory_tests.imported
by_hand = directory_tests.by_hand

GOOD = "Bright#Harbour42"


def _alias() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def _create(link, tenant, **kwargs):
    values = {
        "actor": link.cast.cloud_admin,
        "customer": tenant.customer,
        "display_name": "Grace Hopper",
        "first_name": "Grace",
        "last_name": "Hopper",
        "user_name": f"{_alias()}@{tenant.domain}",
        "usage_location": "GB",
        "password": GOOD,
    }
    values.update(kwargs)
    return users.user_create(**values)


def _run(link, change: UserChange) -> str:
    return users.run_user_change(change.pk, provider_factory=link.provider)


def _vendor_user(world, user: DirectoryUser) -> dict:
    path = f"/v1/customers/{user.tenant.vendor_customer_id}/users/{user.vendor_user_id}"
    return _vendor(world, "GET", path)


# --- the policy ---------------------------------------------------------------------------------


def test_the_password_policy_names_each_reason():
    assert users.password_problems(GOOD, user_name="grace@x.com", display_name="Grace") == []
    problems = users.password_problems("abc")
    assert len(problems) == 4  # length, upper case, digit, symbol
    assert any("At least 8" in p for p in problems)
    assert any("upper case" in p for p in problems)
    assert any("digit" in p for p in problems)
    assert any("symbol" in p for p in problems)
    assert not any("lower case" in p for p in problems)
    # No part of the user name nor of the full name (three characters or more).
    named = users.password_problems("Hopper#2026x", user_name="grace.hopper@contoso.com")
    assert named == ["It must not contain “hopper”, part of the user's name."]
    assert users.password_problems("Xy#2026Grace", display_name="Grace Hopper")
    assert not users.password_problems("Ab#2026Gxy", first_name="Al")  # parts under 3 ignored
    assert users.password_problems("Pässword#2026")  # not ASCII
    for _ in range(20):
        made = users.generate_password(user_name="ann@x.com", display_name="Ann Lee")
        assert len(made) == 16 and users.password_problems(made, user_name="ann@x.com") == []


# --- creating -----------------------------------------------------------------------------------


def test_a_user_created_here_reaches_the_vendor_once_even_across_a_sync(imported, world, by_hand):
    link, tenants = imported
    tenant = tenants[0]
    change = _create(link, tenant)
    user = change.user
    assert change.action == UserAction.CREATE and change.state == OperationState.PENDING
    assert user.sync_status == SyncStatus.PENDING and user.vendor_user_id == ""
    assert change.secret and GOOD not in change.secret
    # A sync before the worker ran neither removes nor doubles the user.
    _sync(link, tenant.customer)
    assert DirectoryUser.objects.filter(user_principal_name=user.user_principal_name).count() == 1
    assert _run(link, change) == "done"
    user.refresh_from_db()
    change.refresh_from_db()
    assert user.vendor_user_id and user.sync_status == SyncStatus.SYNCHRONIZED
    assert change.state == OperationState.DONE and change.secret == ""
    there = _vendor_user(world, user)
    assert (there["userPrincipalName"], there["displayName"], there["usageLocation"]) == (
        user.user_principal_name,
        "Grace Hopper",
        "GB",
    )
    counts = _sync(link, tenant.customer)
    assert counts["created"] == 0
    assert DirectoryUser.objects.filter(user_principal_name=user.user_principal_name).count() == 1


def test_a_generated_password_reaches_its_user_through_a_one_time_link(
    imported, by_hand, smtp_server, django_capture_on_commit_callbacks
):
    link, tenants = imported
    tenant = tenants[0]
    change = _create(link, tenant, password=None, send_password_to="grace@example.org")
    assert change.credential_recipient == "grace@example.org"
    assert not smtp_server.messages  # nothing before the vendor made the user
    with django_capture_on_commit_callbacks(execute=True):
        assert _run(link, change) == "done"
    (mail,) = smtp_server.messages
    assert mail["To"] == "grace@example.org"
    body = mail.get_payload(decode=True).decode()
    token = re.search(r"/password-link/([^/\s]+)/", body).group(1)
    user_name, password = services.credential_reveal(token)
    assert user_name == change.user.user_principal_name
    assert users.password_problems(password, user_name=user_name) == []
    assert password not in body
    assert CredentialLink.objects.get(user_name=user_name).secret == ""


def test_refusals_change_nothing(imported, by_hand):
    link, tenants = imported
    tenant = tenants[0]
    existing = DirectoryUser.objects.filter(tenant=tenant).first()
    before = (DirectoryUser.objects.count(), UserChange.objects.count())
    cases = [
        ({"user_name": f"{_alias()}@elsewhere.example"}, "not a domain of this tenant"),
        ({"user_name": "no-domain"}, "alias@domain"),
        ({"password": "short"}, "At least 8"),
        ({"password": "grace#Hopper2026"}, "part of the user's name"),
        ({"password": None, "send_password_to": ""}, "one-time password link"),
        ({"usage_location": "GBR"}, "two-letter"),
        ({"display_name": " "}, "display name"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(ServiceError) as refused:
            _create(link, tenant, **kwargs)
        assert reason in refused.value.message, kwargs
    with pytest.raises(Conflict):
        _create(link, tenant, user_name=existing.user_principal_name.upper())
    with pytest.raises(PermissionRefused):
        _create(link, tenant, actor=link.cast.read_only)
    with pytest.raises(PermissionRefused):
        _create(link, tenant, actor=link.cast.outsider)
    assert (DirectoryUser.objects.count(), UserChange.objects.count()) == before


def test_a_vendor_refusal_takes_the_new_user_away_and_keeps_the_answer(imported, world, by_hand):
    link, tenants = imported
    tenant = tenants[0]
    upn = f"{_alias()}@{tenant.domain}"
    # Someone made the same user name in Partner Center meanwhile.
    _vendor(
        world,
        "POST",
        f"/v1/customers/{tenant.vendor_customer_id}/users",
        {
            "userPrincipalName": upn,
            "displayName": "Made There",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Str0ng!Passw0rd", "forceChangePassword": True},
        },
    )
    change = _create(link, tenant, user_name=upn)
    assert _run(link, change) == "failed"
    change.refresh_from_db()
    assert change.state == OperationState.FAILED and change.user is None
    assert "already exists" in change.error_message and change.secret == ""
    assert not DirectoryUser.objects.filter(user_principal_name=upn, vendor_user_id="").exists()
    assert ActivityRecord.objects.filter(operation="user.create_failed").exists()


def test_an_outage_is_retried_and_the_retry_makes_one_user(imported, world, by_hand):
    link, tenants = imported
    tenant = tenants[0]
    change = _create(link, tenant)
    path = f"/v1/customers/{tenant.vendor_customer_id}/users"
    world.admin.set_faults(script=[{"method": "POST", "path": path, "status": 503, "times": 5}])
    try:
        assert _run(link, change) == "retrying"
    finally:
        world.admin.reset_faults()
    change.refresh_from_db()
    assert change.state == OperationState.PENDING and change.error_code
    assert change.pk not in users.due_user_change_ids(clock.now())
    assert change.pk in users.due_user_change_ids(change.next_attempt_at)
    assert _run(link, change) == "busy"
    UserChange.objects.filter(pk=change.pk).update(next_attempt_at=clock.now())
    assert _run(link, change) == "done"
    upn = change.user_principal_name
    listed = [u for u in _vendor(world, "GET", path)["items"] if u["userPrincipalName"] == upn]
    assert len(listed) == 1


# --- editing, deleting, restoring ---------------------------------------------------------------


def _made(link, tenant) -> DirectoryUser:
    change = _create(link, tenant)
    assert _run(link, change) == "done"
    change.user.refresh_from_db()
    return change.user


def test_an_edit_pending_is_not_overwritten_by_a_sync(imported, world, by_hand):
    link, tenants = imported
    tenant = tenants[0]
    user = _made(link, tenant)
    with pytest.raises(Conflict):  # still being created: refused
        users.user_update(actor=link.cast.cloud_admin, user=_create(link, tenant).user)
    change = users.user_update(
        actor=link.cast.cloud_admin, user=user, display_name="Grace B. Hopper", usage_location="FR"
    )
    assert change.fields["before"] == {"display_name": "Grace Hopper", "usage_location": "GB"}
    # Partner Center renames the user meanwhile; a sync runs before our change is sent.
    path = f"/v1/customers/{tenant.vendor_customer_id}/users/{user.vendor_user_id}"
    _vendor(world, "PATCH", path, {"displayName": "Renamed There", "lastName": "There"})
    _sync(link, tenant.customer)
    user.refresh_from_db()
    assert (user.display_name, user.usage_location, user.last_name) == (
        "Grace B. Hopper",
        "FR",
        "Hopper",
    )
    assert user.sync_status == SyncStatus.PENDING
    assert _run(link, change) == "done"
    there = _vendor_user(world, user)
    assert (there["displayName"], there["usageLocation"]) == ("Grace B. Hopper", "FR")
    user.refresh_from_db()
    assert user.sync_status == SyncStatus.SYNCHRONIZED
    # Once in sync, the vendor's other change (last name) arrives.
    _sync(link, tenant.customer)
    user.refresh_from_db()
    assert user.last_name == "There" and user.display_name == "Grace B. Hopper"
    with pytest.raises(ServiceError) as same:
        users.user_update(actor=link.cast.cloud_admin, user=user, display_name="Grace B. Hopper")
    assert same.value.code == "unchanged"


def test_a_refused_edit_is_put_back(imported, world, by_hand):
    link, tenants = imported
    user = _made(link, tenants[0])
    change = users.user_update(actor=link.cast.cloud_admin, user=user, display_name="New Name")
    _vendor(
        world,
        "DELETE",
        f"/v1/customers/{user.tenant.vendor_customer_id}/users/{user.vendor_user_id}",
    )
    assert _run(link, change) == "failed"
    user.refresh_from_db()
    assert user.display_name == "Grace Hopper" and user.sync_status == SyncStatus.FAILED
    change.refresh_from_db()
    assert change.error_message


def test_delete_then_restore_within_thirty_days_with_licences_back(imported, world, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    given = licences.licence_assign(
        actor=link.cast.cloud_admin, user=user, subscription=subscription
    )
    assert licences.run_change(given.pk, provider_factory=link.provider) == "done"
    sku = user.licences.get().sku
    change = users.user_delete(actor=link.cast.cloud_admin, user=user)
    user.refresh_from_db()
    assert user.status == UserStatus.DELETED and not user.licences.exists()
    assert users.purge_date(user) == user.deleted_at + users.RESTORE_WINDOW
    with pytest.raises(Conflict):
        users.user_delete(actor=link.cast.cloud_admin, user=user)
    with pytest.raises(ServiceError):  # no licence for a deleted user
        licences.licence_assign(actor=link.cast.cloud_admin, user=user, subscription=subscription)
    assert _run(link, change) == "done"
    assert _vendor_user(world, user)["state"] == "inactive"
    restored = users.user_restore(actor=link.cast.cloud_admin, user=user)
    assert user.status == UserStatus.ACTIVE
    assert _run(link, restored) == "done"
    assert _vendor_user(world, user)["state"] == "active"
    assert list(user.licences.values_list("sku_id", flat=True)) == [sku.pk]
    with pytest.raises(Conflict):
        users.user_restore(actor=link.cast.cloud_admin, user=user)


def test_past_thirty_days_a_deleted_user_cannot_be_restored(imported, by_hand):
    link, tenants = imported
    user = _made(link, tenants[0])
    users.user_delete(actor=link.cast.cloud_admin, user=user)
    UserChange.objects.filter(user=user).update(state=OperationState.DONE)
    DirectoryUser.objects.filter(pk=user.pk).update(
        deleted_at=clock.now() - users.RESTORE_WINDOW, sync_status=SyncStatus.SYNCHRONIZED
    )
    user.refresh_from_db()
    before = UserChange.objects.count()
    with pytest.raises(Conflict) as refused:
        users.user_restore(actor=link.cast.cloud_admin, user=user)
    assert refused.value.code == "purged"
    user.refresh_from_db()
    assert user.status == UserStatus.DELETED and UserChange.objects.count() == before


def test_changes_reach_the_vendor_in_order(imported, world, by_hand):
    link, tenants = imported
    user = _made(link, tenants[0])
    first = users.user_update(actor=link.cast.cloud_admin, user=user, display_name="First")
    second = users.user_delete(actor=link.cast.cloud_admin, user=user)
    assert _run(link, second) == "waiting"
    assert _run(link, first) == "done"
    assert _run(link, second) == "done"
    there = _vendor_user(world, user)
    assert (there["displayName"], there["state"]) == ("First", "inactive")


def test_a_password_reset_sends_a_new_link(
    imported, world, by_hand, smtp_server, django_capture_on_commit_callbacks
):
    link, tenants = imported
    user = _made(link, tenants[0])
    with pytest.raises(ServiceError):
        users.user_password_reset(actor=link.cast.cloud_admin, user=user, password="weak")
    change = users.user_password_reset(
        actor=link.cast.cloud_admin, user=user, send_password_to="it@example.org"
    )
    assert change.action == UserAction.PASSWORD
    with django_capture_on_commit_callbacks(execute=True):
        assert _run(link, change) == "done"
    (mail,) = smtp_server.messages
    token = re.search(r"/password-link/([^/\s]+)/", mail.get_payload(decode=True).decode())
    assert services.credential_reveal(token.group(1))[0] == user.user_principal_name
    audit = _vendor(world, "GET", "/v1/auditrecords?size=500")["items"]
    resets = [row for row in audit if row["operationType"] == "reset_customer_user_password"]
    assert any(user.vendor_user_id in str(row) for row in resets)


# --- the default licence -----------------------------------------------------------------------


def test_new_users_get_the_default_licence_while_seats_remain(imported, world, by_hand):
    link, tenants = imported
    _user, subscription = _seat_to_give(tenants)
    tenant = subscription.tenant
    with pytest.raises(PermissionRefused):
        users.default_licence_set(actor=link.cast.read_only, subscription=subscription)
    users.default_licence_set(actor=link.cast.cloud_admin, subscription=subscription)
    assert users.default_subscription(tenant.customer) == subscription
    change = _create(link, tenant)
    assert change.notice == ""
    assert _run(link, change) == "done"
    given = LicenceChange.objects.get(user=change.user)
    assert given.subscription == subscription and given.action == "assign"
    assert licences.run_change(given.pk, provider_factory=link.provider) == "done"
    change.user.refresh_from_db()
    assert given.sku.sku_id in _vendor_skus(world, change.user)

    # No seat left: the person creating the user is told, at once and on the change.
    pool = Subscription.objects.filter(
        tenant=tenant, offer__external_id=subscription.offer.external_id, status="active"
    )
    held = sum(subscription_selectors.assigned_seats(s) for s in pool)
    pool.update(quantity=0)
    Subscription.objects.filter(pk=subscription.pk).update(quantity=held)
    full = _create(link, tenant)
    assert "No seat left" in full.notice and subscription.friendly_name in full.notice
    assert _run(link, full) == "done"
    full.refresh_from_db()
    assert "No seat left" in full.notice
    assert not LicenceChange.objects.filter(user=full.user).exists()

    # A user found by a sync: the reason goes to the activity log.
    domain = tenant.domain
    upn = f"{_alias()}@{domain}"
    _vendor(
        world,
        "POST",
        f"/v1/customers/{tenant.vendor_customer_id}/users",
        {
            "userPrincipalName": upn,
            "displayName": "Found Later",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Str0ng!Passw0rd", "forceChangePassword": True},
        },
    )
    _sync(link, tenant.customer)
    found = DirectoryUser.objects.get(user_principal_name=upn)
    assert not found.licences.exists()
    record = ActivityRecord.objects.get(
        operation="licence.default_missing", object_id=str(found.pk)
    )
    assert "No seat left" in record.details["reason"]

    # With a seat back, the next user found gets it.
    Subscription.objects.filter(pk=subscription.pk).update(quantity=held + 5)
    upn = f"{_alias()}@{domain}"
    _vendor(
        world,
        "POST",
        f"/v1/customers/{tenant.vendor_customer_id}/users",
        {
            "userPrincipalName": upn,
            "displayName": "Found With Seat",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Str0ng!Passw0rd", "forceChangePassword": True},
        },
    )
    _sync(link, tenant.customer)
    found = DirectoryUser.objects.get(user_principal_name=upn)
    assert found.licences.get().sku == given.sku
    assert LicenceChange.objects.get(user=found).state == OperationState.PENDING

    users.default_licence_unset(actor=link.cast.cloud_admin, customer=tenant.customer)
    assert not DefaultLicence.objects.filter(customer=tenant.customer).exists()
    with pytest.raises(ServiceError):
        users.default_licence_unset(actor=link.cast.cloud_admin, customer=tenant.customer)


def test_a_lost_answer_is_retried_with_the_same_request_and_makes_one_user(
    imported, world, by_hand
):
    link, tenants = imported
    tenant = tenants[0]
    change = _create(link, tenant)
    path = f"/v1/customers/{tenant.vendor_customer_id}/users"
    world.admin.clear_calls()
    # The vendor makes the user, then the answer is lost on the way back.
    world.admin.set_faults(script=[{"method": "POST", "path": path, "status": "lost", "times": 2}])
    try:
        outcome = _run(link, change)
    finally:
        world.admin.reset_faults()
    if outcome == "retrying":
        UserChange.objects.filter(pk=change.pk).update(next_attempt_at=clock.now())
        outcome = _run(link, change)
    assert outcome == "done"
    lost = [call for call in world.admin.calls(method="POST") if call.get("fault") == "lost"]
    assert lost, "the sandbox lost no answer: the test proves nothing"
    upn = change.user_principal_name
    listed = [u for u in _vendor(world, "GET", path)["items"] if u["userPrincipalName"] == upn]
    assert len(listed) == 1
    change.user.refresh_from_db()
    assert change.user.vendor_user_id == listed[0]["id"]
