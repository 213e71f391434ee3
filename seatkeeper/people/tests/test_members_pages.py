"""Members and bulk provisioning pages, and the users list's bulk licences, scoped like the
rest: another reseller's customer answers 404."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from seatkeeper.people import bulk
from seatkeeper.people.models import LicenceChange, Member, MemberImport, UserLicence
from seatkeeper.people.tests.members_world import rainbow_world
from seatkeeper.people.tests.test_seat_property import tenant_pool  # noqa: F401
from seatkeeper.subscriptions.tests.conftest import shop  # noqa: F401

pytestmark = pytest.mark.django_db

FILE = (
    "user_name,display_name,email,service,options\n"
    "ada@customer.example,Ada,ada@mail.example,Business,Recording\n"
    "bob@customer.example,Bob,bob@mail.example,Platinum,\n"
)


@pytest.fixture
def rainbow(cast, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    return rainbow_world(cast)


def test_upload_preview_apply_and_result_file(cast, rainbow, client):
    client.force_login(cast.reseller_admin)
    members_url = reverse("vendor_members", args=[cast.customer.pk, rainbow.vendor.pk])
    page = client.get(members_url)
    assert page.status_code == 200 and b"Bulk provisioning" in page.content
    upload = SimpleUploadedFile("members.csv", FILE.encode(), content_type="text/csv")
    answer = client.post(
        reverse("member_import_upload", args=[cast.customer.pk, rainbow.vendor.pk]),
        {"file": upload},
    )
    member_import = MemberImport.objects.get()
    assert answer.status_code == 302
    preview = client.get(answer["Location"])
    assert b"Unknown subscription: Platinum" in preview.content
    assert not Member.objects.exists()
    client.post(
        reverse("member_import_apply", args=[cast.customer.pk, rainbow.vendor.pk, member_import.pk])
    )
    assert list(Member.objects.values_list("user_name", flat=True)) == ["ada@customer.example"]
    result = client.get(answer["Location"] + "?export=xlsx")
    sheet = load_workbook(io.BytesIO(result.content)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[1][:3] == [2, "ada@customer.example", "Create"]
    assert rows[2][2] == "Error"
    exported = b"".join(client.get(members_url + "?export=csv").streaming_content).decode()
    assert "ada@customer.example,Ada,,,ada@mail.example,,Business,Recording," in exported


def test_another_resellers_staff_and_read_only_logins(cast, rainbow, client):
    members_url = reverse("vendor_members", args=[cast.customer.pk, rainbow.vendor.pk])
    client.force_login(cast.outsider)
    assert client.get(members_url).status_code == 404
    client.force_login(cast.read_only)
    assert client.get(members_url).status_code == 200
    upload = SimpleUploadedFile("members.csv", FILE.encode(), content_type="text/csv")
    client.post(
        reverse("member_import_upload", args=[cast.customer.pk, rainbow.vendor.pk]),
        {"file": upload},
    )
    assert not MemberImport.objects.exists()


def test_users_list_gives_a_licence_to_ticked_users_and_reports_refusals(
    cast,
    tenant_pool,  # noqa: F811
    client,
):
    subscriptions, _vendor = tenant_pool
    from seatkeeper.people.models import DirectoryUser

    users = list(DirectoryUser.objects.order_by("vendor_user_id"))
    client.force_login(cast.reseller_admin)
    page = client.get(reverse("customer_users", args=[cast.customer.pk]))
    assert b'form="bulk-licences"' in page.content
    answer = client.post(
        reverse("users_bulk_licences", args=[cast.customer.pk]),
        {"users": [u.pk for u in users], "subscription": subscriptions[0].pk, "action": "assign"},
        follow=True,
    )
    # Three seats in the pool: three users get one, the two others are told why not.
    assert UserLicence.objects.count() == 3
    assert LicenceChange.objects.filter(action="assign").count() == 3
    assert answer.content.count(b"No seat left in Office A") == 2
    client.post(
        reverse("users_bulk_licences", args=[cast.customer.pk]),
        {"users": [users[0].pk], "subscription": subscriptions[0].pk, "action": "remove"},
    )
    assert UserLicence.objects.count() == 2
    workbook = client.get(reverse("customer_users", args=[cast.customer.pk]) + "?export=xlsx")
    rows = list(
        load_workbook(io.BytesIO(workbook.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert len(rows) == 1 + len(users)
    assert bulk.user_rows([])  # the header alone is a valid export
