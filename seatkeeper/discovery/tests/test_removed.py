"""What a run no longer finds at the vendor is marked, counted "removed", and never deleted."""

from __future__ import annotations

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.discovery import services
from seatkeeper.discovery.models import GoneCustomer, RunState
from seatkeeper.people.models import DirectoryUser, UserLicence, UserStatus
from seatkeeper.subscriptions.models import Status, Subscription, Tenant

pytestmark = pytest.mark.django_db


def _removed(run) -> dict[str, int]:
    counts = services.run_figures(run).counts
    return {kind: outcomes["removed"] for kind, outcomes in counts.items()}


def _vendor(connected, method: str, path: str) -> None:
    token = connected.sandbox.admin.access_token()
    with connected.sandbox.client(token) as http:
        http.request(method, path).raise_for_status()


def test_a_subscription_cancelled_and_a_user_deleted_at_the_vendor_count_as_removed(connected):
    connected.discover()
    subscription = (
        Subscription.objects.filter(status=Status.ACTIVE, parent__isnull=True)
        .exclude(addons__isnull=False)
        .order_by("pk")
        .first()
    )
    user = (
        DirectoryUser.objects.filter(status=UserStatus.ACTIVE, licences__isnull=False)
        .order_by("pk")
        .first()
    )
    with connected.provider() as provider:
        provider.cancel_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
        )
    _vendor(
        connected,
        "DELETE",
        f"/v1/customers/{user.tenant.vendor_customer_id}/users/{user.vendor_user_id}",
    )

    run = connected.discover()

    assert run.state == RunState.COMPLETED
    removed = _removed(run)
    assert removed["subscriptions"] == 1
    assert removed["users"] == 1
    assert removed["customers"] == 0
    # marked, not deleted
    assert Subscription.objects.get(pk=subscription.pk).status == Status.CANCELLED
    gone_user = DirectoryUser.objects.get(pk=user.pk)
    assert gone_user.status == UserStatus.DELETED
    # a third run finds nothing more to remove
    assert set(_removed(connected.discover()).values()) == {0}


def test_a_customer_gone_from_the_vendor_is_marked_with_its_subscriptions_and_users(connected):
    connected.discover()
    tenant = (
        Tenant.objects.filter(
            subscriptions__status=Status.ACTIVE, directory_users__status=UserStatus.ACTIVE
        )
        .distinct()
        .order_by("-pk")
        .first()
    )
    live_subscriptions = Subscription.objects.filter(tenant=tenant).exclude(status=Status.CANCELLED)
    subscription_ids = set(live_subscriptions.values_list("pk", flat=True))
    user_ids = set(
        DirectoryUser.objects.filter(tenant=tenant, status=UserStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    others_before = Subscription.objects.exclude(tenant=tenant).filter(status=Status.ACTIVE).count()
    _vendor(connected, "DELETE", f"/v1/customers/{tenant.vendor_customer_id}")

    run = connected.discover()

    assert run.state == RunState.COMPLETED
    removed = _removed(run)
    assert removed["customers"] == 1
    assert removed["subscriptions"] == len(subscription_ids) > 0
    assert removed["users"] == len(user_ids) > 0
    gone = GoneCustomer.objects.get(tenant=tenant)
    assert gone.run_id == run.pk
    # Nothing deleted: the tenant, its customer and subscriptions stay, with their history.
    assert Tenant.objects.filter(pk=tenant.pk).exists()
    for subscription in Subscription.objects.filter(pk__in=subscription_ids):
        assert subscription.status == Status.CANCELLED
        last = subscription.operations.order_by("-sequence").first()
        assert last.payload["gone"] is True and last.payload["run"] == run.pk
    assert set(DirectoryUser.objects.filter(pk__in=user_ids).values_list("status", flat=True)) == {
        UserStatus.DELETED
    }
    assert not UserLicence.objects.filter(user_id__in=user_ids).exists()
    assert ActivityRecord.objects.filter(operation="customer.gone").count() == 1
    # the other customers are untouched
    assert Subscription.objects.exclude(tenant=tenant).filter(status=Status.ACTIVE).count() == (
        others_before
    )
    # a further run removes nothing twice
    again = connected.discover()
    assert set(_removed(again).values()) == {0}
    assert GoneCustomer.objects.count() == 1
