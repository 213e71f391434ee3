"""Billing cycles: which dates each billing report covers, and the service that sets the day.

The rule, written once:
- A *billing account* is a reseller (it is billed for its customers) or the partner (for the
  customers it serves directly). A customer's cycle is its billing account's.
- A cycle ends on the account's billing-cycle day D of each month and starts the day after the
  previous one ended: D = 15 gives 16 March – 15 April, and a report dated 16 April (seed 001).
  A day the month does not have means its last day (D = 31 ends on 28 February, then 31 March).
  Without a setting D = 31: calendar months, as Partner Center's New Commerce invoices.
- Dates are read in the account's time zone when one is set, else UTC: a change made at 23:30
  UTC on the 15th belongs to the 16th in Paris. (The billing periods of a subscription itself
  are the vendor's dates, kept as they are.)
- Changing the day affects future cycles only: the new day applies from the first day after the
  cycle running when it was set. That first cycle under the new day ends on the first day D
  after it starts, so it may be shorter than a month; later cycles are whole months again.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts import permissions
from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record
from seatkeeper.billing.models import BillingCycleDay
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError

DEFAULT_DAY = 31


@dataclass(frozen=True, slots=True)
class Setting:
    day: int
    time_zone: str
    effective_from: dt.date


DEFAULT = Setting(day=DEFAULT_DAY, time_zone="", effective_from=dt.date.min)


@dataclass(frozen=True, slots=True)
class Cycle:
    start: dt.date  # included
    end: dt.date  # included
    time_zone: str = ""

    @property
    def report_date(self) -> dt.date:
        """The date the seed puts on the report: the day after the cycle ends."""
        return self.end + dt.timedelta(days=1)

    def holds(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@cache
def zone(name: str) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(name) if name else dt.UTC


def local_date(moment: dt.datetime, time_zone: str) -> dt.date:
    return moment.astimezone(zone(time_zone)).date()


def _end_in(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def end_on_or_after(day: dt.date, cycle_day: int) -> dt.date:
    """The first date on or after `day` that ends a cycle of `cycle_day`."""
    end = _end_in(day.year, day.month, cycle_day)
    if end >= day:
        return end
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return _end_in(year, month, cycle_day)


def _previous_end(end: dt.date, cycle_day: int) -> dt.date:
    year, month = (end.year - 1, 12) if end.month == 1 else (end.year, end.month - 1)
    return _end_in(year, month, cycle_day)


def setting_on(settings: list[Setting], day: dt.date) -> Setting:
    """The setting in force on `day` among `settings` (sorted by effective date)."""
    found = DEFAULT
    for setting in settings:
        if setting.effective_from <= day:
            found = setting
    return found


def cycle_holding(settings: list[Setting], day: dt.date) -> Cycle:
    setting = setting_on(settings, day)
    first_end = end_on_or_after(setting.effective_from, setting.day)
    if setting is not DEFAULT and day <= first_end:
        return Cycle(setting.effective_from, first_end, setting.time_zone)
    end = end_on_or_after(day, setting.day)
    start = _previous_end(end, setting.day) + dt.timedelta(days=1)
    return Cycle(max(start, setting.effective_from), end, setting.time_zone)


def cycles_ending_between(settings: list[Setting], first: dt.date, last: dt.date) -> list[Cycle]:
    """Every cycle whose last day falls in [first, last]: one report each (seed 001)."""
    cycles = []
    cycle = cycle_holding(settings, first)
    while cycle.end <= last:
        if cycle.end >= first:
            cycles.append(cycle)
        cycle = cycle_holding(settings, cycle.end + dt.timedelta(days=1))
    return cycles


def settings_of(account: Organisation) -> list[Setting]:
    return [
        Setting(row.day, row.time_zone, row.effective_from)
        for row in BillingCycleDay.objects.filter(organisation=account).order_by("effective_from")
    ]


def settings_by_account(account_ids) -> dict[int, list[Setting]]:
    found: dict[int, list[Setting]] = {pk: [] for pk in account_ids}
    for row in BillingCycleDay.objects.filter(organisation_id__in=list(found)).order_by(
        "effective_from"
    ):
        found[row.organisation_id].append(Setting(row.day, row.time_zone, row.effective_from))
    return found


def today_for(settings: list[Setting]) -> dt.date:
    """Today in the zone of the setting in force (a first guess by UTC picks the setting)."""
    return local_date(clock.now(), setting_on(settings, clock.today()).time_zone)


def current_cycle(account: Organisation) -> Cycle:
    settings = settings_of(account)
    return cycle_holding(settings, today_for(settings))


def last_ended_cycles(account: Organisation, count: int = 1) -> list[Cycle]:
    """The `count` most recent cycles that have ended, newest first."""
    settings = settings_of(account)
    cycle = cycle_holding(settings, today_for(settings))
    found = []
    for _index in range(count):
        cycle = cycle_holding(settings, cycle.start - dt.timedelta(days=1))
        found.append(cycle)
    return found


def billing_account_of(customer: Organisation) -> Organisation:
    """The reseller above a customer, or the partner when it serves the customer directly."""
    return customer.parent


def is_billing_account(organisation: Organisation) -> bool:
    return organisation.kind in (OrganisationKind.PARTNER, OrganisationKind.RESELLER)


# --- setting the day --------------------------------------------------------------------------


def _check_time_zone(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            {"time_zone": _("Unknown time zone: use a name such as Europe/Paris.")}
        ) from None
    return name


@transaction.atomic
def billing_cycle_day_set(
    *, actor: User, organisation: Organisation, day: int, time_zone: str = ""
) -> BillingCycleDay:
    """Set the day `organisation`'s billing cycle ends (partner staff only). It applies from the
    cycle after the current one; a change not yet in force is replaced, not stacked."""
    if not (
        actor.role in permissions.PARTNER_STAFF
        and permissions.can_change_organisation(actor, organisation)
    ):
        raise PermissionRefused(_("Only the partner's staff set billing cycles."))
    if not is_billing_account(organisation):
        raise ServiceError(
            _("Billing cycles belong to resellers and to the partner, not to customers."),
            field="organisation",
        )
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        raise ValidationError({"day": _("Give a day of the month from 1 to 31.")})
    time_zone = _check_time_zone(time_zone)
    # Lock the account's versions: two people setting the day at once queue here.
    Organisation.objects.select_for_update().get(pk=organisation.pk)
    settings = settings_of(organisation)
    today = today_for(settings)
    current = setting_on(settings, today)
    effective_from = cycle_holding(settings, today).end + dt.timedelta(days=1)
    pending = BillingCycleDay.objects.filter(
        organisation=organisation, effective_from__gt=today
    ).first()
    before = pending or current
    if (before.day, before.time_zone) == (day, time_zone):
        unchanged = (
            pending
            or BillingCycleDay.objects.filter(
                organisation=organisation, effective_from=current.effective_from
            ).first()
        )
        return unchanged or BillingCycleDay(
            organisation=organisation, day=DEFAULT_DAY, effective_from=dt.date.min
        )
    BillingCycleDay.objects.filter(organisation=organisation, effective_from__gt=today).delete()
    row = BillingCycleDay.objects.create(
        organisation=organisation,
        day=day,
        time_zone=time_zone,
        effective_from=effective_from,
        set_by=actor,
        set_at=clock.now(),
    )
    activity_record(
        actor=actor,
        organisation=organisation,
        obj=row,
        operation="billing.cycle_day",
        changes={"day": [before.day, day], "time_zone": [before.time_zone, time_zone]},
        details={"effective_from": effective_from.isoformat()},
    )
    return row
