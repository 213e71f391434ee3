"""The billing report (seed 001): one report per billing cycle in a date range, grouped date →
subscription → detail, each person seeing their own audience's prices.

One filter definition (`ReportFilter`) serves the page, the exports, the statements and the API.

Who sees what (the columns):
- partner staff: the partner cost, and the sale price (the reseller price for a reseller's
  customer, the customer price for a direct customer);
- a reseller: its cost (the reseller price) and its customers' prices;
- a customer: its own price only, and never the rules behind it.

Totals are per currency and add the lines' rounded amounts: a report's total is always the sum
of its lines, in every currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.billing import cycles
from seatkeeper.billing.models import BillingCycle, ChargeKind, ChargeLine, RunState
from seatkeeper.catalog.models import add_months
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.formatting import format_date, format_money, format_unit_price
from seatkeeper.core.money import quantize
from seatkeeper.pricing.engine import Source
from seatkeeper.pricing.models import PriceListEntry

MAX_MONTHS = 36
LAST_MONTH = "last_month"
CUSTOM = "custom"


# --- whose prices ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str


def viewer_kind(user: User) -> str:
    return user.organisation.kind if user.organisation_id else OrganisationKind.CUSTOMER


def columns_for(user: User) -> list[Column]:
    kind = viewer_kind(user)
    if kind == OrganisationKind.PARTNER:
        return [Column("cost", _("Partner cost")), Column("sale", _("Sale price"))]
    if kind == OrganisationKind.RESELLER:
        return [
            Column("cost", _("Your cost (reseller price)")),
            Column("sale", _("Customer price")),
        ]
    return [Column("price", _("Price"))]


def _tiers(kind: str, line: dict) -> list[str]:
    """The price fields each column reads for `line`."""
    if kind == OrganisationKind.PARTNER:
        sale = "reseller_price" if line["reseller_id"] else "customer_price"
        return ["partner_cost", sale]
    if kind == OrganisationKind.RESELLER:
        return ["reseller_price", "customer_price"]
    return ["customer_price"]


# --- money as the reader writes it -------------------------------------------------------------


def money_text(amount: Decimal | None, currency: str, *, unit: bool = False) -> str:
    """`amount` in the reader's locale (core.formatting): "£1,234.50", "1 234,50 €"; a unit
    price keeps up to four decimals when it has them."""
    if amount is None:
        return ""
    return (format_unit_price if unit else format_money)(amount, currency)


def date_text(day: dt.date) -> str:
    return format_date(day)


# --- the filter --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilter:
    """Whose report (an organisation the viewer may see) and which dates: the cycles ending
    between `first` and `last`."""

    organisation: Organisation
    first: dt.date
    last: dt.date
    period: str
    month_from: str
    month_to: str

    @property
    def accounts(self) -> list[int]:
        """The billing accounts whose cycles the report shows."""
        organisation = self.organisation
        if organisation.kind == OrganisationKind.CUSTOMER:
            return [organisation.parent_id]
        if organisation.kind == OrganisationKind.RESELLER:
            return [organisation.pk]
        resellers = Organisation.objects.filter(parent=organisation, kind=OrganisationKind.RESELLER)
        return [organisation.pk, *resellers.values_list("pk", flat=True)]

    def lines(self) -> QuerySet[ChargeLine]:
        lines = ChargeLine.objects.filter(
            cycle__account_id__in=self.accounts,
            cycle__end_date__gte=self.first,
            cycle__end_date__lte=self.last,
        )
        if self.organisation.kind == OrganisationKind.CUSTOMER:
            lines = lines.filter(customer=self.organisation)
        return lines

    def query(self) -> dict[str, str]:
        values = {"organisation": str(self.organisation.pk), "period": self.period}
        if self.period == CUSTOM:
            values.update({"from": self.month_from, "to": self.month_to})
        return values


def _month(text: str, name: str) -> dt.date:
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise ServiceError(_("Give a month as YYYY-MM, e.g. 2026-09."), field=name) from None


def report_filter(user: User, params) -> ReportFilter:
    """Read the filter from query parameters; a bad value is a ServiceError naming its field,
    another organisation's report answers 404."""
    if user.organisation_id is None:
        raise Http404("No organisation")
    organisation = user.organisation
    if params.get("organisation"):
        organisation = get_organisation_for_user(user, params["organisation"])
    period = params.get("period") or LAST_MONTH
    if period not in (LAST_MONTH, CUSTOM):
        raise ServiceError(_("Choose last month or a custom range."), field="period")
    this_month = clock.today().replace(day=1)
    if period == LAST_MONTH:
        first = add_months(this_month, -1)
        last = this_month - dt.timedelta(days=1)
        month_from = month_to = first.strftime("%Y-%m")
    else:
        month_from = params.get("from") or ""
        month_to = params.get("to") or month_from
        first = _month(month_from, "from")
        last = add_months(_month(month_to, "to"), 1) - dt.timedelta(days=1)
        if last < first:
            raise ServiceError(_("The range ends before it starts."), field="to")
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        if months > MAX_MONTHS:
            raise ServiceError(
                _("Choose at most %(count)s months.") % {"count": MAX_MONTHS}, field="to"
            )
    return ReportFilter(organisation, first, last, period, month_from, month_to)


# --- the report ------------------------------------------------------------------------------

LINE_FIELDS = [
    "id", "cycle__start_date", "cycle__end_date", "subscription_id", "subscription__friendly_name",
    "subscription__po_number", "subscription__parent_id", "offer__title", "offer__item_code",
    "customer_id", "customer__name", "reseller_id", "reseller__name", "kind", "quantity",
    "currency", "charged_on", "period_start", "period_end", "days", "period_days", "term",
    "billing_cycle", "operation_id", "operation__sequence", "corrects_id", "details",
    "partner_cost_unit", "partner_cost_amount", "partner_cost_source", "partner_cost_source_id",
    "reseller_price_unit", "reseller_price_amount", "reseller_price_source",
    "reseller_price_source_id", "customer_price_unit", "customer_price_amount",
    "customer_price_source", "customer_price_source_id",
]  # fmt: skip


@dataclass
class Totals:
    """Amounts per currency, one per column."""

    width: int
    by_currency: dict[str, list[Decimal]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)

    def add(self, currency: str, amounts: list[Decimal]) -> None:
        current = self.by_currency.setdefault(currency, [Decimal(0)] * self.width)
        for index, amount in enumerate(amounts):
            current[index] += amount

    def rows(self) -> list[tuple[str, list[Decimal]]]:
        return sorted(self.by_currency.items())

    def labelled(self) -> list[tuple[str, list[tuple[str, Decimal]]]]:
        """(currency, [(column label, amount)]) for the page."""
        return [
            (currency, list(zip(self.labels, amounts, strict=True)))
            for currency, amounts in self.rows()
        ]


@dataclass
class LineView:
    values: dict
    units: list[Decimal | None]
    amounts: list[Decimal]
    explanation: str
    sources: list[tuple[str, str]]  # (text, url) of the price each column read

    @property
    def id(self) -> int:
        return self.values["id"]


@dataclass
class Detail:
    kind: str
    label: str
    currency: str
    units: list[Decimal | None]
    quantity: int = 0
    amounts: list[Decimal] = field(default_factory=list)
    lines: list[LineView] = field(default_factory=list)

    @property
    def prices(self) -> list[tuple[Decimal | None, Decimal]]:
        return list(zip(self.units, self.amounts, strict=True))


@dataclass
class SubscriptionReport:
    id: int
    name: str
    po_number: str
    offer: str
    customer_id: int
    customer: str
    reseller: str
    totals: Totals
    details: list[Detail] = field(default_factory=list)


@dataclass
class CycleReport:
    start: dt.date
    end: dt.date
    billed: bool
    totals: Totals
    subscriptions: list[SubscriptionReport] = field(default_factory=list)
    customers: dict[int, str] = field(default_factory=dict)

    @property
    def report_date(self) -> dt.date:
        return self.end + dt.timedelta(days=1)

    @property
    def key(self) -> str:
        return self.end.isoformat()


@dataclass
class Report:
    filter: ReportFilter
    columns: list[Column]
    cycles: list[CycleReport]
    totals: Totals

    @property
    def detail_width(self) -> int:
        """Columns of a detail table: type, quantity, and a unit price and amount per column."""
        return 2 + 2 * len(self.columns)


KIND_ORDER = [kind.value for kind in ChargeKind]


def price_lists(lines: list[dict]) -> dict[int, tuple[int, str]]:
    entry_ids = {
        line[f"{tier}_source_id"]
        for line in lines
        for tier in ("partner_cost", "reseller_price", "customer_price")
        if line[f"{tier}_source"] == Source.PRICE_LIST and line[f"{tier}_source_id"]
    }
    if not entry_ids:
        return {}
    return {
        pk: (list_id, name)
        for pk, list_id, name in PriceListEntry.objects.filter(pk__in=entry_ids).values_list(
            "pk", "price_list_id", "price_list__name"
        )
    }


def _source(line: dict, tier: str, kind: str, lists: dict) -> tuple[str, str]:
    """Which rule or list set a price, as a link, for people allowed to see it."""
    source, source_id = line[f"{tier}_source"], line[f"{tier}_source_id"]
    if kind == OrganisationKind.CUSTOMER:
        return "", ""  # a customer never sees its reseller's rules
    if source == Source.RULE and source_id:
        return _("Rule #%(id)s") % {"id": source_id}, reverse("pricing_rules")
    if source == Source.PRICE_LIST and source_id in lists:
        list_id, name = lists[source_id]
        return (
            _("Price list “%(name)s”") % {"name": name},
            reverse("pricing_price_list", args=[list_id]),
        )
    labels = {
        Source.LIST_PRICE: _("vendor list price"),
        Source.AT_COST: _("at cost"),
        Source.VENDOR_PRICE: _("vendor price"),
    }
    return labels.get(source, ""), ""


def explain(line: dict, unit: Decimal | None) -> str:
    """The working of one line, in the reader's language and locale."""
    currency = line["currency"]
    last_day = line["period_end"] - dt.timedelta(days=1)
    quantity = abs(line["quantity"])
    details = line["details"] or {}
    if line["kind"] == ChargeKind.CORRECTION:
        text = _("Reverses line #%(id)s.") % {"id": line["corrects_id"]}
        if details.get("reason") == "withdrawn":
            text += " " + _("The event it billed is no longer accepted by the vendor.")
        else:
            text += " " + _("The event it billed now costs another amount.")
        return text
    if line["kind"] in (ChargeKind.PRORATA, ChargeKind.REFUND):
        text = _(
            "%(quantity)s × %(price)s × %(days)s/%(period_days)s days (%(start)s to %(end)s)."
        ) % {
            "quantity": quantity,
            "price": money_text(unit, currency, unit=True),
            "days": line["days"],
            "period_days": line["period_days"],
            "start": date_text(line["period_start"]),
            "end": date_text(last_day),
        }
    else:
        text = _("%(quantity)s × %(price)s for %(start)s to %(end)s.") % {
            "quantity": quantity,
            "price": money_text(unit, currency, unit=True),
            "start": date_text(line["period_start"]),
            "end": date_text(last_day),
        }
    notes = []
    if details.get("cancellation"):
        notes.append(_("Cancelled within the vendor's window: refunded pro rata."))
    elif "previous" in details:
        notes.append(
            _("Seats %(before)s → %(after)s.")
            % {"before": details["previous"], "after": details["quantity"]}
        )
    if details.get("renewal"):
        notes.append(_("First period of the renewed term."))
    if details.get("suspended"):
        notes.append(_("Suspended: the vendor goes on billing it."))
    if details.get("addon_of"):
        notes.append(_("Add-on of subscription #%(id)s.") % {"id": details["addon_of"]})
    if line["corrects_id"]:
        notes.append(_("Replaces line #%(id)s.") % {"id": line["corrects_id"]})
    return " ".join([text, *notes])


def line_view(line: dict, kind: str, lists: dict) -> LineView:
    tiers = _tiers(kind, line)
    units = [line[f"{tier}_unit"] for tier in tiers]
    # Stored at four places; every amount was rounded to the currency when the line was made.
    amounts = [quantize(line[f"{tier}_amount"] or Decimal(0), line["currency"]) for tier in tiers]
    return LineView(
        values=line,
        units=units,
        amounts=amounts,
        explanation=explain(line, units[-1]),
        sources=[_source(line, tier, kind, lists) for tier in tiers],
    )


def iter_line_views(user: User, report_filter: ReportFilter, *, chunk: int = 2000):
    """Every line of the report as the viewer sees it, in report order, in flat memory."""
    kind = viewer_kind(user)
    rows = report_filter.lines().order_by("cycle__end_date", "subscription_id", "charged_on", "pk")
    batch: list[dict] = []
    for row in rows.values(*LINE_FIELDS).iterator(chunk_size=chunk):
        batch.append(row)
        if len(batch) >= chunk:
            lists = price_lists(batch)
            yield from (line_view(line, kind, lists) for line in batch)
            batch = []
    if batch:
        lists = price_lists(batch)
        yield from (line_view(line, kind, lists) for line in batch)


def _cycles_in_range(report_filter: ReportFilter) -> dict[tuple, bool]:
    """Every cycle of the report's accounts ending in the range, and whether it was billed."""
    found: dict[tuple, bool] = {}
    settings = cycles.settings_by_account(report_filter.accounts)
    for account_settings in settings.values():
        for cycle in cycles.cycles_ending_between(
            account_settings, report_filter.first, report_filter.last
        ):
            found.setdefault((cycle.start, cycle.end), False)
    billed = BillingCycle.objects.filter(
        account_id__in=report_filter.accounts,
        end_date__gte=report_filter.first,
        end_date__lte=report_filter.last,
        runs__state=RunState.DONE,
    ).values_list("start_date", "end_date")
    for key in billed:
        found[key] = True
    return found


def build_report(user: User, report_filter: ReportFilter) -> Report:
    """The whole report in memory: for a page (a customer's, a reseller's or a partner's month
    or months); exports stream the lines instead."""
    columns = columns_for(user)
    width = len(columns)
    labels = dict(ChargeKind.choices)
    column_labels = [column.label for column in columns]
    by_cycle: dict[tuple, CycleReport] = {
        key: CycleReport(key[0], key[1], billed, Totals(width, labels=column_labels))
        for key, billed in sorted(_cycles_in_range(report_filter).items())
    }
    subscriptions: dict[tuple, SubscriptionReport] = {}
    details: dict[tuple, Detail] = {}
    grand = Totals(width, labels=column_labels)
    for view in iter_line_views(user, report_filter):
        line = view.values
        key = (line["cycle__start_date"], line["cycle__end_date"])
        cycle = by_cycle.get(key)
        if cycle is None:
            cycle = by_cycle[key] = CycleReport(
                key[0], key[1], True, Totals(width, labels=column_labels)
            )
        cycle.customers[line["customer_id"]] = line["customer__name"]
        subscription_key = (key, line["subscription_id"])
        subscription = subscriptions.get(subscription_key)
        if subscription is None:
            subscription = subscriptions[subscription_key] = SubscriptionReport(
                id=line["subscription_id"],
                name=line["subscription__friendly_name"],
                po_number=line["subscription__po_number"],
                offer=line["offer__title"],
                customer_id=line["customer_id"],
                customer=line["customer__name"],
                reseller=line["reseller__name"] or "",
                totals=Totals(width),
            )
            cycle.subscriptions.append(subscription)
        detail_key = (subscription_key, line["kind"], line["currency"], tuple(view.units))
        detail = details.get(detail_key)
        if detail is None:
            detail = details[detail_key] = Detail(
                kind=line["kind"],
                label=str(labels[line["kind"]]),
                currency=line["currency"],
                units=view.units,
                amounts=[Decimal(0)] * width,
            )
            subscription.details.append(detail)
        detail.quantity += line["quantity"]
        detail.amounts = [a + b for a, b in zip(detail.amounts, view.amounts, strict=True)]
        detail.lines.append(view)
        subscription.totals.add(line["currency"], view.amounts)
        cycle.totals.add(line["currency"], view.amounts)
        grand.add(line["currency"], view.amounts)
    for subscription in subscriptions.values():
        subscription.details.sort(key=lambda item: KIND_ORDER.index(item.kind))
    ordered = [by_cycle[key] for key in sorted(by_cycle)]
    return Report(filter=report_filter, columns=columns, cycles=ordered, totals=grand)


def statement_cycle(user: User, customer: Organisation, end: dt.date) -> BillingCycle:
    """The billed cycle ending on `end` of `customer`'s billing account, or 404."""
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Statements are per customer")
    cycle = BillingCycle.objects.filter(account_id=customer.parent_id, end_date=end).first()
    if cycle is None:
        raise Http404("No billed cycle ends on that day")
    return cycle


def report_organisations(user: User) -> list[Organisation]:
    """The organisations the report's selector offers: one's own, and the billing accounts or
    customers just below it."""
    own = user.organisation
    if own is None:
        return []
    below = Organisation.objects.filter(parent=own).order_by("kind", "name")
    if own.kind == OrganisationKind.PARTNER:
        below = below.filter(kind=OrganisationKind.RESELLER)
    return [own, *below[:500]]
