"""A preview of a first discovery: it reads the vendor and reports what applying it would
create, update and assign, writes nothing else, and a person's Confirm applies it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts import services as accounts_services
from seatkeeper.accounts.models import Organisation
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.billing.models import ProviderInvoice
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict
from seatkeeper.discovery import services
from seatkeeper.discovery.models import Assignment, RunState, VendorState
from seatkeeper.people.models import DirectoryUser, UserLicence
from seatkeeper.subscriptions.models import Operation, SeatLot, Subscription, Tenant

pytestmark = pytest.mark.django_db

DOMAIN = (
    Organisation,
    Tenant,
    Subscription,
    SeatLot,
    Operation,
    VendorState,
    Assignment,
    DirectoryUser,
    UserLicence,
    ProviderInvoice,
)


def _domain_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in DOMAIN}
    # what the run writes about itself (start, completion) is not the world's
    counts["activity"] = ActivityRecord.objects.exclude(operation__startswith="discovery.").count()
    return counts


def _preview(connected):
    run = services.run_start(actor=connected.cast.operator, account=connected.account,
                             enqueue=False, preview=True)  # fmt: skip
    with connected.provider() as provider:
        return services.run_inline(run, provider=provider)


def _created(run) -> dict[str, int]:
    return {kind: counts["created"] for kind, counts in services.run_figures(run).counts.items()}


def test_a_preview_writes_nothing_and_confirm_applies_what_it_reported(connected):
    vendor_customers = connected.vendor_customers()
    before = _domain_counts()

    preview = _preview(connected)

    assert preview.state == RunState.COMPLETED and preview.preview
    assert _domain_counts() == before
    predicted = _created(preview)
    assert predicted["customers"] == len(vendor_customers)
    assert predicted["subscriptions"] == connected.vendor_subscription_count()
    assert predicted["users"] > 0 and predicted["invoices"] > 0
    reported = preview.customers.filter(report__customer="create")
    assert reported.count() == len(vendor_customers)

    applied = services.run_confirm(actor=connected.cast.operator, run=preview, enqueue=False)
    with connected.provider() as provider:
        applied = services.run_inline(applied, provider=provider)

    assert applied.state == RunState.COMPLETED and not applied.preview
    preview.refresh_from_db()
    assert preview.confirmed_run_id == applied.pk
    assert _created(applied) == predicted
    assert Tenant.objects.filter(account=connected.account).count() == len(vendor_customers)
    assert Subscription.objects.count() == predicted["subscriptions"]
    assert Assignment.objects.count() == reported.count()
    assert ActivityRecord.objects.filter(operation="discovery.confirm").count() == 1
    # once only
    with pytest.raises(Conflict):
        services.run_confirm(actor=connected.cast.operator, run=preview, enqueue=False)
    # an applied run is not a preview to confirm
    with pytest.raises(Conflict):
        services.run_confirm(actor=connected.cast.operator, run=applied, enqueue=False)


def test_a_preview_after_a_discovery_reports_updates_not_creations(connected):
    connected.discover()
    subscription = Subscription.objects.filter(status="active", parent__isnull=True).first()
    with connected.provider() as provider:
        from seatkeeper.providers import interface as vendor

        provider.update_subscription(
            customer_id=subscription.tenant.vendor_customer_id,
            subscription_id=subscription.vendor_subscription_id,
            change=vendor.SubscriptionUpdate(quantity=subscription.quantity + 1),
        )
    rows = sorted(Subscription.objects.values_list("pk", "quantity", "version"))
    before = _domain_counts()
    clock.sleep(60)  # the preview comes a minute after the discovery

    preview = _preview(connected)

    counts = services.run_figures(preview).counts
    assert counts["subscriptions"]["updated"] == 1
    assert counts["customers"]["created"] == 0
    assert _domain_counts() == before
    assert sorted(Subscription.objects.values_list("pk", "quantity", "version")) == rows
    # previews never set the schedule's "since": an incremental run after one is still full
    incremental = services.run_start(actor=None, account=connected.account, enqueue=False,
                                     incremental=True)  # fmt: skip
    assert incremental.since is not None and incremental.since < preview.started_at


def test_the_preview_page_shows_the_report_and_confirm_starts_the_run(connected, client):
    preview = _preview(connected)
    client.force_login(connected.cast.operator)

    page = client.get(f"/discovery/runs/{preview.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="preview"' in html and 'id="confirm-preview"' in html
    some = preview.customers.filter(report__customer="create").first()
    assert some.vendor_customer_id in html
    before = _domain_counts()
    confirmed = client.post(f"/discovery/runs/{preview.pk}/confirm/")
    assert confirmed.status_code == 302
    preview.refresh_from_db()
    assert confirmed.url.endswith(f"/discovery/runs/{preview.confirmed_run_id}/")
    assert _domain_counts() == before  # the applying run is queued, not run by the page
    # other partners' people do not see it
    client.force_login(connected.cast.outsider)
    assert client.get(f"/discovery/runs/{preview.pk}/").status_code == 404
    assert client.post(f"/discovery/runs/{preview.pk}/confirm/").status_code == 404


def _api(user) -> APIClient:
    _token, plain = accounts_services.api_token_create(actor=user, name="tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return api


def test_preview_and_confirm_over_the_api(connected):
    api = _api(connected.cast.operator)
    started = api.post(
        "/api/v1/discovery-runs/",
        {"account": connected.account.pk, "preview": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="preview-1",
    )
    assert started.status_code == 201, started.content
    assert started.json()["preview"] is True and started.json()["confirmed_run"] is None
    run = connected.account.discovery_runs.get(pk=started.json()["id"])
    # not completed yet: nothing to confirm
    assert api.post(f"/api/v1/discovery-runs/{run.pk}/confirm/").status_code == 409
    with connected.provider() as provider:
        services.run_inline(run, provider=provider)

    confirmed = api.post(
        f"/api/v1/discovery-runs/{run.pk}/confirm/", HTTP_IDEMPOTENCY_KEY="confirm-1"
    )

    assert confirmed.status_code == 201, confirmed.content
    body = confirmed.json()
    assert body["preview"] is False and body["id"] != run.pk
    assert api.get(f"/api/v1/discovery-runs/{run.pk}/").json()["confirmed_run"] == body["id"]
    # the same key again: the same answer, no third run
    again = api.post(f"/api/v1/discovery-runs/{run.pk}/confirm/", HTTP_IDEMPOTENCY_KEY="confirm-1")
    assert again.json()["id"] == body["id"]
    assert api.post(f"/api/v1/discovery-runs/{run.pk}/confirm/").status_code == 409
    outsider = _api(connected.cast.outsider)
    assert outsider.post(f"/api/v1/discovery-runs/{run.pk}/confirm/").status_code == 404
