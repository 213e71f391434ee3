"""Bulk provisioning of a manual vendor's members: preview, apply, result, idempotence."""

from __future__ import annotations

import io

import pytest
from django.core import mail

from seatkeeper.core.errors import ServiceError
from seatkeeper.people import bulk, members
from seatkeeper.people.models import ImportAction, Member, MemberImportLine
from seatkeeper.people.tests.members_world import rainbow_world

pytestmark = pytest.mark.django_db

HEADER = "user_name,display_name,first_name,last_name,email,password,service,options,action\n"


@pytest.fixture
def rainbow(cast, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    world = rainbow_world(cast, business=2, enterprise=1, recording=2, attendant=1)
    members.member_create(
        actor=None,
        customer=cast.customer,
        vendor=world.vendor,
        values={"user_name": "old@customer.example", "display_name": "Old", "email": "o@x.io"},
        subscriptions=[world.enterprise],
    )
    return world


def _preview(cast, rainbow, text: str, name="members.csv"):
    return bulk.member_import_preview(
        actor=cast.reseller_admin,
        customer=cast.customer,
        vendor=rainbow.vendor,
        file_name=name,
        stream=io.BytesIO(text.encode()),
    )


def _lines(member_import):
    return {
        line.user_name: (line.action, line.message, line.outcome)
        for line in MemberImportLine.objects.filter(member_import=member_import)
    }


FILE = HEADER + (
    "ada@customer.example,Ada Lovelace,Ada,Lovelace,ada@mail.example,,Business,Recording,\n"
    "bob@customer.example,Bob,,,bob@mail.example,weak,Business,,\n"
    "cy@customer.example,Cy,,,cy@mail.example,,Platinum,,\n"
    "dee@customer.example,Dee,,,dee@mail.example,,Enterprise,,\n"
    "ada@customer.example,Ada again,,,ada@mail.example,,,,\n"
    "old@customer.example,Old,,,,,,,delete\n"
    "eve@customer.example,Eve,,,eve@mail.example,Str0ng!Pass,UC-BUS,,\n"
    "fay@customer.example,Fay,,,fay@mail.example,,,Attendant,\n"
    "gus@customer.example,Gus,,,gus@mail.example,,,Attendant,\n"
)


def test_the_preview_says_what_each_line_will_do_and_changes_nothing(cast, rainbow):
    member_import = _preview(cast, rainbow, FILE)
    lines = _lines(member_import)
    assert lines["ada@customer.example"][0] == ImportAction.ERROR  # the duplicate wins no line
    assert "already on an earlier line" in lines["ada@customer.example"][1]
    by_number = {
        line.number: line for line in MemberImportLine.objects.filter(member_import=member_import)
    }
    assert by_number[2].action == ImportAction.CREATE
    assert by_number[3].action == ImportAction.ERROR and "Password refused" in by_number[3].message
    assert "Unknown subscription: Platinum" in by_number[4].message
    # Enterprise's one seat is Old's until line 7 deletes Old: the file says what members
    # hold whatever the order of its lines, so line 5 gets it. Attendant's one seat goes to
    # line 9, and line 10 finds none left.
    assert by_number[5].action == ImportAction.CREATE
    assert by_number[7].action == ImportAction.DELETE
    assert by_number[8].action == by_number[9].action == ImportAction.CREATE
    assert "No seat left in Attendant: 1 of 1" in by_number[10].message
    assert member_import.counts == {"create": 4, "error": 4, "delete": 1}
    assert list(Member.objects.values_list("user_name", flat=True)) == ["old@customer.example"]
    # A typed password is kept encrypted until the apply, never in clear.
    assert "Str0ng" not in by_number[8].secret


def test_apply_does_each_valid_line_completely_and_twice_changes_nothing(
    cast, rainbow, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        applied = bulk.member_import_apply(
            actor=cast.reseller_admin, member_import=_preview(cast, rainbow, FILE)
        )
    assert applied.counts == {"create": 4, "error": 4, "delete": 1}
    assert Member.objects.get(user_name="dee@customer.example").seats.get().subscription_id == (
        rainbow.enterprise.pk
    )
    ada = Member.objects.get(user_name="ada@customer.example")
    assert {seat.subscription.friendly_name for seat in ada.seats.all()} == {
        "Business",
        "Recording",
    }
    assert not Member.objects.filter(user_name="old@customer.example").exists()
    assert {message.to[0] for message in mail.outbox} == {
        "ada@mail.example",
        "dee@mail.example",
        "eve@mail.example",
        "fay@mail.example",
    }
    assert all("Str0ng!Pass" not in message.body for message in mail.outbox)
    assert not MemberImportLine.objects.exclude(secret="").exists()
    result = list(bulk.result_rows(applied))
    assert result[0] == ["line", "user_name", "outcome", "details"]
    assert [row[2] for row in result[1:]] == [
        "Create", "Error", "Error", "Create", "Error", "Delete", "Create", "Create", "Error",
    ]  # fmt: skip

    sent = len(mail.outbox)
    again = bulk.member_import_apply(
        actor=cast.reseller_admin, member_import=_preview(cast, rainbow, FILE)
    )
    outcomes = {line.number: line.outcome for line in again.lines.all()}
    assert outcomes[2] == outcomes[5] == outcomes[7] == outcomes[9] == ImportAction.NONE
    assert ImportAction.CREATE not in again.counts and ImportAction.UPDATE not in again.counts
    assert len(mail.outbox) == sent


def test_the_export_imports_back_as_no_change_and_edits_are_updates(cast, rainbow):
    members.member_create(
        actor=None,
        customer=cast.customer,
        vendor=rainbow.vendor,
        values={"user_name": "ada@customer.example", "display_name": "Ada", "email": "a@x.io"},
        subscriptions=[rainbow.business, rainbow.recording],
    )
    exported = "".join(bulk.csv_lines(bulk.member_rows(cast.customer, rainbow.vendor)))
    assert "ada@customer.example,Ada,,,a@x.io,,Business,Recording," in exported
    assert _preview(cast, rainbow, exported).counts == {"none": 2}
    edited = exported.replace("Ada,,,a@x.io,,Business,Recording", "Ada L,,,a@x.io,,Business,")
    member_import = _preview(cast, rainbow, edited)
    assert member_import.counts == {"none": 1, "update": 1}
    bulk.member_import_apply(actor=cast.reseller_admin, member_import=member_import)
    ada = Member.objects.get(user_name="ada@customer.example")
    assert ada.display_name == "Ada L"
    assert [seat.subscription.friendly_name for seat in ada.seats.all()] == ["Business"]


def test_an_xlsx_file_is_read_like_a_csv(cast, rainbow):
    rows = [line.split(",") for line in FILE.strip().split("\n")]
    data = bulk.xlsx_bytes(rows, "members")
    member_import = bulk.member_import_preview(
        actor=cast.reseller_admin,
        customer=cast.customer,
        vendor=rainbow.vendor,
        file_name="members.xlsx",
        stream=io.BytesIO(data),
    )
    assert member_import.counts == {"create": 4, "error": 4, "delete": 1}


def test_a_line_refused_at_apply_time_leaves_nothing_behind(cast, rainbow):
    member_import = _preview(
        cast,
        rainbow,
        HEADER + "ada@customer.example,Ada,,,ada@mail.example,,Business,Recording,\n",
    )
    # Between preview and apply, someone takes the seats of Recording.
    rainbow.recording.quantity = 0
    rainbow.recording.save(update_fields=["quantity"])
    applied = bulk.member_import_apply(actor=cast.reseller_admin, member_import=member_import)
    line = applied.lines.get()
    assert (
        line.outcome == ImportAction.ERROR and "No seat left in Recording" in line.outcome_message
    )
    assert not Member.objects.filter(user_name="ada@customer.example").exists()
    with pytest.raises(ServiceError, match="applied already"):
        bulk.member_import_apply(actor=cast.reseller_admin, member_import=member_import)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("name,email\nx,y\n", "needs the columns"),
        (HEADER, "no lines"),
        ("user_name\n\xff\n", "UTF-8"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(cast, rainbow, text, message):
    with pytest.raises(ServiceError, match=message):
        bulk.member_import_preview(
            actor=cast.reseller_admin,
            customer=cast.customer,
            vendor=rainbow.vendor,
            file_name="x.csv",
            stream=io.BytesIO(text.encode("latin-1")),
        )
