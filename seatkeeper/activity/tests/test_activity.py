from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Organisation
from seatkeeper.activity.models import ActivityRecord, AppendOnly
from seatkeeper.activity.services import activity_record


def test_records_can_be_neither_changed_nor_deleted(cast):
    record = ActivityRecord.objects.first()
    record.operation = "tampered"
    with pytest.raises(AppendOnly):
        record.save()
    with pytest.raises(AppendOnly):
        record.delete()
    with pytest.raises(AppendOnly):
        ActivityRecord.objects.all().update(operation="tampered")
    with pytest.raises(AppendOnly):
        ActivityRecord.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_a_record_is_only_written_inside_a_transaction():
    from seatkeeper.conftest import company

    partner = services.organisation_create(actor=None, parent=None, kind="partner", **company("P"))
    with pytest.raises(RuntimeError):
        activity_record(actor=None, organisation=partner, obj=partner, operation="x")


def test_an_update_records_old_and_new_values_and_who(cast):
    services.organisation_update(actor=cast.reseller_admin, organisation=cast.customer, city="Lyon")
    record = ActivityRecord.objects.get(operation="organisation.update")
    assert record.actor == cast.reseller_admin
    assert record.actor_name == "reselleradmin"
    assert record.organisation == cast.customer
    assert record.changes == {"city": ["London", "Lyon"]}


def test_an_update_that_changes_nothing_records_nothing(cast):
    before = ActivityRecord.objects.count()
    services.organisation_update(
        actor=cast.reseller_admin, organisation=cast.customer, city="London"
    )
    assert ActivityRecord.objects.count() == before


def test_a_failed_change_leaves_neither_the_change_nor_its_record(cast):
    before = ActivityRecord.objects.count()
    with pytest.raises(ValidationError):
        services.organisation_update(
            actor=cast.reseller_admin, organisation=cast.customer, city="Paris", country="France"
        )
    assert Organisation.objects.get(pk=cast.customer.pk).city == "London"
    assert ActivityRecord.objects.count() == before


def test_change_and_record_commit_together(cast, monkeypatch):
    import seatkeeper.accounts.services as module

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "activity_record", broken)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.organisation_update(
                actor=cast.reseller_admin, organisation=cast.customer, city="Nice"
            )
    assert Organisation.objects.get(pk=cast.customer.pk).city == "London"
