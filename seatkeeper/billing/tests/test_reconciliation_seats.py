"""The third side of reconciliation: seats billed against seats assigned, per subscription, so
unused seats show next to the money they cost (rules in `billing.reconciliation`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from seatkeeper.billing import reconciliation
from seatkeeper.billing.models import SeatSource
from seatkeeper.billing.tests.test_reconciliation import (  # noqa: F401 - shared fixtures
    account,
    bill,
    billed,
    run,
    vendor_invoice,
    vendor_line,
)
from seatkeeper.people.models import DirectoryUser, LicenceSku, UserLicence, UserStatus
from seatkeeper.people.selectors import assigned_by_subscription
from seatkeeper.subscriptions.tests.helpers import order

pytestmark = pytest.mark.django_db


def give_licences(subscription, count: int, *, status=UserStatus.ACTIVE, first: int = 0) -> None:
    sku, _created = LicenceSku.objects.get_or_create(
        tenant_id=subscription.tenant_id,
        sku_id="sku-basic",
        defaults={"product_key": subscription.offer.external_id, "name": "Basic"},
    )
    for index in range(first, first + count):
        user = DirectoryUser.objects.create(
            tenant_id=subscription.tenant_id,
            customer_id=subscription.customer_id,
            vendor_user_id=f"user-{index}",
            display_name=f"User {index}",
            user_principal_name=f"user{index}@customerone.example",
            status=status,
        )
        UserLicence.objects.create(user=user, sku=sku)


def test_unused_seats_show_with_what_they_cost_at_the_vendors_price(account, billed):  # noqa: F811
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, unit="4.80")
    give_licences(billed, 2)

    result = run(account)

    (seats,) = result.seat_rows.all()
    assert seats.subscription_id == billed.pk
    assert (seats.billed_seats, seats.billed_source) == (Decimal(5), SeatSource.VENDOR)
    assert (seats.assigned_seats, seats.unused_seats) == (2, Decimal(3))
    assert seats.unused_cost == Decimal("14.40")  # 3 × £4.80, the vendor's price
    assert result.seats_compared == 1
    assert reconciliation.seat_totals(result) == [
        {
            "currency": "GBP",
            "subscriptions": 1,
            "unused_seats": Decimal(3),
            "over_assigned_seats": Decimal(0),
            "unused_cost": Decimal("14.40"),
        }
    ]


def test_without_the_vendors_bill_our_seats_and_price_are_held(account, billed):  # noqa: F811
    give_licences(billed, 1)
    give_licences(billed, 3, status=UserStatus.DELETED, first=10)  # deleted users hold nothing

    (seats,) = run(account).seat_rows.all()

    assert (seats.billed_seats, seats.billed_source) == (Decimal(5), SeatSource.OURS)
    assert (seats.assigned_seats, seats.unused_seats) == (1, Decimal(4))
    assert seats.unused_cost == Decimal("18.00")  # 4 × £4.50 partner cost


def test_every_seat_used_is_counted_not_stored(account, billed):  # noqa: F811
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id)
    give_licences(billed, 5)

    result = run(account)

    assert list(result.seat_rows.all()) == []
    assert result.seats_compared == 1
    assert reconciliation.seat_totals(result) == []


def test_seats_assigned_beyond_the_bill_cost_nothing_and_are_shown(account, billed):  # noqa: F811
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id, quantity="4")
    give_licences(billed, 6)

    (seats,) = run(account).seat_rows.all()

    assert (seats.billed_seats, seats.assigned_seats, seats.unused_seats) == (4, 6, -2)
    assert seats.unused_cost == Decimal(0)


def test_one_licence_pool_is_shared_out_as_the_people_pages_do(cast, shop, account):  # noqa: F811
    first = order(cast, shop, quantity=5, name="First")
    second = order(cast, shop, quantity=3, name="Second")
    bill(cast)
    give_licences(first, 6)

    result = run(account)

    held = assigned_by_subscription([first, second])
    assert held == {first.pk: 5, second.pk: 1}
    rows = {row.subscription_id: row for row in result.seat_rows.all()}
    assert set(rows) == {second.pk}  # the first subscription is full
    assert (rows[second.pk].assigned_seats, rows[second.pk].unused_seats) == (1, 2)
    assert result.seats_compared == 2


def test_a_second_comparison_replaces_the_seats(account, billed):  # noqa: F811
    vendor_line(vendor_invoice(account), billed.vendor_subscription_id)
    run(account)
    give_licences(billed, 5)

    result = run(account)

    assert result.seat_rows.count() == 0
