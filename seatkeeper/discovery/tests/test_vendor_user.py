"""A change adopted from the vendor names, in the subscription's history, the person Partner
Center's audit records say made it."""

from __future__ import annotations

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.discovery import services
from seatkeeper.discovery.models import RunMode, RunState
from seatkeeper.subscriptions.display import operation_details
from seatkeeper.subscriptions.models import Status, Subscription

pytestmark = pytest.mark.django_db


def _changed_by_a_person(connected, subscription, quantity: int) -> str:
    """A person signed in to Partner Center changes the quantity (their own token, not
    Seatkeeper's connector); returns their user principal name."""
    sandbox = connected.sandbox
    person = sandbox.admin.info()["agent_upn"]
    path = (
        f"/v1/customers/{subscription.tenant.vendor_customer_id}"
        f"/subscriptions/{subscription.vendor_subscription_id}"
    )
    with sandbox.client(sandbox.admin.access_token()) as http:
        current = http.get(path)
        current.raise_for_status()
        body = current.json()
        body["quantity"] = quantity
        http.patch(path, json=body).raise_for_status()
    return person


def test_a_change_at_the_vendor_is_recorded_with_the_person_who_made_it(connected, client):
    connected.discover()
    subscription = (
        Subscription.objects.filter(status=Status.ACTIVE, parent__isnull=True)
        .order_by("pk")
        .first()
    )
    person = _changed_by_a_person(connected, subscription, subscription.quantity + 1)

    run = connected.discover(incremental=True)

    assert run.state == RunState.COMPLETED and run.mode == RunMode.INCREMENTAL
    assert services.run_figures(run).counts["subscriptions"]["updated"] == 1
    refresh = subscription.operations.order_by("-sequence").first()
    assert refresh.payload["changed_at_vendor_by"] == person
    assert refresh.requested_by_name == person
    record = ActivityRecord.objects.filter(
        operation="subscription.refresh", object_id=str(subscription.pk)
    ).latest("pk")
    assert record.actor_name == person
    # The history reads it: the person, and that it was at the vendor.
    details = operation_details(refresh)
    assert person in details and "changed at the vendor by" in details
    client.force_login(connected.cast.cloud_admin)
    page = client.get(f"/subscriptions/{subscription.pk}/")
    assert page.status_code == 200
    assert person in page.content.decode()


def test_a_change_without_an_audited_person_keeps_seatkeeper_as_the_author(connected):
    # A full run reads no audit records: the change is adopted, its author unknown.
    connected.discover()
    subscription = (
        Subscription.objects.filter(status=Status.ACTIVE, parent__isnull=True)
        .order_by("pk")
        .first()
    )
    _changed_by_a_person(connected, subscription, subscription.quantity + 2)

    run = connected.discover()

    assert run.mode == RunMode.FULL
    refresh = subscription.operations.order_by("-sequence").first()
    assert refresh.payload["run"] == run.pk
    assert "changed_at_vendor_by" not in refresh.payload
    assert refresh.requested_by_name == "system"
