"""Discovery runs over the API: scoped like the pages, a keyed start, stop and resume."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts import services as accounts_services
from seatkeeper.core import clock
from seatkeeper.discovery.models import DiscoveryRun, RunState
from seatkeeper.providers.tests.factories import provider_account

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    _token, plain = accounts_services.api_token_create(actor=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return client


@pytest.fixture
def account(cast):
    account = provider_account(organisation=cast.partner, refresh_token="consented")
    account.consent_granted_at = clock.now()
    account.save()
    return account


def test_start_stop_resume_and_read_a_run(cast, account):
    api = _api(cast.operator)

    created = api.post(
        "/api/v1/discovery-runs/",
        {"account": account.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="start-1",
    )
    assert created.status_code == 201, created.content
    run_id = created.json()["id"]
    assert created.json()["state"] == RunState.IN_PROGRESS
    # The same key again: the first answer, no second run.
    again = api.post(
        "/api/v1/discovery-runs/",
        {"account": account.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="start-1",
    )
    assert again.json()["id"] == run_id
    assert DiscoveryRun.objects.count() == 1
    # Another start while one runs is a conflict.
    assert (
        api.post("/api/v1/discovery-runs/", {"account": account.pk}, format="json").status_code
        == 409
    )

    stopped = api.post(f"/api/v1/discovery-runs/{run_id}/stop/")
    assert stopped.status_code == 200 and stopped.json()["state"] == RunState.STOPPED
    resumed = api.post(f"/api/v1/discovery-runs/{run_id}/resume/")
    assert resumed.status_code == 200 and resumed.json()["state"] == RunState.IN_PROGRESS

    listed = api.get("/api/v1/discovery-runs/").json()
    assert [row["id"] for row in listed["results"]] == [run_id]
    detail = api.get(f"/api/v1/discovery-runs/{run_id}/").json()
    assert set(detail["counts"]) >= {"customers", "subscriptions"}


def test_other_people_get_404_and_bad_input_400(cast, account):
    run = DiscoveryRun.objects.create(account=account, trigger="person", state="in_progress")
    for user in (cast.reseller_admin, cast.outsider):
        api = _api(user)
        assert api.get(f"/api/v1/discovery-runs/{run.pk}/").status_code == 404
        assert api.post(f"/api/v1/discovery-runs/{run.pk}/stop/").status_code == 404
        assert (
            api.post("/api/v1/discovery-runs/", {"account": account.pk}, format="json").status_code
            == 404
        )
    api = _api(cast.operator)
    assert api.post("/api/v1/discovery-runs/", {"account": 2**64}, format="json").status_code == 400
