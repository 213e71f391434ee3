"""Subscriptions bill at the price sheet's prices, including periods that began before the
first price Seatkeeper knows (the engine's first-known-price rule), and follow a price that
changed mid-history from the period it applies to.

The shared world's Microsoft catalog is British; here its Business Basic arrives without any
price, as from Partner Center, and the price sheet brings them."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from seatkeeper.billing import charges
from seatkeeper.billing.models import ChargeLine
from seatkeeper.core import clock
from seatkeeper.pricing.models import VendorPrice
from seatkeeper.pricing.pricesheets import price_sheet_import
from seatkeeper.pricing.tests.sheets import BASIC, line, sheet_bytes
from seatkeeper.subscriptions.tests.conftest import (  # noqa: F401 - the subscriptions' shop
    _provision_by_hand,
    shop,
)
from seatkeeper.subscriptions.tests.helpers import order


def bill(account, day: dt.date):
    with clock.frozen(dt.datetime(day.year, day.month, 28, tzinfo=dt.UTC) + dt.timedelta(days=7)):
        return charges.billing_run(account=account, day=day)


def fees(subscription) -> list[tuple]:
    return [
        (row.period_start, row.partner_cost_amount, row.customer_price_amount)
        for row in ChargeLine.objects.filter(subscription=subscription, kind="cycle_fee").order_by(
            "period_start"
        )
    ]


def sheet(vendor, *rows) -> None:
    price_sheet_import(actor=None, vendor=vendor, source=io.BytesIO(sheet_bytes(list(rows))))


def gb(price: str, erp: str, start: str):
    return line(BASIC, "P1Y", "Monthly", price, erp=erp, start=start, market="GB",
                currency="GBP")  # fmt: skip


def without_catalog_prices(world) -> None:
    # What Partner Center's catalog gives: no price at all for Business Basic.
    VendorPrice.objects.filter(offer=world.basic).delete()


def test_a_period_before_the_first_known_price_bills_at_that_price(cast, shop):  # noqa: F811
    without_catalog_prices(shop.world)
    # Given a first price sheet known only from December, and 5 seats from 22 November
    sheet(shop.world.vendor, gb("4.20", "4.80", "2026-12-01T00:00:00Z"))
    subscription = order(cast, shop, quantity=5)
    # When November's period (22 November - 21 December) is billed
    run = bill(cast.reseller, dt.date(2026, 11, 15))
    # Then it bills at the first price the sheet gave
    assert run.problems == []
    assert fees(subscription) == [(dt.date(2026, 11, 22), Decimal("21.00"), Decimal("24.00"))]


def test_a_price_changed_mid_history_bills_each_period_at_its_own_price(cast, shop):  # noqa: F811
    without_catalog_prices(shop.world)
    # A change from 15 December, then November's sheet: imported in any order
    sheet(shop.world.vendor, gb("4.40", "5.00", "2026-12-15T00:00:00Z"))
    sheet(shop.world.vendor, gb("4.20", "4.80", "2026-11-01T00:00:00Z"))
    subscription = order(cast, shop, quantity=5)
    bill(cast.reseller, dt.date(2026, 11, 15))
    bill(cast.reseller, dt.date(2026, 12, 15))
    assert fees(subscription) == [
        (dt.date(2026, 11, 22), Decimal("21.00"), Decimal("24.00")),
        (dt.date(2026, 12, 22), Decimal("22.00"), Decimal("25.00")),
    ]
