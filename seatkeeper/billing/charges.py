"""The billing run: each subscription's timeline, turned into charge lines for one billing cycle.

A run replays every subscription of a billing account (cycles.py) from its operations history
and seat lots, and prices each event through the same code as the quotes people see
(`pricing.quotes`): `period_charge` for a cycle fee, `change_charges` for a change. It then
compares what each event should cost with the lines already issued for it and writes only the
differences. Lines are never changed.

The rules, written once:
- What is billed: only what the vendor accepted. The order and every later change count once
  their operation is DONE; a pending, failed, rejected or withdrawn operation (and the seat lot
  it bought) is not billed. A change accepted after its cycle was billed is picked up when that
  cycle runs again (the daily job runs each account's last two ended cycles).
- Which cycle: a cycle fee belongs to the cycle holding the first day of the subscription's
  billing period (the vendor's date); a pro-rata or a refund to the cycle holding the day of
  the change, read in the account's time zone.
- Cycle fee: every billing period of the subscription (from its term start, one billing cycle
  at a time) that begins in the cycle, at the quantity held when it begins, priced as of that
  day. A prepaid term is one period, billed as a one-time charge. A "none" billing cycle (a
  trial or a free item) is not billed.
- Pro-rata and refund: each accepted quantity change and cancellation, through
  `change_charges`, with the facts the quote had (quantity, seat lots, billing period and
  moment just before the change, replayed from the history). So the quote a person saw is the
  charge billed. A manual vendor's decrease outside the refund window is not refunded.
- Suspension: the vendor goes on billing a suspended subscription (New Commerce), so its fees
  go on; the line says it was suspended. Cancellation and expiry stop the fees.
- Renewal: the new term's first period is a cycle fee at the renewed quantity, term and cycle
  (changes scheduled for renewal take effect there). Add-ons are subscriptions of their own,
  billed alike; their lines name the base subscription.
- Discovered subscriptions (imported by discovery, not ordered here: no order of ours, a
  REFRESH operation marked "imported" and the seat lots discovery priced): billed from what is
  known. Their term starts on the vendor's start date when the vendor gives one, else on the
  day discovery first saw them, at the quantity and seat lots held then; from there they are
  billed as any other subscription (cycle fees priced as of each period's first day; the
  pricing engine applies the first known vendor price to days before it). A change discovery
  adopts from the vendor (a REFRESH operation carrying "adopted" values) is billed like the
  same change made here: a quantity raised is a pro-rata (its seats a lot bought that
  moment), lowered a refund, a cancellation a refund that ends the fees, a suspension flags
  the fees; a change the quote rules would have refused here (a decrease after the refund
  window) was the vendor's to allow, so it is taken without a refund line. Term and billing
  cycle changes seen at the vendor take effect at the next renewal, as the vendor bills them.
- Money: each line's amount at each audience (partner cost, reseller price, customer price) is
  rounded once, to the currency's minor unit (`core.money`); totals add rounded lines and are
  never rounded again.
- Immutability: a line whose event now costs something else is reversed by a CORRECTION line
  (the same figures negated, naming the line it corrects) and a new line follows, also naming
  it; a line whose event vanished is only reversed. A run that finds nothing new writes no
  line, so runs can be repeated.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict, deque
from dataclasses import dataclass, field

from django.db import connections, router, transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts import permissions
from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.accounts.selectors import partner_of
from seatkeeper.activity.services import activity_record
from seatkeeper.billing import cycles
from seatkeeper.billing.models import BillingCycle, BillingRun, ChargeKind, ChargeLine, RunState
from seatkeeper.catalog.models import TERM_MONTHS, add_months, cycle_months
from seatkeeper.catalog.models import BillingCycle as Cadence
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.engine import PricingContext
from seatkeeper.pricing.quotes import (
    Charge,
    ProposedChange,
    SubscriptionFacts,
    change_charges,
    period_charge_tiers,
)
from seatkeeper.pricing.quotes import (
    SeatLot as LotFact,
)
from seatkeeper.subscriptions.models import (
    LotKind,
    Operation,
    OperationKind,
    OperationState,
    SeatLot,
    Status,
    Subscription,
)

logger = logging.getLogger(__name__)

CHUNK = 2000  # subscriptions read, priced and written per transaction
MAX_PROBLEMS = 100  # problems kept on a run (the count is always complete)
TIMELINE_KINDS = [
    OperationKind.CREATE,
    OperationKind.QUANTITY,
    OperationKind.SUSPEND,
    OperationKind.REACTIVATE,
    OperationKind.CANCEL,
    OperationKind.RENEW,
    OperationKind.EXPIRE,
    OperationKind.REFRESH,
]
AUDIENCE_FIELDS = {
    Audience.PARTNER_COST: "partner_cost",
    Audience.RESELLER_PRICE: "reseller_price",
    Audience.CUSTOMER_PRICE: "customer_price",
}
LINE_COLUMNS = [
    "cycle_id", "subscription_id", "customer_id", "reseller_id", "offer_id", "source_key",
    "operation_id", "charged_on", "occurred_at", "period_start", "period_end", "days",
    "period_days", "term", "billing_cycle", "currency",
    "partner_cost_unit", "partner_cost_source", "partner_cost_source_id",
    "reseller_price_unit", "reseller_price_source", "reseller_price_source_id",
    "customer_price_unit", "customer_price_source", "customer_price_source_id",
    "quantity", "partner_cost_amount", "reseller_price_amount", "customer_price_amount",
]  # fmt: skip
COMPARED = [
    "kind", "quantity", "currency", "period_start", "period_end",
    "partner_cost_unit", "partner_cost_amount", "reseller_price_unit", "reseller_price_amount",
    "customer_price_unit", "customer_price_amount",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Window:
    """The cycle being billed: its dates (included) and the zone they are read in."""

    start: dt.date
    end: dt.date
    time_zone: str

    def holds_moment(self, moment: dt.datetime) -> bool:
        return self.start <= cycles.local_date(moment, self.time_zone) <= self.end


@dataclass(slots=True)
class Expected:
    """What one event of the timeline costs, at every audience."""

    key: str
    kind: str
    occurred_at: dt.datetime
    charged_on: dt.date
    charges: dict[Audience, Charge]
    term: str
    billing_cycle: str
    operation_id: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def first(self) -> Charge:
        return next(iter(self.charges.values()))

    def values(self) -> dict:
        charge = self.first
        row = {
            "kind": self.kind,
            "source_key": self.key,
            "operation_id": self.operation_id,
            "charged_on": self.charged_on,
            "occurred_at": self.occurred_at,
            "period_start": charge.period_start,
            "period_end": charge.period_end,
            "days": charge.days,
            "period_days": charge.period_days,
            "term": self.term,
            "billing_cycle": self.billing_cycle,
            "quantity": charge.quantity,
            "currency": charge.amount.currency,
            "details": self.details,
        }
        for audience, prefix in AUDIENCE_FIELDS.items():
            priced = self.charges.get(audience)
            row[f"{prefix}_unit"] = priced.unit_price if priced else None
            row[f"{prefix}_amount"] = priced.amount.amount if priced else None
            row[f"{prefix}_source"] = str(priced.price_source) if priced else ""
            row[f"{prefix}_source_id"] = priced.price_source_id if priced else None
        return row


@dataclass(slots=True)
class _Lot:
    id: int
    quantity: int  # seats left at this point of the replay
    purchased_at: dt.datetime
    currency: str


@dataclass(frozen=True, slots=True)
class _Subscription:
    id: int
    customer_id: int
    reseller_id: int | None
    offer_id: int
    parent_id: int | None
    is_manual: bool
    # The row's own facts: what a discovered subscription recorded before its import operation
    # carried them.
    term_start: dt.date | None = None
    term: str = ""
    billing_cycle: str = ""


class Problem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def period_holding(term_start: dt.date, months: int, on: dt.date) -> tuple[dt.date, dt.date]:
    """The billing period holding `on`, counted from the term start one cycle at a time (as
    `subscriptions.services.current_period`, which the quotes use)."""
    step = max((on.year - term_start.year) * 12 + on.month - term_start.month, 0) // months
    step = max(step - 1, 0)
    while add_months(term_start, months * (step + 1)) <= on:
        step += 1
    return add_months(term_start, months * step), add_months(term_start, months * (step + 1))


class Timeline:
    """One subscription replayed from its accepted operations, producing what each event in
    the window costs."""

    def __init__(
        self,
        subscription: _Subscription,
        lots: list[dict],
        operations: list[dict],
        window: Window,
        context: PricingContext,
    ) -> None:
        self.subscription = subscription
        self.window = window
        self.context = context
        self.audiences = [Audience.PARTNER_COST, Audience.CUSTOMER_PRICE]
        if subscription.reseller_id is not None:
            self.audiences.insert(1, Audience.RESELLER_PRICE)
        self.unmatched: dict[str, deque] = defaultdict(deque)
        for lot in lots:
            self.unmatched[lot["kind"]].append(lot)
        self.operations = operations
        self.lots: list[_Lot] = []
        self.live = False
        self.suspended = False
        self.quantity = 0
        self.term = ""
        self.billing_cycle = ""
        self.term_start: dt.date | None = None
        self.next_period: dt.date | None = None
        self.renewed = False
        self.out: list[Expected] = []

    # --- state --------------------------------------------------------------------------

    def _lot(self, kind: str) -> _Lot | None:
        """The seat lot bought with the operation being replayed: lots and operations of one
        kind are written together, in the same order."""
        queue = self.unmatched.get(kind)
        if not queue:
            return None
        row = queue.popleft()
        return _Lot(row["id"], row["original_quantity"], row["purchased_at"], row["currency"])

    def _facts(self, at: dt.datetime) -> SubscriptionFacts:
        months = cycle_months(self.term, self.billing_cycle)
        on = max(at.astimezone(dt.UTC).date(), self.term_start)
        period_start, period_end = period_holding(self.term_start, months, on)
        held = [lot for lot in self.lots if lot.quantity > 0]
        default = dt.datetime.combine(self.term_start, dt.time(), tzinfo=dt.UTC)
        return SubscriptionFacts(
            offer_id=self.subscription.offer_id,
            customer_id=self.subscription.customer_id,
            quantity=self.quantity,
            term=self.term,
            billing_cycle=self.billing_cycle,
            period_start=period_start,
            period_end=period_end,
            purchased_at=min((lot.purchased_at for lot in held), default=default),
            seat_lots=tuple(
                LotFact(quantity=lot.quantity, purchased_at=lot.purchased_at) for lot in held
            ),
            subscription_ref=str(self.subscription.id),
            currency=self.lots[0].currency if self.lots else None,
        )

    def _add_lot(self, lot: _Lot | None) -> None:
        if lot is not None:
            self.lots.append(lot)
            self.lots.sort(key=lambda item: (item.purchased_at, item.id))

    def _take_seats(self, count: int) -> None:
        """Newest seats go first, as `subscriptions.services._take_seats` takes them."""
        for lot in sorted(self.lots, key=lambda item: (item.purchased_at, item.id), reverse=True):
            if count <= 0:
                break
            taken = min(lot.quantity, count)
            lot.quantity -= taken
            count -= taken

    def _start_term(self, start: dt.date, quantity: int, term: str, billing_cycle: str) -> None:
        self.term_start, self.quantity, self.term, self.billing_cycle = (
            start,
            quantity,
            term,
            billing_cycle,
        )
        self.next_period = start
        self.live = True
        self.suspended = False

    # --- events -----------------------------------------------------------------------------

    def _details(self, **extra) -> dict:
        details = dict(extra)
        if self.subscription.parent_id:
            details["addon_of"] = self.subscription.parent_id
        return details

    def _fees_until(self, moment: dt.datetime) -> None:
        """Cycle fees of the billing periods that begin before `moment`."""
        if not self.live or self.next_period is None:
            return
        months = cycle_months(self.term, self.billing_cycle)
        term_end = add_months(self.term_start, TERM_MONTHS[self.term])
        if self.next_period < self.window.start:
            # Periods before the cycle bill nothing here: go straight to the first one in it.
            start, end = period_holding(self.term_start, months, self.window.start)
            first = start if start >= self.window.start else end
            self.next_period = max(self.next_period, min(first, term_end))
            self.renewed = self.renewed and self.next_period == self.term_start
        while self.next_period < term_end and (
            dt.datetime.combine(self.next_period, dt.time(), tzinfo=dt.UTC) <= moment
        ):
            start = self.next_period
            _previous, end = period_holding(self.term_start, months, start)
            if self.window.start <= start <= self.window.end:
                self._fee(start, end)
            self.next_period = end
            self.renewed = False

    def _fee(self, start: dt.date, end: dt.date) -> None:
        if self.billing_cycle == Cadence.NONE or self.quantity <= 0:
            return
        facts = SubscriptionFacts(
            offer_id=self.subscription.offer_id,
            customer_id=self.subscription.customer_id,
            quantity=self.quantity,
            term=self.term,
            billing_cycle=self.billing_cycle,
            period_start=start,
            period_end=end,
            purchased_at=dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC),
            subscription_ref=str(self.subscription.id),
            currency=self.lots[0].currency if self.lots else None,
        )
        charges = period_charge_tiers(
            facts=facts, audiences=self.audiences, context=self.context, explained=False
        )
        flags = {}
        if self.suspended:
            flags["suspended"] = True
        if self.renewed:
            flags["renewal"] = True
        prepaid = self.billing_cycle == Cadence.PREPAID
        kind = ChargeKind.ONE_TIME if prepaid else ChargeKind.CYCLE_FEE
        self.out.append(
            Expected(
                key=f"fee:{start.isoformat()}",
                kind=kind,
                occurred_at=dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC),
                charged_on=start,
                charges=charges,
                term=self.term,
                billing_cycle=self.billing_cycle,
                details=self._details(**flags),
            )
        )

    def _change(
        self, operation: dict, at: dt.datetime, quantity: int, *, at_vendor: bool = False, **flags
    ) -> None:
        if not self.window.holds_moment(at):
            return
        facts = self._facts(at)
        try:
            priced = {
                audience: change_charges(
                    facts=facts,
                    change=ProposedChange(quantity=quantity),
                    at=at,
                    audience=audience,
                    context=self.context,
                )
                for audience in self.audiences
            }
        except ServiceError as error:
            if self.subscription.is_manual and quantity < self.quantity:
                return  # a manual vendor's late decrease: allowed, and not refunded
            if at_vendor:
                return  # done at the vendor, who allowed it: nothing of ours to bill
            raise Problem(error.code, error.message) from error
        lines = next(iter(priced.values()))
        if not lines:
            return
        kind = ChargeKind.PRORATA if quantity > self.quantity else ChargeKind.REFUND
        self.out.append(
            Expected(
                key=f"op:{operation['id']}",
                kind=kind,
                occurred_at=at,
                charged_on=cycles.local_date(at, self.window.time_zone),
                charges={audience: charges[0] for audience, charges in priced.items()},
                term=self.term,
                billing_cycle=self.billing_cycle,
                operation_id=operation["id"],
                details=self._details(
                    previous=self.quantity,
                    quantity=quantity,
                    **({"at_vendor": True} if at_vendor else {}),
                    **flags,
                ),
            )
        )

    def _imported(self, operation: dict) -> None:
        """Discovery brought the subscription in: its term starts as the vendor said, with the
        seat lots discovery wrote with it (those bought by then; later lots are later changes)."""
        payload, at = operation["payload"], operation["requested_at"]
        row = self.subscription
        start = (
            dt.date.fromisoformat(payload["term_start"])
            if payload.get("term_start")
            else row.term_start or at.date()
        )
        until = max(at, dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
        self.lots = []
        for queue in self.unmatched.values():
            while queue and queue[0]["purchased_at"] <= until:
                lot = queue.popleft()
                self._add_lot(
                    _Lot(lot["id"], lot["original_quantity"], lot["purchased_at"], lot["currency"])
                )
        quantity = payload.get("quantity")
        if quantity is None:
            quantity = sum(lot.quantity for lot in self.lots)
        self._start_term(
            start,
            int(quantity),
            payload.get("term") or row.term,
            payload.get("billing_cycle") or row.billing_cycle,
        )
        status = payload.get("status")
        if status in (Status.CANCELLED, Status.EXPIRED):
            self.live = False
        self.suspended = status == Status.SUSPENDED

    def _adopted(self, operation: dict, adopted: dict, at: dt.datetime) -> None:
        """A change discovery adopted from the vendor, billed as the same change made here."""
        self._fees_until(at)
        status = adopted.get("status")
        if status in (Status.CANCELLED, Status.EXPIRED):
            if status == Status.CANCELLED and self.quantity:
                self._change(operation, at, 0, at_vendor=True, cancellation=True)
            for held in self.lots:
                held.quantity = 0
            self.live = False
            return
        if status == Status.SUSPENDED:
            self.suspended = True
        elif status == Status.ACTIVE:
            self.suspended = False
        if adopted.get("quantity") is None:
            return
        new = int(adopted["quantity"])
        if new > self.quantity:
            self._change(operation, at, new, at_vendor=True)
            currency = self.lots[0].currency if self.lots else ""
            # The seats bought at the vendor: a lot of that moment (no row of ours holds it).
            self._add_lot(_Lot(-operation["id"], new - self.quantity, at, currency))
        elif new < self.quantity:
            self._change(operation, at, new, at_vendor=True)
            self._take_seats(self.quantity - new)
        self.quantity = new

    def replay(self) -> list[Expected]:
        for operation in self.operations:
            kind, state, payload = operation["kind"], operation["state"], operation["payload"]
            done = state == OperationState.DONE
            at = operation["requested_at"]
            if kind == OperationKind.REFRESH:
                if not done:
                    continue
                if payload.get("imported") and not self.live:
                    self._imported(operation)
                elif payload.get("adopted") and self.live:
                    self._adopted(operation, payload["adopted"], at)
                continue
            if kind == OperationKind.CREATE:
                lot = self._lot(LotKind.PURCHASE)
                if not done:
                    continue
                self._start_term(
                    dt.date.fromisoformat(payload["start_date"]),
                    int(payload["quantity"]),
                    payload["term"],
                    payload["billing_cycle"],
                )
                self.lots = []
                self._add_lot(lot)
                continue
            if kind == OperationKind.QUANTITY:
                new = int(payload["quantity"])
                increase = new > int(payload.get("previous", new))
                lot = self._lot(LotKind.INCREASE) if increase else None
                if not done or not self.live:
                    continue
                if lot is not None:
                    at = lot.purchased_at  # the moment the quote was made
                self._fees_until(at)
                if new > self.quantity:
                    self._change(operation, at, new)
                    self._add_lot(lot)
                elif new < self.quantity:
                    self._change(operation, at, new)
                    self._take_seats(self.quantity - new)
                self.quantity = new
                continue
            if kind == OperationKind.RENEW:
                lot = self._lot(LotKind.RENEWAL)
                if not done or self.term_start is None:
                    continue
                self._fees_until(at)
                for held in self.lots:
                    held.quantity = 0
                self._add_lot(lot)
                self._start_term(
                    dt.date.fromisoformat(payload["from"]),
                    int(payload["quantity"]),
                    payload["term"],
                    payload["billing_cycle"],
                )
                self.renewed = True
                continue
            if not done or not self.live:
                continue
            self._fees_until(at)
            if kind == OperationKind.SUSPEND:
                self.suspended = True
            elif kind == OperationKind.REACTIVATE:
                self.suspended = False
            elif kind == OperationKind.CANCEL:
                if self.quantity:
                    self._change(operation, at, 0, cancellation=True)
                for held in self.lots:
                    held.quantity = 0
                self.live = False
            elif kind == OperationKind.EXPIRE:
                self.live = False
        end = dt.datetime.combine(self.window.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        self._fees_until(end)
        return self.out


# --- the run ----------------------------------------------------------------------------------


def _check_rights(actor: User | None, account: Organisation) -> None:
    if actor is None:
        return  # the scheduler, a task or the command line
    if not (actor.role in permissions.PARTNER_STAFF and permissions.can_read(actor, account)):
        raise PermissionRefused(_("Only the partner's staff run billing."))


def _cycle_row(account: Organisation, cycle: cycles.Cycle) -> BillingCycle:
    row, _created = BillingCycle.objects.get_or_create(
        account=account,
        start_date=cycle.start,
        defaults={"end_date": cycle.end, "time_zone": cycle.time_zone},
    )
    return row


def billing_run(*, account: Organisation, day: dt.date, actor: User | None = None) -> BillingRun:
    """Bill the cycle of `account` that holds `day`: every subscription of its customers.

    Refused for a cycle that has not ended (its lines would not be final). Idempotent: a
    repeated run issues only what changed since, as new lines."""
    _check_rights(actor, account)
    if not cycles.is_billing_account(account):
        raise ServiceError(
            _("Billing runs are per reseller, or per partner for its direct customers."),
            field="account",
        )
    settings = cycles.settings_of(account)
    cycle = cycles.cycle_holding(settings, day)
    today = cycles.today_for(settings)
    if cycle.end >= today:
        raise ServiceError(
            _("This cycle ends on %(end)s: it can be billed from %(next)s.")
            % {"end": cycle.end.isoformat(), "next": cycle.report_date.isoformat()},
            field="cycle",
            code="cycle_open",
        )
    with transaction.atomic():
        row = _cycle_row(account, cycle)
        run = BillingRun.objects.create(
            cycle=row,
            requested_by=actor,
            requested_by_name=actor.get_username() if actor else "system",
            started_at=clock.now(),
        )
    try:
        _bill(run, account, Window(cycle.start, cycle.end, cycle.time_zone))
    except Exception:
        BillingRun.objects.filter(pk=run.pk).update(state=RunState.FAILED, finished_at=clock.now())
        raise
    with transaction.atomic():
        run.state = RunState.DONE
        run.finished_at = clock.now()
        run.save(
            update_fields=[
                "state", "finished_at", "subscriptions", "lines_created", "corrections",
                "unchanged", "problems",
            ]
        )  # fmt: skip
        activity_record(
            actor=actor,
            organisation=account,
            obj=run,
            operation="billing.run",
            details={
                "cycle_start": cycle.start.isoformat(),
                "cycle_end": cycle.end.isoformat(),
                "subscriptions": run.subscriptions,
                "lines_created": run.lines_created,
                "corrections": run.corrections,
                "problems": len(run.problems),
            },
        )
    return run


def _bill(run: BillingRun, account: Organisation, window: Window) -> None:
    partner = partner_of(account)
    context = PricingContext.load(partner=partner)
    reseller_id = account.pk if account.kind == OrganisationKind.RESELLER else None
    problem_count = 0
    last = 0
    while True:
        rows = list(
            Subscription.objects.filter(
                customer__parent=account, start_date__lte=window.end, pk__gt=last
            )
            .order_by("pk")
            .values_list(
                "pk", "customer_id", "offer_id", "parent_id", "tenant_id",
                "term_start", "term", "billing_cycle",
            )[:CHUNK]
        )  # fmt: skip
        if not rows:
            break
        last = rows[-1][0]
        subscriptions = [
            _Subscription(
                pk, customer, reseller_id, offer, parent, tenant is None, start, term, cadence
            )
            for pk, customer, offer, parent, tenant, start, term, cadence in rows
        ]
        with transaction.atomic():
            problem_count += _bill_chunk(run, subscriptions, window, context)
    if problem_count > len(run.problems):
        logger.warning("billing run %s: %s subscriptions not priced", run.pk, problem_count)


def _load(subscription_ids: list[int], cycle_id: int):
    lots = defaultdict(list)
    for row in (
        SeatLot.objects.filter(subscription_id__in=subscription_ids)
        .order_by("subscription_id", "purchased_at", "pk")
        .values("id", "subscription_id", "kind", "original_quantity", "purchased_at", "currency")
    ):
        lots[row["subscription_id"]].append(row)
    operations = defaultdict(list)
    for row in (
        Operation.objects.filter(subscription_id__in=subscription_ids, kind__in=TIMELINE_KINDS)
        .order_by("subscription_id", "sequence")
        .values("id", "subscription_id", "kind", "state", "payload", "requested_at")
    ):
        operations[row["subscription_id"]].append(row)
    existing = defaultdict(list)
    for line in (
        ChargeLine.objects.filter(cycle_id=cycle_id, subscription_id__in=subscription_ids)
        .order_by("pk")
        .values("id", "subscription_id", "source_key", "corrects_id", *COMPARED)
    ):
        existing[line["subscription_id"]].append(line)
    return lots, operations, existing


def _live(lines: list[dict]) -> dict[str, dict]:
    """The line of each event still in force: not a correction, and not reversed by one."""
    reversed_ids = {line["corrects_id"] for line in lines if line["kind"] == ChargeKind.CORRECTION}
    return {
        line["source_key"]: line
        for line in lines
        if line["kind"] != ChargeKind.CORRECTION and line["id"] not in reversed_ids
    }


def _same(line: dict, values: dict) -> bool:
    return all(line[name] == values[name] for name in COMPARED)


NEGATED = ["quantity", "partner_cost_amount", "reseller_price_amount", "customer_price_amount"]


def _reversal(line_id: int, run: BillingRun, reason: str) -> dict:
    """A CORRECTION line: the figures of line `line_id` negated, naming it."""
    row = ChargeLine.objects.filter(pk=line_id).values(*LINE_COLUMNS).get()  # rare
    for name in NEGATED:
        row[name] = None if row[name] is None else -row[name]
    row.update(
        run_id=run.pk,
        kind=ChargeKind.CORRECTION,
        corrects_id=line_id,
        details={"reason": reason},
        created_at=clock.now(),
    )
    return row


def _bill_chunk(
    run: BillingRun, subscriptions: list[_Subscription], window: Window, context: PricingContext
) -> int:
    """Price one chunk and write its differences, under the cycle's lock: a second run of the
    same cycle waits here and then sees these lines, so it never writes them twice."""
    BillingCycle.objects.select_for_update().get(pk=run.cycle_id)
    lots, operations, existing = _load([item.id for item in subscriptions], run.cycle_id)
    new_lines: list[dict] = []
    problems = 0
    now = clock.now()
    for subscription in subscriptions:
        run.subscriptions += 1
        try:
            expected = Timeline(
                subscription, lots[subscription.id], operations[subscription.id], window, context
            ).replay()
        except (Problem, ServiceError) as error:
            problems += 1
            if len(run.problems) < MAX_PROBLEMS:
                run.problems.append(
                    {"subscription": subscription.id, "code": error.code, "message": error.message}
                )
            continue
        live = _live(existing[subscription.id])
        for item in expected:
            values = item.values()
            current = live.pop(item.key, None)
            if current is not None and _same(current, values):
                run.unchanged += 1
                continue
            if current is not None:
                new_lines.append(_reversal(current["id"], run, "changed"))
                run.corrections += 1
            values.update(
                cycle_id=run.cycle_id,
                run_id=run.pk,
                subscription_id=subscription.id,
                customer_id=subscription.customer_id,
                reseller_id=subscription.reseller_id,
                offer_id=subscription.offer_id,
                corrects_id=current["id"] if current is not None else None,
                created_at=now,
            )
            new_lines.append(values)
        for vanished in live.values():
            new_lines.append(_reversal(vanished["id"], run, "withdrawn"))
            run.corrections += 1
    insert_lines(new_lines)
    run.lines_created += len(new_lines)
    return problems


def _column_writers(connection) -> list[tuple[str, str, object]]:
    """(attribute, column, how its value goes to the database) for every column of a line.

    Django's bulk_create prepares each value through the field's whole chain; at 40 columns and
    100,000 lines that was a third of a run. The values here are already of the right Python
    type, so only dates, decimals and JSON need the backend's adaptation."""
    ops = connection.ops
    writers = []
    for model_field in ChargeLine._meta.concrete_fields:
        if model_field.primary_key:
            continue
        kind = model_field.get_internal_type()
        if kind == "DateTimeField":
            write = ops.adapt_datetimefield_value
        elif kind == "DateField":
            write = ops.adapt_datefield_value
        elif kind == "DecimalField":
            write = lambda value, f=model_field: (  # noqa: E731
                None
                if value is None
                else ops.adapt_decimalfield_value(value, f.max_digits, f.decimal_places)
            )
        elif kind == "JSONField":
            write = lambda value, f=model_field: f.get_db_prep_save(value, connection)  # noqa: E731
        else:
            write = None
        writers.append((model_field.attname, model_field.column, write))
    return writers


def insert_lines(lines: list[dict]) -> None:
    """Write new lines, given as {attribute: value}: one INSERT sent for many rows (lines are
    only ever inserted)."""
    if not lines:
        return
    connection = connections[router.db_for_write(ChargeLine)]
    writers = _column_writers(connection)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for _attribute, column, _write in writers)
    marks = ", ".join(["%s"] * len(writers))
    table = quote(ChargeLine._meta.db_table)
    rows = [
        [
            line[attribute] if write is None else write(line[attribute])
            for attribute, _column, write in writers
        ]
        for line in lines
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
