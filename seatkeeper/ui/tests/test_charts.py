"""The SVG chart's geometry for known figures: round axis steps, bars from the zero line (up for
an amount, down for a refund), the margin as points, labels in the reader's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import translation

from seatkeeper.billing.dashboard import MonthMoney
from seatkeeper.core.money import Money
from seatkeeper.ui.charts import axis, money_chart, nice_step


def month(day: dt.date, revenue: str, cost: str | None) -> MonthMoney:
    return MonthMoney(
        month=day,
        revenue=Money(revenue, "EUR"),
        cost=None if cost is None else Money(cost, "EUR"),
        url=f"/billing/report/?m={day:%Y-%m}",
    )


def test_axis_steps_are_round_and_include_zero():
    assert nice_step(Decimal(190)) == Decimal(50)
    assert nice_step(Decimal("0.9")) == Decimal("0.5")
    assert axis(Decimal(0), Decimal(190)) == (Decimal(0), Decimal(200), Decimal(50))
    assert axis(Decimal(-30), Decimal(70)) == (Decimal(-50), Decimal(100), Decimal(50))
    assert axis(Decimal(0), Decimal(0)) == (Decimal(0), Decimal(1), Decimal("0.5"))


def test_a_refund_month_goes_below_the_zero_line_and_the_margin_follows():
    rows = [
        month(dt.date(2026, 10, 1), "70.00", "30.00"),  # margin 40
        month(dt.date(2026, 11, 1), "-30.00", "-10.00"),  # refunds; margin -20
    ]
    chart = money_chart("EUR", rows)

    # axis -50 → 100 (steps of 50) over 206 px from y=14: zero at 14 + 100/150 × 206 = 151.3
    assert chart.baseline == Decimal("151.3")
    assert [tick.y for tick in chart.ticks] == [
        Decimal("220.0"),
        Decimal("151.3"),
        Decimal("82.7"),
        Decimal("14.0"),
    ]
    october_sale, october_cost, november_sale, november_cost = chart.bars
    assert (october_sale.y, october_sale.height) == (Decimal("55.2"), Decimal("96.1"))
    assert (october_cost.y, october_cost.height) == (Decimal("110.1"), Decimal("41.2"))
    # below zero: the bar starts at the zero line and goes down to -30 (y=192.5)
    assert (november_sale.y, november_sale.height) == (Decimal("151.3"), Decimal("41.2"))
    assert (november_cost.y, november_cost.height) == (Decimal("151.3"), Decimal("13.8"))
    assert [point.y for point in chart.points] == [Decimal("96.4"), Decimal("178.8")]
    # two months: each takes half of the 612 px plot, the bars side by side around its middle
    assert [point.x for point in chart.points] == [Decimal("249.0"), Decimal("555.0")]
    assert (october_sale.x, october_sale.width, october_cost.x) == (
        Decimal("145.0"),
        Decimal("104.0"),
        Decimal("249.0"),
    )
    assert chart.polyline == "249.0,96.4 555.0,178.8"


def test_a_customer_chart_has_one_bar_a_month_and_no_margin():
    chart = money_chart("EUR", [month(dt.date(2026, 1, 1), "12.00", None)])

    (bar,) = chart.bars
    assert bar.kind == "revenue" and chart.points == [] and not chart.has_cost
    assert bar.label == "Jan 2026: billed €12.00"
    assert chart.months[0].year == "2026"


def test_labels_are_in_the_readers_language():
    rows = [month(dt.date(2026, 9, 1), "1234.50", "1000.00")]
    with translation.override("fr"):
        chart = money_chart("EUR", rows)

    sale, _cost = chart.bars
    assert sale.label == "sept. 2026\u00a0: ventes 1\u202f234,50\u00a0€"
    assert chart.points[0].label == "sept. 2026\u00a0: marge 234,50\u00a0€"
    assert chart.title == "Ventes, coût et marge par mois (EUR)"
    assert [tick.label for tick in chart.ticks][-1] == "1\u202f500,00\u00a0€"
