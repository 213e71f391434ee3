"""The billing run: a subscription's accepted timeline becomes charge lines, once.

Prices of the shared world (GBP): Microsoft 365 Business Basic, 1 year billed monthly, partner
cost £4.50 per seat per month, sold to the reseller at cost and to its customer at the vendor
list price £5.00. Orders are placed at TEST_NOW (22 November 2026, 09:00 UTC), so the first
billing period runs 22 November – 21 December (30 days). Cycles are calendar months unless a
test sets a day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from seatkeeper.activity.models import ActivityRecord, AppendOnly
from seatkeeper.billing import charge_tasks, charges
from seatkeeper.billing.models import BillingRun, ChargeLine
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.scheduling import PERIODIC
from seatkeeper.pricing.models import PriceSource, VendorPrice
from seatkeeper.subscriptions import lifecycle, services
from seatkeeper.subscriptions.models import Subscription
from seatkeeper.subscriptions.tests.helpers import order

NOVEMBER = dt.date(2026, 11, 15)
DECEMBER = dt.date(2026, 12, 15)


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def bill(account, day=NOVEMBER, *, now=None, actor=None) -> BillingRun:
    now = now or at(day.year, day.month, 28) + dt.timedelta(days=7)
    with clock.frozen(now):
        return charges.billing_run(account=account, day=day, actor=actor)


def lines(**filters) -> list[ChargeLine]:
    return list(ChargeLine.objects.filter(**filters).order_by("pk"))


def figures(line: ChargeLine) -> tuple:
    return (
        line.kind,
        line.quantity,
        line.partner_cost_amount,
        line.reseller_price_amount,
        line.customer_price_amount,
    )


def change_quantity(cast, shop, subscription, quantity, moment) -> Subscription:
    with clock.frozen(moment):
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=quantity
        )
        shop.provision(subscription)
    subscription.refresh_from_db()
    return subscription


def test_the_cycle_fee_and_the_pro_rata_of_an_increase_at_every_audience(cast, shop):
    # Given 5 seats ordered on 22 November, 3 more added on 24 November
    subscription = order(cast, shop, quantity=5)
    change_quantity(cast, shop, subscription, 8, at(2026, 11, 24, 10))

    # When November is billed
    run = bill(cast.reseller)

    # Then the period's fee for 5 seats and 3 seats pro rata for 28 of its 30 days
    fee, prorata = lines(subscription=subscription)
    assert figures(fee) == ("cycle_fee", 5, Decimal("22.50"), Decimal("22.50"), Decimal("25.00"))
    assert (fee.period_start, fee.period_end) == (dt.date(2026, 11, 22), dt.date(2026, 12, 22))
    assert figures(prorata) == ("prorata", 3, Decimal("12.60"), Decimal("12.60"), Decimal("14.00"))
    assert (prorata.days, prorata.period_days) == (28, 30)
    assert prorata.operation.kind == "quantity"
    assert prorata.customer_price_source == "list_price"
    assert fee.reseller_id == cast.reseller.pk and fee.customer_id == cast.customer.pk
    assert (run.subscriptions, run.lines_created, run.problems) == (1, 2, [])
    record = ActivityRecord.objects.get(operation="billing.run", object_id=str(run.pk))
    # The run reads in the person's language, not as codes
    from django.utils import translation

    from seatkeeper.activity.wording import describe_record

    with translation.override("fr"):
        described = describe_record(record, viewer=cast.cloud_admin)
        assert described.label == "Passe de facturation"
        assert str(described).startswith(
            "Seatkeeper a facturé le cycle du 1 nov. 2026 au 30 nov. 2026"
        )
        assert "lignes créées : 2" in str(described), str(described)
        assert "lines_created" not in str(described)


def test_a_decrease_inside_the_window_is_refunded_pro_rata(cast, shop):
    subscription = order(cast, shop, quantity=5)
    change_quantity(cast, shop, subscription, 3, at(2026, 11, 25, 9))

    bill(cast.reseller)

    fee, refund = lines(subscription=subscription)
    assert figures(fee)[1] == 5
    # 2 seats × £5.00 × 27/30 days, negative
    assert figures(refund) == ("refund", -2, Decimal("-8.10"), Decimal("-8.10"), Decimal("-9.00"))


def test_a_cancellation_in_the_window_is_refunded_and_ends_the_fees(cast, shop):
    subscription = order(cast, shop, quantity=5)
    with clock.frozen(at(2026, 11, 23, 9)):
        services.subscription_cancel(actor=cast.reseller_admin, subscription=subscription)
        shop.provision(subscription)

    bill(cast.reseller)
    bill(cast.reseller, DECEMBER)

    fee, refund = lines(subscription=subscription)
    assert figures(fee)[:2] == ("cycle_fee", 5)
    assert figures(refund) == (
        "refund",
        -5,
        Decimal("-21.75"),
        Decimal("-21.75"),
        Decimal("-24.17"),
    )
    assert refund.details["cancellation"] is True
    assert len(lines(cycle__end_date=dt.date(2026, 12, 31))) == 0


def test_a_suspended_subscription_is_still_billed_and_says_so(cast, shop):
    subscription = order(cast, shop, quantity=5)
    with clock.frozen(at(2026, 11, 30, 9)):
        services.subscription_suspend(actor=cast.reseller_admin, subscription=subscription)
        shop.provision(subscription)

    bill(cast.reseller, DECEMBER)

    (fee,) = lines(cycle__end_date=dt.date(2026, 12, 31))
    assert figures(fee) == ("cycle_fee", 5, Decimal("22.50"), Decimal("22.50"), Decimal("25.00"))
    assert fee.period_start == dt.date(2026, 12, 22)
    assert fee.details == {"suspended": True}


def test_what_the_vendor_has_not_accepted_is_billed_once_it_has(cast, shop):
    # Given an increase still waiting for the vendor when November is billed
    subscription = order(cast, shop, quantity=5)
    with clock.frozen(at(2026, 11, 24, 10)):
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=8
        )
    bill(cast.reseller)
    assert [line.kind for line in lines()] == ["cycle_fee"]
    issued = model_to_dict(lines()[0])

    # When the vendor accepts it and November runs again
    with clock.frozen(at(2026, 12, 3, 9)):
        shop.provision(subscription)
    second = bill(cast.reseller)

    # Then only the pro-rata is added, and the fee line is as it was
    assert [line.kind for line in lines()] == ["cycle_fee", "prorata"]
    assert model_to_dict(lines()[0]) == issued
    assert (second.lines_created, second.unchanged, second.corrections) == (1, 1, 0)


def test_a_repeated_run_writes_nothing_new(cast, shop):
    subscription = order(cast, shop, quantity=5)
    change_quantity(cast, shop, subscription, 8, at(2026, 11, 24, 10))
    bill(cast.reseller)
    before = [model_to_dict(line) for line in lines()]

    again = bill(cast.reseller)

    assert [model_to_dict(line) for line in lines()] == before
    assert (again.lines_created, again.corrections, again.unchanged) == (0, 0, 2)
    assert BillingRun.objects.count() == 2


def test_an_issued_line_refuses_to_change(cast, shop):
    order(cast, shop, quantity=5)
    bill(cast.reseller)
    (line,) = lines()

    line.quantity = 6
    with pytest.raises(AppendOnly):
        line.save()
    with pytest.raises(AppendOnly):
        ChargeLine.objects.filter(pk=line.pk).update(quantity=6)
    with pytest.raises(AppendOnly):
        ChargeLine.objects.filter(pk=line.pk).delete()
    with pytest.raises(AppendOnly):
        line.delete()

    assert ChargeLine.objects.get().quantity == 5


def test_a_price_learnt_later_is_corrected_by_new_lines_never_by_edits(cast, shop):
    # Given November billed at a partner cost of £4.50
    subscription = order(cast, shop, quantity=5)
    bill(cast.reseller)
    (original,) = lines()
    issued = model_to_dict(original)

    # When a price sheet imported later corrects the cost of 22 November to £4.00 (of two
    # versions for one day, the later wins)
    VendorPrice.objects.create(
        offer=shop.world.basic,
        term="P1Y",
        billing_cycle="monthly",
        currency="GBP",
        cost=Decimal("4.00"),
        list_price=Decimal("5.00"),
        effective_from=dt.date(2026, 11, 22),
        source=PriceSource.IMPORT,
    )
    run = bill(cast.reseller)

    # Then the fee is reversed by a correction and issued again; the first line is untouched
    first, reversal, replacement = lines()
    assert model_to_dict(first) == issued
    assert figures(reversal) == (
        "correction",
        -5,
        Decimal("-22.50"),
        Decimal("-22.50"),
        Decimal("-25.00"),
    )
    assert reversal.corrects == first and replacement.corrects == first
    assert figures(replacement) == (
        "cycle_fee",
        5,
        Decimal("20.00"),
        Decimal("20.00"),
        Decimal("25.00"),
    )
    assert (run.corrections, run.lines_created) == (1, 2)
    live_cost = sum(line.partner_cost_amount for line in lines(subscription=subscription))
    assert live_cost == Decimal("20.00")
    # And nothing new on a third run
    assert bill(cast.reseller).lines_created == 0


def test_a_renewal_bills_the_new_term_with_the_changes_scheduled_for_it(cast, shop):
    # Given a subscription whose term ends on 30 November, renewing as 7 seats billed annually
    subscription = order(cast, shop, quantity=5)
    with clock.frozen(at(2026, 11, 25, 9)):
        services.subscription_schedule_renewal(
            actor=cast.reseller_admin,
            subscription=subscription,
            quantity=7,
            term="P1Y",
            billing_cycle="annual",
        )
        shop.provision(subscription)
    Subscription.objects.filter(pk=subscription.pk).update(
        commitment_end_date=dt.date(2026, 11, 30)
    )
    with clock.frozen(at(2026, 12, 1, 2)):
        lifecycle.run(clock.now())

    bill(cast.reseller, DECEMBER)

    (fee,) = lines(cycle__end_date=dt.date(2026, 12, 31))
    assert (fee.kind, fee.quantity, fee.term, fee.billing_cycle) == (
        "cycle_fee",
        7,
        "P1Y",
        "annual",
    )
    assert (fee.period_start, fee.period_end) == (dt.date(2026, 12, 1), dt.date(2027, 12, 1))
    assert fee.partner_cost_amount == Decimal("378.00")  # 7 × £54.00
    assert fee.details == {"renewal": True}


def test_an_add_on_is_billed_as_its_own_subscription_naming_its_base(cast, shop):
    base = order(cast, shop, quantity=5)
    addon = order(cast, shop, offer=shop.world.teams, quantity=2, parent=base, name="Phones")

    bill(cast.reseller)

    (fee,) = lines(subscription=addon)
    assert fee.details == {"addon_of": base.pk}
    assert fee.quantity == 2


def test_an_open_cycle_is_not_billed(cast, shop):
    order(cast, shop, quantity=5)

    with pytest.raises(ServiceError) as refused:
        charges.billing_run(account=cast.reseller, day=NOVEMBER)

    assert refused.value.code == "cycle_open"
    assert not BillingRun.objects.exists()
    assert not ChargeLine.objects.exists()


def test_only_partner_staff_run_billing(cast, shop):
    order(cast, shop, quantity=5)

    with pytest.raises(PermissionRefused):
        bill(cast.reseller, actor=cast.reseller_admin)

    assert not BillingRun.objects.exists()
    run = bill(cast.reseller, actor=cast.operator)
    assert run.requested_by == cast.operator


def test_each_account_bills_only_its_own_customers_in_its_own_cycle(cast, shop):
    from seatkeeper.billing import cycles

    cycles.billing_cycle_day_set(actor=cast.cloud_admin, organisation=cast.partner, day=15)
    order(cast, shop, quantity=5)

    direct = bill(cast.partner, DECEMBER)

    assert direct.subscriptions == 0
    assert ChargeLine.objects.count() == 0
    assert (direct.cycle.start_date, direct.cycle.end_date) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 15),
    )


def test_the_daily_job_runs_every_accounts_ended_cycles(cast, shop, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    order(cast, shop, quantity=5)

    with clock.frozen(at(2026, 12, 2, 6)):
        enqueued = charge_tasks.run_ended_cycles.call()

    # two partners and two resellers, each with October and November
    assert enqueued == 8
    assert "billing.run_ended_cycles" in PERIODIC
    assert [line.kind for line in lines()] == ["cycle_fee"]
    with clock.frozen(at(2026, 12, 3, 6)):
        charge_tasks.run_ended_cycles.call()
    assert ChargeLine.objects.count() == 1


def test_the_command_runs_a_cycle(cast, shop, capsys):
    order(cast, shop, quantity=5)

    with clock.frozen(at(2026, 12, 2, 6)):
        call_command("billing", "run", "--cycle", "2026-11-30", "--account", str(cast.reseller.pk))
        output = capsys.readouterr().out
        with pytest.raises(CommandError):
            call_command("billing", "run", "--cycle", "November")

    assert "Reseller One: cycle 2026-11-01 – 2026-11-30: 1 subscriptions, 1 new lines" in output
    assert ChargeLine.objects.count() == 1
