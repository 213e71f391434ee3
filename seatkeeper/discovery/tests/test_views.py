"""The discovery pages: partner staff only, live progress, Stop / Resume, assignment, French."""

from __future__ import annotations

import pytest

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.discovery import assignments, services
from seatkeeper.discovery.models import CustomerState, DiscoveryRun, RunCustomer, RunState
from seatkeeper.providers.tests.factories import provider_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(cast):
    account = provider_account(organisation=cast.partner, refresh_token="consented")
    account.consent_granted_at = clock.now()
    account.save()
    return account


def _run(account, *, done: int = 1, total: int = 3) -> DiscoveryRun:
    run = services.run_start(actor=None, account=account, enqueue=False)
    DiscoveryRun.objects.filter(pk=run.pk).update(listed=True, partner_done=True, listing_calls=1)
    for number in range(total):
        RunCustomer.objects.create(
            run=run,
            vendor_customer_id=f"tenant-{number}",
            company_name=f"Company {number}",
            state=CustomerState.DONE if number < done else CustomerState.PENDING,
            counts={"subscriptions": {"created": 4, "updated": 0, "unchanged": 1, "removed": 0}}
            if number < done
            else {},
            calls=3 if number < done else 0,
        )
    run.refresh_from_db()
    return run


def test_the_account_page_offers_discovery_after_registration(client, cast, account):
    sign_in(client, "cloudadmin")
    page = client.get(f"/providers/{account.pk}/?registered=1").content.decode()
    assert 'id="offer-discovery"' in page
    assert 'id="trigger-discovery"' in page

    response = client.post(f"/discovery/accounts/{account.pk}/start/")

    run = DiscoveryRun.objects.get(account=account)
    assert response.status_code == 302 and response.url == f"/discovery/runs/{run.pk}/"
    assert run.started_by == cast.cloud_admin and run.state == RunState.IN_PROGRESS


def test_the_run_page_shows_live_progress_and_stop_then_resume(client, cast, account):
    run = _run(account)
    sign_in(client, "operator")
    page = client.get(f"/discovery/runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page  # polled while in progress
    fragment = client.get(f"/discovery/runs/{run.pk}/progress/").content.decode()
    assert "1 of 3" in fragment
    assert 'id="subscriptions-imported">5<' in fragment
    assert 'id="calls">4<' in fragment
    assert 'id="stop-run"' in fragment

    client.post(f"/discovery/runs/{run.pk}/stop/")
    run.refresh_from_db()
    assert run.state == RunState.STOPPED
    fragment = client.get(f"/discovery/runs/{run.pk}/progress/").content.decode()
    assert "hx-trigger" not in fragment and 'id="resume-run"' in fragment

    client.post(f"/discovery/runs/{run.pk}/resume/")
    run.refresh_from_db()
    assert run.state == RunState.IN_PROGRESS


def test_the_history_lists_every_run_with_its_figures(client, cast, account):
    run = _run(account, done=3, total=3)
    services.complete_if_done(run.pk)
    sign_in(client, "cloudadmin")
    page = client.get("/discovery/").content.decode()
    assert f'data-run="{run.pk}"' in page
    assert "Completed" in page and "✔" in page
    assert "Subscriptions: 12 / 0 / 3 / 0" in page


def test_people_outside_the_partner_staff_see_nothing(client, cast, account):
    run = _run(account)
    for username in ("reselleradmin", "customeradmin", "outsider"):
        client.logout()
        sign_in(client, username)
        # Another partner's cloud admin has a discovery page of its own, without this run.
        assert client.get("/discovery/").status_code == (200 if username == "outsider" else 404)
        assert client.get(f"/discovery/runs/{run.pk}/").status_code == 404
        assert client.get(f"/discovery/runs/{run.pk}/progress/").status_code == 404
        assert client.post(f"/discovery/runs/{run.pk}/stop/").status_code == 404
        assert client.post(f"/discovery/accounts/{account.pk}/start/").status_code == 404
    run.refresh_from_db()
    assert run.state == RunState.IN_PROGRESS


def test_unassigned_customers_are_assigned_one_by_one_and_in_bulk(client, cast, account):
    run = _run(account)
    waiting = []
    for number in range(3):
        customer = cast.direct_customer if number == 0 else None
        if customer is None:
            from seatkeeper.accounts import services as accounts_services
            from seatkeeper.conftest import company

            customer = accounts_services.organisation_create(
                actor=None, parent=cast.partner, kind="customer", **company(f"Found {number}")
            )
        waiting.append(
            assignments.discovered(
                customer=customer, account=account, vendor_reseller_id="", run=run
            )
        )
    sign_in(client, "operator")
    page = client.get("/discovery/unassigned/").content.decode()
    assert all(f'data-assignment="{a.pk}"' in page for a in waiting)

    client.post(f"/discovery/unassigned/{waiting[0].pk}/assign/", {"reseller": cast.reseller.pk})
    cast.direct_customer.refresh_from_db()
    assert cast.direct_customer.parent_id == cast.reseller.pk

    client.post(
        "/discovery/unassigned/assign/",
        {"reseller": cast.reseller_two.pk, "assignment": [waiting[1].pk, waiting[2].pk]},
    )
    for assignment in waiting[1:]:
        assignment.customer.refresh_from_db()
        assert assignment.customer.parent_id == cast.reseller_two.pk
    assert "No customer is waiting" in client.get("/discovery/unassigned/").content.decode()


def test_the_pages_read_in_french(client, cast, account):
    run = _run(account)
    cast.operator.language = "fr"
    cast.operator.save()
    sign_in(client, "operator")
    page = client.get(f"/discovery/runs/{run.pk}/").content.decode()
    assert "En cours" in page and "Appels" in page


def test_staff_set_the_schedule_of_an_account(client, cast, account):
    sign_in(client, "operator")
    assert f'data-schedule="{account.pk}"' in client.get("/discovery/").content.decode()

    client.post(f"/discovery/accounts/{account.pk}/schedule/", {"every_hours": "6"})

    schedule = services.schedule_for(account)
    assert (schedule.enabled, schedule.every_hours) == (False, 6)
    client.post(
        f"/discovery/accounts/{account.pk}/schedule/", {"every_hours": "7", "enabled": "on"}
    )
    assert services.schedule_for(account).every_hours == 6  # not one of the choices
