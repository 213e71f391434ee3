"""Members of a manual vendor: one service at most, compatible options, one seat each."""

from __future__ import annotations

import pytest
from django.core import mail

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.people import members
from seatkeeper.people.models import Member, MemberSeat
from seatkeeper.people.tests.members_world import rainbow_world
from seatkeeper.subscriptions import selectors as subscription_selectors
from seatkeeper.subscriptions import services as subscription_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def rainbow(cast, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    return rainbow_world(cast)


def _member(cast, rainbow, name="ada", subscriptions=(), actor=None):
    return members.member_create(
        actor=actor or cast.reseller_admin,
        customer=cast.customer,
        vendor=rainbow.vendor,
        values={
            "user_name": f"{name}@customer.example",
            "display_name": name.title(),
            "email": f"{name}@mail.example",
        },
        subscriptions=subscriptions,
    )


def test_a_member_gets_a_service_and_a_compatible_option_and_the_seats_show(
    cast, rainbow, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ada = _member(cast, rainbow, subscriptions=[rainbow.business, rainbow.recording])
    held = {seat.subscription_id for seat in ada.seats.all()}
    assert held == {rainbow.business.pk, rainbow.recording.pk}
    assigned = subscription_selectors.assigned_by_subscription(
        [rainbow.business, rainbow.recording, rainbow.enterprise]
    )
    assert assigned == {rainbow.business.pk: 1, rainbow.recording.pk: 1, rainbow.enterprise.pk: 0}
    members_list = subscription_selectors.subscription_members(rainbow.business)
    assert [seat.user.display_name for seat in members_list] == ["Ada"]
    # The password reaches the address given through a one-time link, never in clear.
    assert mail.outbox[-1].to == ["ada@mail.example"]
    assert "/password-link/" in mail.outbox[-1].body
    assert ActivityRecord.objects.filter(operation="member.created", object_id=str(ada.pk)).exists()


def test_two_services_or_an_option_without_its_service_are_refused(cast, rainbow):
    with pytest.raises(ServiceError, match="one service at most"):
        _member(cast, rainbow, subscriptions=[rainbow.business, rainbow.enterprise])
    with pytest.raises(ServiceError, match="needs one of the services"):
        _member(cast, rainbow, subscriptions=[rainbow.recording])
    # Nothing half-written: the refused creations left no member.
    assert not Member.objects.exists()
    # An application without base offers goes with any service, or none.
    _member(cast, rainbow, subscriptions=[rainbow.attendant])


def test_no_seat_left_is_refused_naming_the_subscription(cast, rainbow):
    _member(cast, rainbow, "ada", subscriptions=[rainbow.enterprise])
    bob = _member(cast, rainbow, "bob", subscriptions=[rainbow.business])
    with pytest.raises(ServiceError, match="No seat left in Enterprise: 1 of 1") as refused:
        members.member_seat_assign(
            actor=cast.reseller_admin, member=bob, subscription=rainbow.enterprise
        )
    assert refused.value.code == "no_seat_left"
    assert {s.subscription_id for s in bob.seats.all()} == {rainbow.business.pk}


def test_changing_plan_keeps_options_that_still_fit_and_removing_it_drops_them(cast, rainbow):
    ada = _member(cast, rainbow, subscriptions=[rainbow.business, rainbow.recording])
    rainbow.enterprise.refresh_from_db()
    members.member_seat_assign(
        actor=cast.reseller_admin, member=ada, subscription=rainbow.enterprise
    )
    assert {s.subscription_id for s in ada.seats.all()} == {
        rainbow.enterprise.pk,
        rainbow.recording.pk,
    }
    members.member_seat_remove(
        actor=cast.reseller_admin, seat=ada.seats.get(subscription=rainbow.enterprise)
    )
    assert not ada.seats.exists()


def test_a_quantity_decrease_below_the_members_is_refused_with_their_names(cast, rainbow):
    _member(cast, rainbow, "ada", subscriptions=[rainbow.business])
    _member(cast, rainbow, "bob", subscriptions=[rainbow.business])
    with pytest.raises(ServiceError, match="Ada, Bob"):
        subscription_services.subscription_change_quantity(
            actor=cast.operator, subscription=rainbow.business, quantity=1
        )


def test_a_typed_password_is_checked_against_the_policy(cast, rainbow):
    with pytest.raises(ServiceError, match="Add a digit") as refused:
        members.member_create(
            actor=cast.reseller_admin,
            customer=cast.customer,
            vendor=rainbow.vendor,
            values={"user_name": "cy@customer.example", "display_name": "Cy", "email": "c@x.io"},
            password="Nodigits!here",
        )
    assert refused.value.field == "password"
    refusal = members.password_refusal("Lovelace26!", {"user_name": "ada.lovelace@x.io"})
    assert "lovelace" in refusal


def test_user_names_are_unique_per_vendor_and_deleting_frees_the_seat(cast, rainbow):
    ada = _member(cast, rainbow, "ada", subscriptions=[rainbow.enterprise])
    with pytest.raises(ServiceError, match="is taken"):
        _member(cast, rainbow, "ada")
    members.member_delete(actor=cast.reseller_admin, member=ada)
    assert not MemberSeat.objects.exists()
    _member(cast, rainbow, "bob", subscriptions=[rainbow.enterprise])


def test_read_only_and_other_partners_may_not_change_members(cast, rainbow):
    for actor in (cast.read_only, cast.outsider):
        with pytest.raises(PermissionRefused):
            _member(cast, rainbow, "eve", actor=actor)
