"""Members and bulk provisioning over the REST API, scoped like the pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from seatkeeper.people.models import Member
from seatkeeper.people.tests.members_world import rainbow_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def rainbow(cast, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    return rainbow_world(cast, business=1, enterprise=1, recording=1, attendant=1)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_members_created_given_seats_refused_and_deleted(cast, rainbow):
    api = _api(cast.reseller_admin)
    base = f"/api/v1/customers/{cast.customer.pk}/members/{rainbow.vendor.pk}/"
    created = api.post(
        base,
        {
            "user_name": "ada@customer.example",
            "display_name": "Ada",
            "email": "ada@mail.example",
            "subscriptions": [rainbow.business.pk, rainbow.recording.pk],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert created.status_code == 201, created.json()
    assert {seat["name"] for seat in created.json()["seats"]} == {"Business", "Recording"}
    second = api.post(
        base,
        {
            "user_name": "bob@customer.example",
            "display_name": "Bob",
            "email": "b@mail.example",
            "subscriptions": [rainbow.business.pk],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert second.status_code == 400
    assert "No seat left in Business" in second.json()["message"]
    assert not Member.objects.filter(user_name="bob@customer.example").exists()
    ada = created.json()["id"]
    seats = api.put(
        f"{base}{ada}/seats/", {"subscriptions": [rainbow.enterprise.pk]}, format="json"
    )
    assert [seat["name"] for seat in seats.json()["seats"]] == ["Enterprise"]
    assert api.get(base).json()["count"] == 1
    assert api.delete(f"{base}{ada}/").status_code == 204
    assert _api(cast.outsider).get(base).status_code == 404


def test_a_file_previewed_applied_and_applied_again_answers_409(cast, rainbow):
    api = _api(cast.reseller_admin)
    base = f"/api/v1/customers/{cast.customer.pk}/members/{rainbow.vendor.pk}/imports/"
    upload = SimpleUploadedFile(
        "m.csv",
        b"user_name,display_name,email,service\nada@customer.example,Ada,a@x.io,Business\n",
    )
    preview = api.post(base, {"file": upload}, format="multipart", HTTP_IDEMPOTENCY_KEY="f-1")
    assert preview.status_code == 201, preview.json()
    assert preview.json()["counts"] == {"create": 1}
    assert not Member.objects.exists()
    applied = api.post(f"{base}{preview.json()['id']}/apply/")
    assert applied.json()["counts"] == {"create": 1}
    lines = api.get(f"{base}{preview.json()['id']}/lines/").json()["results"]
    assert lines[0]["outcome"] == "create"
    assert api.post(f"{base}{preview.json()['id']}/apply/").status_code == 409
    read_only = _api(cast.read_only)
    assert read_only.post(f"{base}{preview.json()['id']}/apply/").status_code == 403
