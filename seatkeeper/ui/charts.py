"""Charts drawn on the server as SVG: no JavaScript library, nothing fetched from elsewhere, and
readable without the picture (a title and a description on the chart, a title on each bar and
point, and the same figures as a table beside it; see `ui/_money_chart.html`).

`money_chart` turns a money series (`billing.dashboard.MonthMoney`, one currency) into geometry:
a pair of bars per month (sale and cost; a customer's spend alone), the margin as a line with a
point per month, and a value axis with round steps. Pixel positions are display-only numbers
computed in Decimal and rounded to a tenth of a pixel; amounts stay Money and are formatted in
the reader's language (`core.formatting`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from seatkeeper.core.formatting import format_money, format_month

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 96, 12, 14, 40
STEPS = 4  # about this many intervals on the value axis


@dataclass(frozen=True)
class Bar:
    kind: str  # "revenue" or "cost"
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    label: str  # "Nov 2026: sales £25.00"
    url: str


@dataclass(frozen=True)
class Point:
    x: Decimal
    y: Decimal
    label: str


@dataclass(frozen=True)
class Tick:
    y: Decimal
    label: str


@dataclass(frozen=True)
class MonthLabel:
    x: Decimal
    label: str
    year: str  # shown under the first month and each January
    url: str


@dataclass(frozen=True)
class MoneyChart:
    currency: str
    title: str
    description: str
    width: int
    height: int
    bars: list[Bar]
    points: list[Point]
    ticks: list[Tick]
    months: list[MonthLabel]
    baseline: Decimal
    plot_left: int
    plot_right: int
    rows: list  # the MonthMoney rows, for the table beside the chart
    has_cost: bool

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x},{point.y}" for point in self.points)


def _pixels(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def nice_step(span: Decimal, steps: int = STEPS) -> Decimal:
    """A round step (1, 2 or 5 times a power of ten) giving about `steps` intervals over
    `span` (> 0)."""
    raw = span / steps
    power = Decimal(1).scaleb(raw.adjusted())
    fraction = raw / power
    for nice in (Decimal(1), Decimal(2), Decimal(5)):
        if fraction <= nice:
            return nice * power
    return Decimal(10) * power


def axis(low: Decimal, high: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """The axis's bottom, top and step: zero always shown, both ends on a round step."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if high == low:
        high = low + 1
    step = nice_step(high - low)
    bottom = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    top = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    return bottom, top, step


def money_chart(currency: str, rows: list) -> MoneyChart:
    """The chart of one currency's months (`rows`: MonthMoney, oldest first)."""
    has_cost = any(row.cost is not None for row in rows)
    values = [row.revenue.amount for row in rows]
    if has_cost:
        values += [row.cost.amount for row in rows] + [row.margin.amount for row in rows]
    bottom, top, step = axis(min(values, default=Decimal(0)), max(values, default=Decimal(0)))
    plot_width = Decimal(WIDTH - LEFT - RIGHT)
    plot_height = Decimal(HEIGHT - TOP - BOTTOM)

    def y_of(amount: Decimal) -> Decimal:
        return _pixels(TOP + (top - amount) / (top - bottom) * plot_height)

    baseline = y_of(Decimal(0))
    slot = plot_width / max(len(rows), 1)
    bar_width = slot * Decimal("0.34") if has_cost else slot * Decimal("0.56")
    bars, points, months = [], [], []
    for index, row in enumerate(rows):
        centre = LEFT + slot * index + slot / 2
        month = format_month(row.month)
        if has_cost:
            pairs = [
                ("revenue", row.revenue, _("%(month)s: sales %(amount)s")),
                ("cost", row.cost, _("%(month)s: cost %(amount)s")),
            ]
        else:
            pairs = [("revenue", row.revenue, _("%(month)s: billed %(amount)s"))]
        start = centre - bar_width * len(pairs) / 2
        for position, (kind, money, wording) in enumerate(pairs):
            top_y, bottom_y = sorted((y_of(money.amount), baseline))
            bars.append(
                Bar(
                    kind=kind,
                    x=_pixels(start + bar_width * position),
                    y=top_y,
                    width=_pixels(bar_width),
                    height=bottom_y - top_y,
                    label=wording % {"month": month, "amount": format_money(money)},
                    url=row.url,
                )
            )
        if has_cost:
            points.append(
                Point(
                    x=_pixels(centre),
                    y=y_of(row.margin.amount),
                    label=_("%(month)s: margin %(amount)s")
                    % {"month": month, "amount": format_money(row.margin)},
                )
            )
        first_or_january = index == 0 or row.month.month == 1
        months.append(
            MonthLabel(
                x=_pixels(centre),
                label=format_month(row.month, short=True),
                year=str(row.month.year) if first_or_january else "",
                url=row.url,
            )
        )
    ticks = []
    value = bottom
    while value <= top:
        ticks.append(Tick(y=y_of(value), label=format_money(value, currency)))
        value += step
    if rows:
        span = {"first": format_month(rows[0].month), "last": format_month(rows[-1].month)}
    else:
        span = {"first": "", "last": ""}
    if has_cost:
        title = _("Sales, cost and margin by month (%(currency)s)") % {"currency": currency}
        description = (
            _(
                "Bars: sales and cost of each month from %(first)s to %(last)s; line: the "
                "margin. The table below gives the same figures."
            )
            % span
        )
    else:
        title = _("Spending by month (%(currency)s)") % {"currency": currency}
        description = (
            _(
                "Bars: what was billed each month from %(first)s to %(last)s. The table below "
                "gives the same figures."
            )
            % span
        )
    return MoneyChart(
        currency=currency,
        title=title,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        points=points,
        ticks=ticks,
        months=months,
        baseline=baseline,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        rows=rows,
        has_cost=has_cost,
    )
