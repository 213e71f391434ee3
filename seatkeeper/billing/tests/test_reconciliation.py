"""Reconciliation: the vendor's line items of a period against our partner-cost charge lines.

Our side comes from a real billing run over the shared world (GBP, Microsoft 365 Business
Basic, partner cost £4.50 per seat per month; orders at TEST_NOW, 22 November 2026, so the first
fee is charged on 22 November). The vendor's side is an imported invoice for November written
here line by line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.billing import charges, reconciliation
from seatkeeper.billing.models import (
    InvoiceLineItem,
    LikelyCause,
    LinesState,
    Outcome,
    ProviderInvoice,
    ReconciliationState,
    Resolution,
)
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import Operation, OperationState
from seatkeeper.subscriptions.tests.helpers import order

pytestmark = pytest.mark.django_db

NOV_1, NOV_30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
TENANT = "c0ffee00-0000-4000-8000-000000000001"


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def bill(cast) -> None:
    with clock.frozen(at(2026, 12, 5)):
        charges.billing_run(account=cast.reseller, day=dt.date(2026, 11, 15))


def vendor_invoice(account, number="G100") -> ProviderInvoice:
    return ProviderInvoice.objects.create(
        partner=account.organisation,
        account=account,
        vendor_invoice_id=number,
        document_type="invoice",
        invoice_date=at(2026, 12, 6),
        period_start=NOV_1,
        period_end=NOV_30,
        currency="GBP",
        total=Decimal(0),
        vendor_fingerprint=number,
        lines_state=LinesState.IMPORTED,
        lines_generation=1,
    )


def vendor_line(
    invoice,
    subscription_id,
    *,
    quantity="5",
    unit="4.50",
    amount=None,
    charge="cycleCharge",
    start=dt.date(2026, 11, 22),
    end=dt.date(2026, 12, 21),
    generation=1,
) -> InvoiceLineItem:
    amount = Decimal(amount) if amount is not None else Decimal(quantity) * Decimal(unit)
    position = InvoiceLineItem.objects.filter(invoice=invoice).count()
    return InvoiceLineItem.objects.create(
        invoice=invoice,
        generation=generation,
        position=position,
        period=NOV_1,
        customer_tenant_id=TENANT,
        customer_name="Customer One",
        subscription_id=subscription_id,
        subscription_description="Office seats",
        product_name="Microsoft 365 Business Basic",
        charge_type=charge,
        charge_kind=charge,
        charge_start=start,
        charge_end=end,
        quantity=Decimal(quantity),
        unit_price=Decimal(unit),
        effective_unit_price=Decimal(unit),
        subtotal=amount,
        tax_total=Decimal(0),
        total=amount,
        currency="GBP",
        pricing_currency="GBP",
        pc_to_bc_exchange_rate=Decimal(1),
    )


@pytest.fixture
def account(shop):
    return shop.world.vendor.provider_account


@pytest.fixture
def billed(cast, shop):
    subscription = order(cast, shop, quantity=5)
    subscription.refresh_from_db()
    assert subscription.vendor_subscription_id
    bill(cast)
    return subscription


def run(account):
    return reconciliation.reconcile_period(account=account, period_start=NOV_1, period_end=NOV_30)


def only_row(result):
    (row,) = result.rows.all()
    return row


def outcome_of(result) -> str:
    """The outcome of a one-subscription period: its difference row's, or matched (counted,
    not stored)."""
    rows = list(result.rows.all())
    if not rows:
        assert result.matched == 1
        return Outcome.MATCHED
    assert len(rows) == 1 and result.matched == 0
    return rows[0].outcome


def test_the_same_seats_at_the_same_price_match(account, billed):
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id)

    result = run(account)

    # matched: counted, and no row to look at
    assert outcome_of(result) == Outcome.MATCHED
    assert (result.vendor_lines, result.charge_lines) == (1, 1)
    assert reconciliation.outcome_counts(result)[Outcome.MATCHED] == 1
    assert ActivityRecord.objects.filter(operation="reconciliation.computed").exists()


def test_a_moved_unit_price_is_an_amount_difference_caused_by_the_price(account, billed):
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, unit="4.80")

    row = only_row(run(account))

    assert (row.outcome, row.cause) == (Outcome.AMOUNT_DIFFERS, LikelyCause.PRICE_MOVED)
    assert row.difference == Decimal("1.50")
    assert (row.vendor_unit_price, row.our_unit_price) == (Decimal("4.8000"), Decimal("4.5000"))


def test_a_partial_period_line_makes_the_difference_a_proration_rule(account, billed):
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id)
    vendor_line(
        invoice,
        billed.vendor_subscription_id,
        quantity="1",
        amount="3.90",
        charge="addQuantity",
        start=dt.date(2026, 11, 26),
    )

    row = only_row(run(account))

    assert (row.outcome, row.cause) == (Outcome.AMOUNT_DIFFERS, LikelyCause.PRORATION)
    assert row.difference == Decimal("3.90")


def test_different_seats_are_a_quantity_difference(account, billed):
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, quantity="6")

    row = only_row(run(account))

    assert row.outcome == Outcome.QUANTITY_DIFFERS
    assert (row.vendor_quantity, row.our_quantity) == (Decimal(6), Decimal(5))
    assert row.cause == ""


def test_a_change_the_vendor_has_not_settled_is_named_as_the_cause(cast, shop, account, billed):
    with clock.frozen(at(2026, 11, 25, 9)):
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=billed, quantity=6
        )
    assert Operation.objects.filter(subscription=billed, state=OperationState.PENDING).exists()
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, quantity="6")

    row = only_row(run(account))

    assert (row.outcome, row.cause) == (Outcome.QUANTITY_DIFFERS, LikelyCause.VENDOR_CHANGE)


def test_a_subscription_unknown_here_is_only_at_the_vendor(account, billed):
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id)
    vendor_line(invoice, "unknown-sub", quantity="2")

    result = run(account)

    row = result.rows.get(vendor_subscription_id="unknown-sub")
    assert (row.outcome, row.cause) == (Outcome.VENDOR_ONLY, LikelyCause.VENDOR_CHANGE)
    assert row.subscription is None and row.difference == Decimal("9.00")
    assert reconciliation.outcome_counts(result)[Outcome.MATCHED] == 1


def test_our_charge_without_a_vendor_line_is_only_here(account, billed):
    vendor_invoice(account)

    row = only_row(run(account))

    assert row.outcome == Outcome.OURS_ONLY
    assert row.difference == Decimal("-22.50") and row.vendor_quantity is None


def test_lines_of_an_older_import_generation_are_not_read(account, billed):
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id)
    vendor_line(invoice, billed.vendor_subscription_id, quantity="9", generation=0)

    assert outcome_of(run(account)) == Outcome.MATCHED


@pytest.mark.parametrize(
    ("vendor", "amount", "percent", "outcome"),
    [
        ("22.51", "0.01", "0", Outcome.MATCHED),  # exactly the absolute tolerance
        ("22.52", "0.01", "0", Outcome.AMOUNT_DIFFERS),  # a cent beyond it
        ("25.00", "0", "10", Outcome.MATCHED),  # 2.50 is exactly 10 % of the vendor's 25.00
        ("25.01", "0", "10", Outcome.AMOUNT_DIFFERS),  # 2.51 is more than 10 % of 25.01
    ],
)
def test_tolerance_edges(account, billed, settings, vendor, amount, percent, outcome):
    settings.SEATKEEPER_RECONCILIATION_TOLERANCE_AMOUNT = Decimal(amount)
    settings.SEATKEEPER_RECONCILIATION_TOLERANCE_PERCENT = Decimal(percent)
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, amount=vendor)

    result = run(account)

    assert outcome_of(result) == outcome
    assert result.tolerance_amount == Decimal(amount)


def test_within_tolerance_is_inclusive_at_both_edges():
    check = reconciliation.within_tolerance
    assert check(Decimal("100.00"), Decimal("99.00"), amount=Decimal(0), percent=Decimal(1))
    assert not check(Decimal("100.00"), Decimal("98.99"), amount=Decimal(0), percent=Decimal(1))
    assert check(Decimal("10.00"), Decimal("9.95"), amount=Decimal("0.05"), percent=Decimal(0))
    assert not check(Decimal("10.00"), Decimal("9.94"), amount=Decimal("0.05"), percent=Decimal(0))


def test_explained_and_accepted_rows_let_the_period_be_marked_reconciled(cast, account, billed):
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id, unit="4.80")
    vendor_line(invoice, "unknown-sub", quantity="2")
    result = run(account)
    price_row = result.rows.get(outcome=Outcome.AMOUNT_DIFFERS)
    vendor_row = result.rows.get(outcome=Outcome.VENDOR_ONLY)
    admin = cast.cloud_admin

    with pytest.raises(ServiceError):
        reconciliation.mark_reconciled(actor=admin, reconciliation=result)
    with pytest.raises(ServiceError):
        reconciliation.row_explain(actor=admin, row=price_row, note="  ")
    reconciliation.row_explain(actor=admin, row=price_row, note="Price list of 1 November")
    reconciliation.row_accept(actor=admin, row=vendor_row)
    done = reconciliation.mark_reconciled(actor=admin, reconciliation=result)

    assert done.state == ReconciliationState.RECONCILED
    assert (done.reconciled_by, done.reconciled_at) == (admin, clock.now())
    price_row.refresh_from_db()
    assert (price_row.resolution, price_row.resolved_by) == (Resolution.EXPLAINED, admin)
    assert ActivityRecord.objects.filter(operation="reconciliation.row_explained").exists()
    assert ActivityRecord.objects.filter(operation="reconciliation.reconciled").exists()
    with pytest.raises(ServiceError):
        run(account)  # a reconciled period is not compared again


def test_comparing_again_keeps_what_people_said_about_the_same_difference(cast, account, billed):
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, unit="4.80")
    row = only_row(run(account))
    reconciliation.row_explain(actor=cast.cloud_admin, row=row, note="Price rise")

    again = only_row(run(account))

    assert (again.resolution, again.note) == (Resolution.EXPLAINED, "Price rise")


def test_only_the_partners_acting_staff_resolve(cast, account, billed):
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, unit="4.80")
    row = only_row(run(account))

    for person in (cast.reseller_admin, cast.customer_admin, cast.outsider):
        with pytest.raises(PermissionRefused):
            reconciliation.row_accept(actor=person, row=row)
    row.refresh_from_db()
    assert row.resolution == ""


def test_the_daily_job_compares_recent_open_periods_and_leaves_reconciled_ones(
    cast, account, billed
):
    from seatkeeper.billing import tasks
    from seatkeeper.core.scheduling import PERIODIC

    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id, unit="4.80")
    assert "billing.reconcile_daily" in PERIODIC

    assert reconciliation.open_periods(dt.date(2027, 6, 1)) == []  # long past: left alone
    with clock.frozen(at(2026, 12, 10)):
        assert tasks.reconcile_daily.call() == 1
    result = reconciliation.reconciliation_for_invoice(invoice)
    reconciliation.row_accept(actor=cast.cloud_admin, row=only_row(result))
    reconciliation.mark_reconciled(actor=cast.cloud_admin, reconciliation=result)

    with clock.frozen(at(2026, 12, 11)):
        assert tasks.reconcile_daily.call() == 0


def test_the_open_period_is_not_reconciled(cast, account, billed):
    invoice = vendor_invoice(account)
    ProviderInvoice.objects.filter(pk=invoice.pk).update(document_type="unbilled")
    invoice.refresh_from_db()

    with pytest.raises(ServiceError):
        reconciliation.reconcile_invoice(invoice=invoice, actor=cast.cloud_admin)
    assert reconciliation.reconciliation_for_invoice(invoice) is None
