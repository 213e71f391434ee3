"""Users and licences read from the running sandbox: through discovery's "users" kind and the
"Sync now" service, matched (never duplicated), a pending change of ours left alone; and the
seats they hold, shared between subscriptions of one product oldest first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.discovery.tests import conftest as discovery_conftest
from seatkeeper.people import directory, licences
from seatkeeper.people.models import (
    DirectoryUser,
    LicenceChange,
    LicenceSku,
    UserLicence,
    UserStatus,
)
from seatkeeper.people.selectors import licence_choices, seat_shares
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.subscriptions import selectors as subscription_selectors
from seatkeeper.subscriptions import services as subscription_services
from seatkeeper.subscriptions.models import Subscription, SyncStatus, Tenant
from seatkeeper.subscriptions.tests.test_api import api_as

pytestmark = pytest.mark.django_db

# A partner connected to the sandbox world below, its catalog imported (discovery's fixture).
connected = discovery_conftest.connected


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp("people-directory"),
        customers=2,
        subscriptions_per_customer=2,
        users_per_customer=6,
        random_seed=21,
    ) as info:
        yield info
        forget_token_sources()


def _vendor(world, method: str, path: str, body: dict | None = None) -> Any:
    with world.client(world.admin.access_token()) as client:
        answer = client.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None


def _vendor_users(world, tenant: Tenant) -> list[dict]:
    return _vendor(world, "GET", f"/v1/customers/{tenant.vendor_customer_id}/users")["items"]


def _sync(link, customer):
    return directory.users_sync(
        actor=link.cast.cloud_admin,
        customer=customer,
        provider_factory=lambda account: link.provider(account),
    )


@pytest.fixture
def imported(connected):
    connected.discover()
    tenants = list(Tenant.objects.filter(account=connected.account).order_by("pk"))
    assert tenants
    return connected, tenants


def test_discovery_imports_every_user_with_their_licences(imported, world):
    _link, tenants = imported
    for tenant in tenants:
        vendor_users = _vendor_users(world, tenant)
        ours = {u.vendor_user_id: u for u in DirectoryUser.objects.filter(tenant=tenant)}
        assert set(ours) == {u["id"] for u in vendor_users}
        for vendor_user in vendor_users:
            user = ours[vendor_user["id"]]
            assert user.user_principal_name == vendor_user["userPrincipalName"]
            assert user.status == UserStatus.ACTIVE
            licences = _vendor(
                world,
                "GET",
                f"/v1/customers/{tenant.vendor_customer_id}/users/{vendor_user['id']}/licenses",
            )["items"]
            assert {x["productSku"]["id"].lower() for x in licences} == set(
                user.licences.values_list("sku__sku_id", flat=True)
            )
    # The pools are tied to the subscriptions' products through the catalog's provisioning id.
    assert LicenceSku.objects.filter(tenant__in=tenants).exclude(product_key="").exists()


def test_syncing_twice_changes_nothing(imported):
    link, tenants = imported
    customer = tenants[0].customer
    before = list(
        DirectoryUser.objects.filter(tenant=tenants[0]).values(*directory.USER_FIELDS, "pk")
    )
    licences = set(UserLicence.objects.values_list("pk", flat=True))
    first = _sync(link, customer)
    second = _sync(link, customer)
    assert first["created"] == first["updated"] == first["removed"] == 0
    assert second == first
    assert first["unchanged"] == len(before)
    after = list(
        DirectoryUser.objects.filter(tenant=tenants[0]).values(*directory.USER_FIELDS, "pk")
    )
    assert after == before
    assert set(UserLicence.objects.values_list("pk", flat=True)) == licences


def test_vendor_changes_arrive_but_a_pending_change_stands(imported, world):
    link, tenants = imported
    tenant = tenants[0]
    users = [u for u in _vendor_users(world, tenant) if not u["userPrincipalName"].startswith("a")]
    renamed, pending, deleted = users[0], users[1], users[2]
    base = f"/v1/customers/{tenant.vendor_customer_id}/users"
    _vendor(world, "PATCH", f"{base}/{renamed['id']}", {"displayName": "Renamed There"})
    _vendor(world, "PATCH", f"{base}/{pending['id']}", {"displayName": "Vendor Name"})
    _vendor(world, "DELETE", f"{base}/{deleted['id']}")
    mine = DirectoryUser.objects.get(tenant=tenant, vendor_user_id=pending["id"])
    DirectoryUser.objects.filter(pk=mine.pk).update(
        display_name="Our Name", sync_status=SyncStatus.PENDING
    )
    counts = _sync(link, tenant.customer)
    assert counts["updated"] == 2  # renamed, deleted
    assert DirectoryUser.objects.get(vendor_user_id=renamed["id"]).display_name == "Renamed There"
    assert DirectoryUser.objects.get(pk=mine.pk).display_name == "Our Name"
    gone = DirectoryUser.objects.get(vendor_user_id=deleted["id"])
    assert gone.status == UserStatus.DELETED
    assert gone.deleted_at is not None
    assert not gone.licences.exists()
    # A new user at the vendor is created here once.
    domain = tenant.domain
    _vendor(
        world,
        "POST",
        base,
        {
            "userPrincipalName": f"newcomer@{domain}",
            "displayName": "New Comer",
            "firstName": "New",
            "lastName": "Comer",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Str0ng!Passw0rd", "forceChangePassword": True},
        },
    )
    assert _sync(link, tenant.customer)["created"] == 1
    assert _sync(link, tenant.customer)["created"] == 0
    assert DirectoryUser.objects.filter(user_principal_name=f"newcomer@{domain}").count() == 1


def test_another_partners_staff_may_not_sync(imported):
    link, tenants = imported
    with pytest.raises(ServiceError):
        directory.users_sync(actor=link.cast.outsider, customer=tenants[0].customer)


def _held_subscription(tenants) -> Subscription:
    for subscription in Subscription.objects.filter(tenant__in=tenants).order_by("pk"):
        if subscription_selectors.assigned_seats(subscription):
            return subscription
    raise AssertionError("the sandbox world has no licensed user")


def test_assigned_seats_follow_the_vendors_consumed_units(imported, world):
    _link, tenants = imported
    subscription = _held_subscription(tenants)
    tenant = subscription.tenant
    skus = _vendor(world, "GET", f"/v1/customers/{tenant.vendor_customer_id}/subscribedskus")
    pool = LicenceSku.objects.get(tenant=tenant, product_key=subscription.offer.external_id)
    consumed = next(
        s["consumedUnits"] for s in skus["items"] if s["productSku"]["id"].lower() == pool.sku_id
    )
    siblings = Subscription.objects.filter(
        tenant=tenant, offer__external_id=subscription.offer.external_id, status="active"
    )
    assert sum(subscription_selectors.assigned_seats(s) for s in siblings) == consumed
    members = subscription_selectors.subscription_members(subscription)
    assert len(members) == subscription_selectors.assigned_seats(subscription)


def test_pool_fills_the_oldest_subscription_first():
    # Two subscriptions of 3 and 5 seats, 4 licences held: 3 in the oldest, 1 in the next.
    assert seat_shares([(1, 3), (2, 5)], 4) == {1: (0, 3), 2: (3, 4)}
    # More held than bought: the surplus stays on the newest, the sum is what is held.
    assert seat_shares([(1, 3), (2, 5)], 10) == {1: (0, 3), 2: (3, 10)}
    assert seat_shares([(1, 3), (2, 5)], 0) == {1: (0, 0), 2: (0, 0)}


def test_a_decrease_below_the_held_seats_names_the_people(imported, world):
    link, tenants = imported
    subscription = _held_subscription(tenants)
    tenant = subscription.tenant
    pool = LicenceSku.objects.get(tenant=tenant, product_key=subscription.offer.external_id)
    if subscription_selectors.assigned_seats(subscription) < 2:
        # Give one more seat of the pool so that two people hold it at least.
        held_by = set(pool.licences.values_list("user__vendor_user_id", flat=True))
        free = [
            u
            for u in _vendor_users(world, tenant)
            if u["id"] not in held_by and u.get("usageLocation")
        ]
        _vendor(
            world,
            "POST",
            f"/v1/customers/{tenant.vendor_customer_id}/users/{free[0]['id']}/licenseupdates",
            {"licensesToAssign": [{"skuId": pool.sku_id}], "licensesToRemove": []},
        )
        _sync(link, tenant.customer)
    subscription.refresh_from_db()
    held = subscription_selectors.assigned_seats(subscription)
    assert held >= 2
    names = [m.user.display_name for m in subscription_selectors.subscription_members(subscription)]
    with clock.frozen(clock.now()), pytest.raises(ServiceError) as refused:
        subscription_services.subscription_change_quantity(
            actor=link.cast.cloud_admin, subscription=subscription, quantity=held - 1
        )
    assert str(held) in str(refused.value)
    for name in names:
        assert name in str(refused.value)


# --- pages ---------------------------------------------------------------------------------------


def _page(client, customer, **query):
    return client.get(reverse("customer_users", args=[customer.pk]), query)


def test_users_page_lists_filters_searches_and_exports(imported, client):
    link, tenants = imported
    tenant = tenants[0]
    customer = tenant.customer
    sign_in(client, link.cast.cloud_admin.username)
    users = DirectoryUser.objects.filter(tenant=tenant, status=UserStatus.ACTIVE)
    licensed = [u for u in users if u.licences.exists()]
    unlicensed = [u for u in users if not u.licences.exists()]
    assert licensed and unlicensed
    body = _page(client, customer, size=100).content.decode()
    for user in users:
        assert user.user_principal_name in body
    # The count opens onto the licences held.
    first = licensed[0]
    assert str(first.licences.first().sku) in body
    only_licensed = _page(client, customer, show="licensed", size=100).content.decode()
    assert all(u.user_principal_name in only_licensed for u in licensed)
    assert not any(u.user_principal_name in only_licensed for u in unlicensed)
    only_unlicensed = _page(client, customer, show="unlicensed", size=100).content.decode()
    assert not any(u.user_principal_name in only_unlicensed for u in licensed)
    found = _page(client, customer, q=first.user_principal_name[:12]).content.decode()
    assert first.user_principal_name in found
    assert (
        unlicensed[0].user_principal_name
        not in _page(client, customer, q=first.user_principal_name).content.decode()
    )
    export = _page(client, customer, export="csv", show="licensed")
    text = b"".join(export.streaming_content).decode()
    assert export["Content-Type"].startswith("text/csv")
    assert first.user_principal_name in text and str(first.licences.first().sku) in text
    assert unlicensed[0].user_principal_name not in text


def test_users_page_shows_deleted_users_apart_and_in_french(imported, client, world):
    link, tenants = imported
    tenant = tenants[0]
    victim = _vendor_users(world, tenant)[-1]
    _vendor(world, "DELETE", f"/v1/customers/{tenant.vendor_customer_id}/users/{victim['id']}")
    cloud_admin = link.cast.cloud_admin
    cloud_admin.language = "fr"
    cloud_admin.save(update_fields=["language"])
    sign_in(client, cloud_admin.username)
    with translation.override("fr"):
        synced = client.post(reverse("customer_users_sync", args=[tenant.customer.pk]))
        assert synced.status_code == 302
        page = client.get(synced["Location"]).content.decode()
        assert "Utilisateurs lus chez l" in page and "1 modifiés" in page
        assert victim["userPrincipalName"] not in page
        deleted = _page(client, tenant.customer, show="deleted").content.decode()
        assert victim["userPrincipalName"] in deleted and "Supprimé" in deleted


def test_another_resellers_customer_answers_404(imported, client):
    link, tenants = imported
    sign_in(client, link.cast.reseller_admin.username)  # discovered customers sit under the partner
    assert _page(client, tenants[0].customer).status_code == 404
    sync = client.post(reverse("customer_users_sync", args=[tenants[0].customer.pk]))
    assert sync.status_code == 404
    sign_in(client, link.cast.outsider.username)
    assert _page(client, tenants[0].customer).status_code == 404


def test_subscription_page_lists_its_members_and_the_list_counts_them(imported, client):
    link, tenants = imported
    subscription = _held_subscription(tenants)
    sign_in(client, link.cast.cloud_admin.username)
    page = client.get(reverse("subscription_detail", args=[subscription.pk])).content.decode()
    members = subscription_selectors.subscription_members(subscription)
    assert members
    for licence in members:
        assert licence.user.user_principal_name in page
    listing = client.get(
        reverse("customer_subscriptions", args=[subscription.customer_id]), {"size": 100}
    ).content.decode()
    row = listing.split(f'data-subscription="{subscription.pk}"')[1].split("</tr>")[0]
    assert f"data-assigned>{len(members)}<" in row


# --- licences given and taken back ---------------------------------------------------------------


@pytest.fixture
def by_hand(settings):
    # The worker is driven by hand.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def _vendor_skus(world, user: DirectoryUser) -> set[str]:
    path = f"/v1/customers/{user.tenant.vendor_customer_id}/users/{user.vendor_user_id}/licenses"
    return {x["productSku"]["id"].lower() for x in _vendor(world, "GET", path)["items"]}


def _seat_to_give(tenants) -> tuple[DirectoryUser, Subscription]:
    """An active user without licence and a subscription with a seat left, in one tenant."""
    for tenant in tenants:
        for choice in licence_choices(DirectoryUser(tenant=tenant)):
            if (
                not choice["available"]
                or not LicenceSku.objects.filter(
                    tenant=tenant, product_key=choice["subscription"].offer.external_id
                ).exists()
            ):
                continue
            user = (
                DirectoryUser.objects.filter(tenant=tenant, status=UserStatus.ACTIVE)
                .exclude(usage_location="")
                .exclude(licences__isnull=False)
                .first()
            )
            if user is not None:
                return user, choice["subscription"]
    raise AssertionError("no seat to give in the sandbox world")


def test_a_licence_given_here_reaches_the_vendor_and_a_sync_keeps_it(imported, world, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    before = subscription_selectors.assigned_by_subscription(
        list(Subscription.objects.filter(tenant=user.tenant))
    )
    change = licences.licence_assign(
        actor=link.cast.cloud_admin, user=user, subscription=subscription
    )
    user.refresh_from_db()
    assert user.sync_status == SyncStatus.PENDING and user.licences.count() == 1
    # A sync before the worker ran leaves the pending licence alone.
    _sync(link, user.customer)
    assert user.licences.count() == 1
    assert licences.run_change(change.pk, provider_factory=link.provider) == "done"
    sku = user.licences.get().sku
    assert sku.sku_id in _vendor_skus(world, user)
    user.refresh_from_db()
    assert user.sync_status == SyncStatus.SYNCHRONIZED
    _sync(link, user.customer)
    assert list(user.licences.values_list("sku__sku_id", flat=True)) == [sku.sku_id]
    after = subscription_selectors.assigned_by_subscription(
        list(Subscription.objects.filter(tenant=user.tenant))
    )
    assert sum(after.values()) == sum(before.values()) + 1
    # Taken back the same way.
    change = licences.licence_remove(actor=link.cast.cloud_admin, licence=user.licences.get())
    assert not user.licences.exists()
    assert licences.run_change(change.pk, provider_factory=link.provider) == "done"
    assert sku.sku_id not in _vendor_skus(world, user)


def test_refusals_name_what_is_missing(imported, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    DirectoryUser.objects.filter(pk=user.pk).update(usage_location="")
    user.refresh_from_db()
    with pytest.raises(ServiceError) as refused:
        licences.licence_assign(actor=link.cast.cloud_admin, user=user, subscription=subscription)
    assert "usage location" in str(refused.value)
    DirectoryUser.objects.filter(pk=user.pk).update(usage_location="GB")
    user.refresh_from_db()
    # Every seat of the pool taken: the refusal names the subscription.
    pool = Subscription.objects.filter(
        tenant=user.tenant, offer__external_id=subscription.offer.external_id, status="active"
    )
    held = sum(subscription_selectors.assigned_seats(s) for s in pool)
    pool.update(quantity=0)
    Subscription.objects.filter(pk=subscription.pk).update(quantity=held)
    subscription.refresh_from_db()
    with pytest.raises(ServiceError) as refused:
        licences.licence_assign(actor=link.cast.cloud_admin, user=user, subscription=subscription)
    assert subscription.friendly_name in str(refused.value) and "No seat left" in str(refused.value)
    assert not user.licences.exists() and not LicenceChange.objects.filter(user=user).exists()
    with pytest.raises(ServiceError):
        licences.licence_assign(actor=link.cast.read_only, user=user, subscription=subscription)


def test_a_vendor_outage_is_retried_and_a_refusal_puts_the_licence_back(imported, world, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    change = licences.licence_assign(
        actor=link.cast.cloud_admin, user=user, subscription=subscription
    )
    path = f"/v1/customers/{user.tenant.vendor_customer_id}/users/{user.vendor_user_id}"
    world.admin.set_faults(
        script=[{"method": "POST", "path": f"{path}/licenseupdates", "status": 503, "times": 5}]
    )
    try:
        assert licences.run_change(change.pk, provider_factory=link.provider) == "retrying"
    finally:
        world.admin.reset_faults()
    change.refresh_from_db()
    assert change.state == "pending" and change.next_attempt_at > clock.now()
    # The sweep picks it up once its retry falls due, not before.
    assert change.pk not in licences.due_change_ids(clock.now())
    assert change.pk in licences.due_change_ids(change.next_attempt_at)
    assert licences.run_change(change.pk, provider_factory=link.provider) == "busy"
    # The user is deleted at the vendor meanwhile: the vendor refuses for good.
    _vendor(world, "DELETE", path)
    LicenceChange.objects.filter(pk=change.pk).update(next_attempt_at=clock.now())
    assert licences.run_change(change.pk, provider_factory=link.provider) == "failed"
    user.refresh_from_db()
    assert not user.licences.exists()
    assert user.sync_status == SyncStatus.FAILED


def test_licence_page_gives_and_takes_back(imported, client, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    sign_in(client, link.cast.cloud_admin.username)
    url = reverse("user_licences", args=[user.customer_id, user.pk])
    page = client.get(url).content.decode()
    assert f'data-subscription="{subscription.pk}"' in page
    answer = client.post(
        reverse("user_licence_assign", args=[user.customer_id, user.pk]),
        {"subscription": subscription.pk},
    )
    assert answer.status_code == 302
    held = user.licences.get()
    assert str(held.sku) in client.get(url).content.decode()
    client.post(reverse("user_licence_remove", args=[user.customer_id, user.pk, held.pk]))
    assert not user.licences.exists()
    sign_in(client, link.cast.reseller_admin.username)
    assert client.get(url).status_code == 404


def test_the_api_lists_syncs_gives_and_takes_back_scoped(imported, by_hand):
    link, tenants = imported
    user, subscription = _seat_to_give(tenants)
    api = api_as(link.cast.cloud_admin)
    base = f"/api/v1/customers/{user.customer_id}/users/"
    listed = api.get(base, {"q": user.user_principal_name})
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [row["user_principal_name"] for row in rows] == [user.user_principal_name]
    assert api.get(base, {"show": "nonsense"}).status_code == 400
    first = api.post(
        f"{base}{user.pk}/licences/",
        {"subscription": subscription.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="give-1",
    )
    again = api.post(
        f"{base}{user.pk}/licences/",
        {"subscription": subscription.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="give-1",
    )
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert user.licences.count() == 1
    licence = user.licences.get()
    taken = api.delete(f"{base}{user.pk}/licences/{licence.pk}/")
    assert taken.status_code == 202 and taken.json()["action"] == "remove"
    # The pending changes stand through a sync over the API.
    synced = api.post(f"{base}sync/")
    assert synced.status_code == 200 and synced.json()["created"] == 0
    assert api_as(link.cast.reseller_admin).get(base).status_code == 404


def test_a_sync_writes_page_by_page_and_the_next_one_finishes(imported, world, monkeypatch):
    link, tenants = imported
    tenant = tenants[1]
    customer_id = tenant.vendor_customer_id
    vendor_users = _vendor_users(world, tenant)
    assert len(vendor_users) >= 5
    # As on a first sync: nobody is known here yet.
    DirectoryUser.objects.filter(tenant=tenant).delete()
    monkeypatch.setattr(directory, "PAGE_SIZE", 2)
    # The licences of the third user (the second page) cannot be read.
    failing = vendor_users[2]["id"]
    world.admin.set_faults(
        script=[{"method": "GET", "path": f"*/users/{failing}/licenses", "status": 400}]
    )
    world.admin.clear_calls()
    try:
        with pytest.raises(ServiceError) as refused:
            _sync(link, tenant.customer)
    finally:
        world.admin.set_faults(reset=True)
    assert refused.value.code == "vendor_unavailable"
    assert "saved" in refused.value.message
    # The first page is written, with its licences; nothing of the second page or after.
    written = set(
        DirectoryUser.objects.filter(tenant=tenant).values_list("vendor_user_id", flat=True)
    )
    assert written == {vendor_users[0]["id"], vendor_users[1]["id"]}
    for vendor_user in vendor_users[:2]:
        held = _vendor(
            world, "GET", f"/v1/customers/{customer_id}/users/{vendor_user['id']}/licenses"
        )["items"]
        user = DirectoryUser.objects.get(tenant=tenant, vendor_user_id=vendor_user["id"])
        assert {x["productSku"]["id"].lower() for x in held} == set(
            user.licences.values_list("sku__sku_id", flat=True)
        )
    assert ActivityRecord.objects.filter(
        operation="users.sync_cut_short", organisation=tenant.customer, details__created=2
    ).exists()

    world.admin.clear_calls()
    counts = _sync(link, tenant.customer)
    # Everyone the first sync did not reach (active, and deleted ones listed apart).
    assert counts["created"] == DirectoryUser.objects.filter(tenant=tenant).count() - 2
    assert counts["unchanged"] == 2
    assert counts["removed"] == 0
    ours = DirectoryUser.objects.filter(tenant=tenant, status=UserStatus.ACTIVE)
    assert sorted(ours.values_list("vendor_user_id", flat=True)) == sorted(
        u["id"] for u in vendor_users
    )
    # Read two users at a time: one listing call per page (and one for the deleted users).
    listings = [
        call
        for call in world.admin.calls(method="GET")
        if call["path"].rstrip("/").endswith(f"/customers/{customer_id}/users")
    ]
    assert len(listings) >= -(-len(vendor_users) // 2)
