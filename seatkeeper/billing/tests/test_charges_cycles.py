"""Billing cycles: the dates each report covers, and setting the day (partner staff, audited,
future cycles only)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.billing import cycles
from seatkeeper.billing.cycles import Cycle, Setting
from seatkeeper.billing.models import BillingCycleDay
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError

D = dt.date


def test_a_cycle_ending_on_the_15th_covers_the_16th_to_the_15th_and_is_dated_the_16th():
    settings = [Setting(15, "", D(2020, 1, 1))]

    cycle = cycles.cycle_holding(settings, D(2026, 4, 3))

    assert cycle == Cycle(D(2026, 3, 16), D(2026, 4, 15))
    assert cycle.report_date == D(2026, 4, 16)
    assert cycles.cycle_holding(settings, D(2026, 4, 16)).start == D(2026, 4, 16)


def test_without_a_setting_cycles_are_calendar_months():
    assert cycles.cycle_holding([], D(2028, 2, 10)) == Cycle(D(2028, 2, 1), D(2028, 2, 29))
    assert cycles.cycle_holding([], D(2026, 12, 31)) == Cycle(D(2026, 12, 1), D(2026, 12, 31))


def test_a_day_the_month_lacks_means_its_last_day():
    settings = [Setting(30, "", D(2020, 1, 1))]

    assert cycles.cycle_holding(settings, D(2027, 2, 20)) == Cycle(D(2027, 1, 31), D(2027, 2, 28))
    assert cycles.cycle_holding(settings, D(2027, 3, 2)) == Cycle(D(2027, 3, 1), D(2027, 3, 30))


def test_a_new_day_starts_after_the_cycle_it_was_set_in_with_one_shorter_cycle():
    settings = [Setting(15, "", D(2020, 1, 1)), Setting(1, "", D(2026, 12, 16))]

    assert cycles.cycle_holding(settings, D(2026, 12, 10)) == Cycle(
        D(2026, 11, 16), D(2026, 12, 15)
    )
    assert cycles.cycle_holding(settings, D(2026, 12, 20)) == Cycle(D(2026, 12, 16), D(2027, 1, 1))
    assert cycles.cycle_holding(settings, D(2027, 1, 2)) == Cycle(D(2027, 1, 2), D(2027, 2, 1))


def test_a_range_holds_the_cycles_that_end_in_it_one_per_month():
    settings = [Setting(15, "", D(2020, 1, 1))]

    found = cycles.cycles_ending_between(settings, D(2026, 9, 1), D(2026, 11, 30))

    assert [(cycle.start, cycle.end) for cycle in found] == [
        (D(2026, 8, 16), D(2026, 9, 15)),
        (D(2026, 9, 16), D(2026, 10, 15)),
        (D(2026, 10, 16), D(2026, 11, 15)),
    ]


def test_dates_are_read_in_the_accounts_time_zone():
    late = dt.datetime(2026, 11, 15, 23, 30, tzinfo=dt.UTC)

    assert cycles.local_date(late, "") == D(2026, 11, 15)
    assert cycles.local_date(late, "Europe/Paris") == D(2026, 11, 16)


def test_partner_staff_set_a_resellers_day_from_its_next_cycle_with_an_audit_record(cast):
    # Given TEST_NOW (22 November 2026), in the calendar-month cycle of November
    # When the cloud admin sets the 15th in Paris time
    row = cycles.billing_cycle_day_set(
        actor=cast.cloud_admin, organisation=cast.reseller, day=15, time_zone="Europe/Paris"
    )

    # Then it applies from 1 December; November keeps its dates
    assert (row.day, row.time_zone, row.effective_from) == (15, "Europe/Paris", D(2026, 12, 1))
    assert cycles.current_cycle(cast.reseller) == Cycle(D(2026, 11, 1), D(2026, 11, 30))
    with clock.frozen(dt.datetime(2026, 12, 3, tzinfo=dt.UTC)):
        current = cycles.current_cycle(cast.reseller)
    assert (current.start, current.end) == (D(2026, 12, 1), D(2026, 12, 15))
    record = ActivityRecord.objects.get(operation="billing.cycle_day")
    assert record.organisation == cast.reseller
    assert record.details["changes"]["day"] == [31, 15]
    assert record.details["effective_from"] == "2026-12-01"


def test_a_second_change_before_the_first_applies_replaces_it(cast):
    cycles.billing_cycle_day_set(actor=cast.cloud_admin, organisation=cast.reseller, day=15)

    cycles.billing_cycle_day_set(actor=cast.operator, organisation=cast.reseller, day=20)

    rows = BillingCycleDay.objects.filter(organisation=cast.reseller)
    assert [(row.day, row.effective_from) for row in rows] == [(20, D(2026, 12, 1))]


def test_setting_the_same_day_again_records_nothing(cast):
    cycles.billing_cycle_day_set(actor=cast.cloud_admin, organisation=cast.reseller, day=15)

    cycles.billing_cycle_day_set(actor=cast.cloud_admin, organisation=cast.reseller, day=15)

    assert ActivityRecord.objects.filter(operation="billing.cycle_day").count() == 1


@pytest.mark.parametrize("who", ["reseller_admin", "customer_admin", "read_only", "outsider"])
def test_only_partner_staff_set_a_day(cast, who):
    with pytest.raises(PermissionRefused):
        cycles.billing_cycle_day_set(actor=getattr(cast, who), organisation=cast.reseller, day=5)

    assert not BillingCycleDay.objects.exists()
    assert not ActivityRecord.objects.filter(operation="billing.cycle_day").exists()


def test_a_customer_has_no_cycle_of_its_own(cast):
    with pytest.raises(ServiceError) as refused:
        cycles.billing_cycle_day_set(actor=cast.cloud_admin, organisation=cast.customer, day=5)

    assert refused.value.field == "organisation"
    assert not BillingCycleDay.objects.exists()


@pytest.mark.parametrize(
    ("day", "time_zone", "field"),
    [(0, "", "day"), (32, "", "day"), ("15", "", "day"), (15, "Mars/Olympus", "time_zone")],
)
def test_a_bad_day_or_zone_names_its_field_and_writes_nothing(cast, day, time_zone, field):
    with pytest.raises(ValidationError) as refused:
        cycles.billing_cycle_day_set(
            actor=cast.cloud_admin, organisation=cast.reseller, day=day, time_zone=time_zone
        )

    assert field in refused.value.message_dict
    assert not BillingCycleDay.objects.exists()
