"""Reconciliation: the vendor's invoice line items of a billing period against our partner-cost
charge lines, per subscription.

The rules, written once:
- The period is an invoice's billing period (`ProviderInvoice.period_start`–`period_end`). The
  vendor's side is every current line item of the provider account's documents of exactly that
  period (the invoice and its credit and adjustment notes; never the open period). Our side is
  every charge line of a subscription held at that provider account (through its tenant) whose
  `charged_on` falls in the period, corrections included: a reversal keeps the date of the line it
  reverses, so the sum is what we now say is owed for the period.
- Amounts compared are before tax: the vendor's `subtotal` against our `partner_cost_amount`,
  both exact Decimals in the line's currency. A subscription billed in two currencies gives one
  row per currency.
- Rows are matched by the vendor's subscription id (`Subscription.vendor_subscription_id`).
- Outcome, in this order: only at the vendor (no charge line here), only here (no vendor line),
  quantity differs (the seats of the full-period charges differ: our `fee:` lines against the
  vendor's new / renew / cycle charges), amount differs (beyond the tolerance), matched.
- Tolerance (settings `SEATKEEPER_RECONCILIATION_TOLERANCE_AMOUNT` and `..._PERCENT`): a
  difference within the absolute amount, or within the percentage of the vendor's amount, is
  matched. The tolerances used are kept on the reconciliation.
- Likely cause, where it can be told:
  * a change at the vendor not seen here: the subscription is unknown here, or it has a change
    the vendor has not settled (an operation still open, failed or rejected, or not in sync), or
    the vendor's facts were refreshed since the period began;
  * a price that moved: the full-period quantities agree but the unit prices do not;
  * a proration rule: one side has partial-period lines (our pro-rata and refunds, the vendor's
    add / remove quantity and cancellations, or a charge shorter than the period).
- Matched subscriptions are counted on the reconciliation, not stored: its rows are the
  differences, so they grow with what needs a person's eye, not with the invoice.
- A reconciliation can be computed again until it is marked reconciled; the rows are replaced
  and what people said about a row is carried to the new row with the same figures.
- Marking reconciled needs every difference accepted or explained; it records who and when.

The third side, seats billed against seats assigned (`seat_usage`):
- Held for every subscription known here that holds seats now (active or suspended, in a
  tenant, with a product id) and was billed a whole period's seats in the period: the vendor's
  full-period quantity (new / renew / cycle charges) when the vendor billed any, else ours
  (`fee:` lines).
- Seats assigned are the licences held by the customer's active directory users now, shared
  out over the subscriptions of one licence pool as the people app does
  (`people.selectors.assigned_by_subscription`: oldest subscription first).
- Unused seats = billed − assigned (negative: more assigned than billed). Their cost is the
  unused seats × the billed unit price (the vendor's when it billed, else ours), rounded once
  to the currency's minor unit, half up (`core.money`); over-assigned seats cost nothing here.
- Only subscriptions whose seats billed and assigned differ are stored (`SeatUsage`); the others
  are counted (`seats_compared`). The seats are not differences to resolve: they do not hold
  back marking the period reconciled.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Abs, Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Role, User
from seatkeeper.activity.services import activity_record
from seatkeeper.billing.invoice_selectors import current_lines
from seatkeeper.billing.models import (
    ChargeKind,
    ChargeLine,
    DocumentType,
    LikelyCause,
    LinesState,
    Outcome,
    ProviderInvoice,
    Reconciliation,
    ReconciliationRow,
    ReconciliationState,
    Resolution,
    SeatSource,
    SeatUsage,
)
from seatkeeper.billing.permissions import can_read_invoices
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.core.money import quantize
from seatkeeper.core.validation import object_id
from seatkeeper.people.models import UserLicence, UserStatus
from seatkeeper.people.selectors import SEAT_HOLDING, seat_shares
from seatkeeper.providers.interface import ChargeType
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.subscriptions.models import (
    Operation,
    OperationKind,
    OperationState,
    Subscription,
    SyncStatus,
)

# The vendor's charges for a whole billing period; the others are partial (pro-rata).
FULL_PERIOD_CHARGES = (ChargeType.NEW, ChargeType.RENEW, ChargeType.CYCLE_CHARGE)
PARTIAL_CHARGES = (
    ChargeType.ADD_QUANTITY,
    ChargeType.REMOVE_QUANTITY,
    ChargeType.CANCEL_IMMEDIATE,
    ChargeType.MOVE_QUANTITY,
)
WRITERS = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR}
UNSETTLED = (
    OperationState.PENDING,
    OperationState.RUNNING,
    OperationState.FAILED,
    OperationState.AWAITING_FULFILMENT,
    OperationState.REJECTED,
)
PRICE_PLACES = Decimal("0.0001")
AMOUNT_PLACES = Decimal(
    "0.000001"
)  # as stored (models.AMOUNT): sums read the same on every database


def _stored(amount: Decimal | None) -> Decimal:
    return (amount or Decimal(0)).quantize(AMOUNT_PLACES)


# --- who ---------------------------------------------------------------------------------------


def _partner_id(user: User) -> int:
    return int(user.organisation.path.strip("/").split("/")[0])


def can_resolve(user: User, reconciliation: Reconciliation) -> bool:
    """Partner staff who act (not the read-only logins) of the reconciliation's partner."""
    return can_reconcile(user, reconciliation.partner_id)


def can_reconcile(user: User, partner_id: int) -> bool:
    return bool(
        can_read_invoices(user) and user.role in WRITERS and user.organisation_id == partner_id
    )


def _require_writer(user: User, partner_id: int) -> None:
    if not can_reconcile(user, partner_id):
        raise PermissionRefused(_("Only the partner's staff can reconcile its invoices."))


def reconciliations_visible_to(user: User) -> QuerySet[Reconciliation]:
    if not can_read_invoices(user):
        return Reconciliation.objects.none()
    return Reconciliation.objects.filter(partner_id=_partner_id(user)).select_related("account")


def get_reconciliation_for_user(user: User, pk: object) -> Reconciliation:
    try:
        return reconciliations_visible_to(user).get(pk=object_id(pk))
    except (Reconciliation.DoesNotExist, TypeError, ValueError):
        raise Http404("No such reconciliation") from None


def get_row_for_user(user: User, reconciliation: Reconciliation, pk: object) -> ReconciliationRow:
    try:
        return reconciliation.rows.get(pk=object_id(pk))
    except (ReconciliationRow.DoesNotExist, TypeError, ValueError):
        raise Http404("No such row") from None


def reconciliation_for_invoice(invoice: ProviderInvoice) -> Reconciliation | None:
    if invoice.period_start is None or invoice.period_end is None:
        return None
    return Reconciliation.objects.filter(
        account_id=invoice.account_id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
    ).first()


@dataclass
class Summary:
    """One period of the reconciliation list: its currencies, counts per outcome, the open
    differences, and per currency the sum of its differences and the cost of unused seats."""

    reconciliation: Reconciliation
    currencies: list[str]
    counts: dict[str, int]
    open: int
    differences: dict[str, Decimal]
    unused_costs: dict[str, Decimal]


def summaries(reconciliations: list[Reconciliation]) -> list[Summary]:
    """Summaries of a page of reconciliations, in three queries whatever the page's size."""
    ids = [item.pk for item in reconciliations]
    counts = {pk: dict.fromkeys(Outcome.values, 0) for pk in ids}
    open_counts = dict.fromkeys(ids, 0)
    differences: dict[int, dict[str, Decimal]] = {pk: {} for pk in ids}
    unused: dict[int, dict[str, Decimal]] = {pk: {} for pk in ids}
    for row in (
        ReconciliationRow.objects.filter(reconciliation_id__in=ids)
        .values("reconciliation_id", "outcome", "currency")
        .annotate(
            n=Count("id"),
            open=Count("id", filter=Q(resolution=Resolution.NONE)),
            difference=Sum("difference"),
        )
        .order_by()
    ):
        pk = row["reconciliation_id"]
        counts[pk][row["outcome"]] += row["n"]
        open_counts[pk] += row["open"] if row["outcome"] != Outcome.MATCHED else 0
        total = differences[pk].get(row["currency"], Decimal(0))
        differences[pk][row["currency"]] = _stored(total + (row["difference"] or Decimal(0)))
    for row in (
        SeatUsage.objects.filter(reconciliation_id__in=ids)
        .values("reconciliation_id", "currency")
        .annotate(cost=Sum("unused_cost"))
        .order_by()
    ):
        unused[row["reconciliation_id"]][row["currency"]] = _stored(row["cost"])
    periods = {(item.account_id, item.period_start, item.period_end) for item in reconciliations}
    invoiced: dict[tuple, set[str]] = {}
    if periods:
        accounts = {period[0] for period in periods}
        starts = {period[1] for period in periods}
        for account_id, start, end, currency in (
            ProviderInvoice.objects.filter(account_id__in=accounts, period_start__in=starts)
            .exclude(document_type=DocumentType.UNBILLED)
            .values_list("account_id", "period_start", "period_end", "currency")
            .distinct()
        ):
            invoiced.setdefault((account_id, start, end), set()).add(currency)
    out = []
    for item in reconciliations:
        counts[item.pk][Outcome.MATCHED] = item.matched
        currencies = invoiced.get((item.account_id, item.period_start, item.period_end), set())
        currencies |= set(differences[item.pk]) | set(unused[item.pk])
        out.append(
            Summary(
                reconciliation=item,
                currencies=sorted(currencies),
                counts=counts[item.pk],
                open=open_counts[item.pk],
                differences=dict(sorted(differences[item.pk].items())),
                unused_costs=dict(sorted(unused[item.pk].items())),
            )
        )
    return out


def outcome_counts(reconciliation: Reconciliation) -> dict[str, int]:
    counts = dict.fromkeys(Outcome.values, 0)
    for row in reconciliation.rows.values("outcome").annotate(n=Count("id")).order_by():
        counts[row["outcome"]] = row["n"]
    counts[Outcome.MATCHED] = reconciliation.matched
    return counts


def unresolved(queryset: QuerySet[ReconciliationRow]) -> QuerySet[ReconciliationRow]:
    return queryset.exclude(outcome=Outcome.MATCHED).filter(resolution=Resolution.NONE)


def unresolved_rows(user: User) -> QuerySet[ReconciliationRow]:
    """Differences of the viewer's partner's open reconciliations not explained or accepted."""
    return unresolved(
        ReconciliationRow.objects.filter(
            reconciliation__in=reconciliations_visible_to(user).filter(
                state=ReconciliationState.OPEN
            )
        )
    )


def unreconciled_differences(user: User) -> dict:
    """Open differences the viewer's partner has not explained or accepted: their count and,
    per currency, the sum of their absolute differences (for the dashboard)."""
    rows = (
        unresolved_rows(user)
        .values("currency")
        .annotate(n=Count("id"), amount=Sum(Abs("difference")))
        .order_by("currency")
    )
    amounts = {row["currency"]: row["amount"] for row in rows}
    count = sum(row["n"] for row in rows)
    return {"count": count, "amounts": dict(sorted(amounts.items()))}


# --- comparing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Side:
    """One side of one subscription and currency (a period holds a hundred thousand of each:
    slots, and the vendor's few extra facts as fields rather than a dict)."""

    amount: Decimal = Decimal(0)
    full_quantity: Decimal | None = None
    unit_price: Decimal | None = None
    partial: bool = False
    lines: int = 0
    currency: str = ""
    invoice_id: int | None = None
    tenant: str = ""
    description: str = ""


def within_tolerance(vendor: Decimal, ours: Decimal, *, amount: Decimal, percent: Decimal) -> bool:
    """Matched when the difference is within the absolute amount, or within the percentage of
    the vendor's amount (edges included)."""
    difference = abs(vendor - ours)
    return difference <= amount or difference * 100 <= abs(vendor) * percent


def _vendor_sides(
    account: ProviderAccount, start: dt.date, end: dt.date
) -> tuple[dict[tuple[str, str], Side], int]:
    """The vendor's lines of the period, summed per subscription and currency by the database
    (a million lines never come into memory)."""
    documents = ProviderInvoice.objects.filter(
        account=account, period_start=start, period_end=end
    ).exclude(document_type=DocumentType.UNBILLED)
    full = Q(charge_kind__in=FULL_PERIOD_CHARGES)
    short = Q(charge_start__gt=start) | Q(charge_end__lt=end)
    partial = Q(charge_kind__in=PARTIAL_CHARGES) | (full & short)
    rows = (
        current_lines()
        .filter(invoice__in=documents)
        .values("subscription_id", "currency")
        .annotate(
            amount=Sum("subtotal"),
            full_quantity=Sum("quantity", filter=full),
            unit_price=Max(
                F("effective_unit_price") * F("pc_to_bc_exchange_rate"),
                filter=full & Q(pc_to_bc_exchange_rate__isnull=False),
            ),
            plain_unit_price=Max("effective_unit_price", filter=full),
            partial=Count("id", filter=partial),
            lines=Count("id"),
            invoice_id=Min("invoice_id"),
            tenant=Min("customer_tenant_id"),
            description=Max("subscription_description"),
            product=Max("product_name"),
        )
        .order_by()
    )
    sides: dict[tuple[str, str], Side] = {}
    total = 0
    for row in rows.iterator(chunk_size=5000):
        price = row["unit_price"] if row["unit_price"] is not None else row["plain_unit_price"]
        sides[(row["subscription_id"], row["currency"])] = Side(
            amount=row["amount"] or Decimal(0),
            currency=row["currency"],
            full_quantity=row["full_quantity"],
            unit_price=None if price is None else price.quantize(PRICE_PLACES),
            partial=row["partial"] > 0,
            lines=row["lines"],
            invoice_id=row["invoice_id"],
            tenant=row["tenant"] or "",
            description=row["description"] or row["product"] or "",
        )
        total += row["lines"]
    return sides, total


def _our_sides(
    account: ProviderAccount, start: dt.date, end: dt.date
) -> tuple[dict[tuple[int, str], Side], int]:
    fee = Q(source_key__startswith="fee:")
    rows = (
        ChargeLine.objects.filter(
            subscription__tenant__account=account, charged_on__gte=start, charged_on__lte=end
        )
        .values("subscription_id", "currency")
        .annotate(
            amount=Sum("partner_cost_amount"),
            full_quantity=Sum("quantity", filter=fee),
            unit_price=Max("partner_cost_unit", filter=fee & ~Q(kind=ChargeKind.CORRECTION)),
            partial=Count("id", filter=Q(kind__in=[ChargeKind.PRORATA, ChargeKind.REFUND])),
            lines=Count("id"),
        )
        .order_by()
    )
    sides: dict[tuple[int, str], Side] = {}
    total = 0
    for row in rows.iterator(chunk_size=5000):
        sides[(row["subscription_id"], row["currency"])] = Side(
            amount=row["amount"] or Decimal(0),
            currency=row["currency"],
            full_quantity=None if row["full_quantity"] is None else Decimal(row["full_quantity"]),
            unit_price=None
            if row["unit_price"] is None
            else row["unit_price"].quantize(PRICE_PLACES),
            partial=row["partial"] > 0,
            lines=row["lines"],
        )
        total += row["lines"]
    return sides, total


def _vendor_changed(subscription: _Sub | None, unsettled: set[int], refreshed: set[int]) -> bool:
    if subscription is None:
        return True
    return (
        subscription.pk in unsettled
        or subscription.pk in refreshed
        or subscription.sync_status != SyncStatus.SYNCHRONIZED
    )


def compare(
    vendor: Side | None,
    ours: Side | None,
    *,
    tolerance_amount: Decimal,
    tolerance_percent: Decimal,
    vendor_changed: bool,
) -> tuple[str, str]:
    """The outcome and the likely cause of one subscription's two sides."""
    if ours is None:
        return Outcome.VENDOR_ONLY, (LikelyCause.VENDOR_CHANGE if vendor_changed else "")
    if vendor is None:
        return Outcome.OURS_ONLY, (LikelyCause.VENDOR_CHANGE if vendor_changed else "")
    if (
        vendor.full_quantity is not None
        and ours.full_quantity is not None
        and vendor.full_quantity != ours.full_quantity
    ):
        return Outcome.QUANTITY_DIFFERS, (LikelyCause.VENDOR_CHANGE if vendor_changed else "")
    if within_tolerance(
        vendor.amount, ours.amount, amount=tolerance_amount, percent=tolerance_percent
    ):
        return Outcome.MATCHED, ""
    if (
        vendor.unit_price is not None
        and ours.unit_price is not None
        and vendor.unit_price != ours.unit_price
    ):
        return Outcome.AMOUNT_DIFFERS, LikelyCause.PRICE_MOVED
    if vendor.partial or ours.partial:
        return Outcome.AMOUNT_DIFFERS, LikelyCause.PRORATION
    return Outcome.AMOUNT_DIFFERS, (LikelyCause.VENDOR_CHANGE if vendor_changed else "")


def _carry_key(row: dict) -> tuple:
    """What makes a new row the same difference as a kept one (a row's attributes, by name)."""
    return tuple(
        row[name]
        for name in (
            "vendor_subscription_id",
            "subscription_id",
            "currency",
            "outcome",
            "vendor_amount",
            "our_amount",
            "vendor_quantity",
            "our_quantity",
        )
    )


@dataclass(frozen=True, slots=True)
class _Sub:
    """What the comparison needs of one of our subscriptions (plain values: a period holds up to
    hundreds of thousands, and models with their related objects cost ten times the time)."""

    pk: int
    vendor_subscription_id: str
    friendly_name: str
    sync_status: str
    status: str
    tenant_id: int | None
    tenant_vendor_id: str
    product_key: str


def _subscriptions(
    account: ProviderAccount, our_ids: set[int], vendor_ids: set[str]
) -> dict[int, _Sub]:
    """Our subscriptions of the period: those charged in it and those the vendor's lines name.
    All are held at the account (through their tenant), so its subscriptions are read once and
    kept when they take part, rather than sending the period's ids back to the database."""
    subscriptions = {}
    for row in (
        Subscription.objects.filter(tenant__account=account)
        .values_list(
            "pk",
            "vendor_subscription_id",
            "friendly_name",
            "sync_status",
            "status",
            "tenant_id",
            Coalesce("tenant__vendor_customer_id", Value("")),
            "offer__external_id",
        )
        .iterator(chunk_size=5000)
    ):
        if row[0] in our_ids or row[1] in vendor_ids:
            subscriptions[row[0]] = _Sub(*row)
    return subscriptions


def insert_rows(model, rows: Iterable[dict]) -> int:
    """Write new rows given as {attribute: value} (defaults for the others), as they come:
    COPY on PostgreSQL, one INSERT sent per thousand rows elsewhere. Model instances, at a
    hundred thousand rows, cost more than the writing. Returns how many were written."""
    connection = connections[router.db_for_write(model)]
    fields = [
        model_field for model_field in model._meta.concrete_fields if not model_field.primary_key
    ]
    defaults = {model_field.attname: model_field.get_default() for model_field in fields}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model_field.column) for model_field in fields)
    table = quote(model._meta.db_table)
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            written = 0
            for row in rows:
                copy.write_row(
                    [
                        row.get(model_field.attname, defaults[model_field.attname])
                        for model_field in fields
                    ]
                )
                written += 1
        return written
    writers = []
    for model_field in fields:
        kind = model_field.get_internal_type()
        if kind == "DateTimeField":
            writers.append(connection.ops.adapt_datetimefield_value)
        elif kind == "DecimalField":
            writers.append(
                lambda value, f=model_field: (
                    None
                    if value is None
                    else connection.ops.adapt_decimalfield_value(
                        value, f.max_digits, f.decimal_places
                    )
                )
            )
        else:
            writers.append(None)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - our own names
    written = 0
    for batch in itertools.batched(rows, 1000):
        values = [
            [
                value if write is None else write(value)
                for value, write in zip(
                    (
                        row.get(model_field.attname, defaults[model_field.attname])
                        for model_field in fields
                    ),
                    writers,
                    strict=True,
                )
            ]
            for row in batch
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, values)
        written += len(values)
    return written


def reconcile_period(
    *,
    account: ProviderAccount,
    period_start: dt.date,
    period_end: dt.date,
    actor: User | None = None,
) -> Reconciliation:
    """Compare the period again and store the result (see the module's rules). An actor, when
    given, must be the partner's acting staff; the system (a job) passes none."""
    partner = account.organisation
    if actor is not None:
        _require_writer(actor, partner.pk)
    if period_end < period_start:
        raise ServiceError(_("The period ends before it starts."))
    tolerance_amount = settings.SEATKEEPER_RECONCILIATION_TOLERANCE_AMOUNT
    tolerance_percent = settings.SEATKEEPER_RECONCILIATION_TOLERANCE_PERCENT
    with transaction.atomic():
        reconciliation, _created = Reconciliation.objects.select_for_update().get_or_create(
            account=account,
            period_start=period_start,
            period_end=period_end,
            defaults={
                "partner": partner,
                "tolerance_amount": tolerance_amount,
                "tolerance_percent": tolerance_percent,
                "computed_at": clock.now(),
            },
        )
        if reconciliation.state == ReconciliationState.RECONCILED:
            raise Conflict(
                _("This period is marked reconciled; it is not compared again."),
                code="reconciled",
            )
        vendor_sides, vendor_lines = _vendor_sides(account, period_start, period_end)
        our_sides, charge_lines = _our_sides(account, period_start, period_end)

        subscriptions = _subscriptions(
            account, {key[0] for key in our_sides}, {key[0] for key in vendor_sides}
        )
        by_vendor_id = {
            sub.vendor_subscription_id: sub
            for sub in subscriptions.values()
            if sub.vendor_subscription_id
        }
        at_account = Operation.objects.filter(subscription__tenant__account=account)
        unsettled = set(
            at_account.filter(state__in=UNSETTLED).values_list("subscription_id", flat=True)
        )
        refreshed = set(
            at_account.filter(
                kind=OperationKind.REFRESH, requested_at__date__gte=period_start
            ).values_list("subscription_id", flat=True)
        )
        kept = {_carry_key(row.__dict__): row for row in reconciliation.rows.exclude(resolution="")}
        reconciliation.rows.all().delete()
        reconciliation.seat_rows.all().delete()

        pairs: dict[tuple[str, str], tuple[_Sub | None, Side | None, Side | None]] = {}
        for (vendor_id, currency), side in vendor_sides.items():
            pairs[(vendor_id, currency)] = (by_vendor_id.get(vendor_id), side, None)
        for (sub_id, currency), side in our_sides.items():
            sub = subscriptions[sub_id]
            key = (sub.vendor_subscription_id or f"#{sub.pk}", currency)
            vendor_side = pairs[key][1] if key in pairs else None
            pairs[key] = (sub, vendor_side, side)

        new_rows, matched = [], 0
        for (vendor_id, currency), (sub, vendor_side, our_side) in sorted(pairs.items()):
            outcome, cause = compare(
                vendor_side,
                our_side,
                tolerance_amount=tolerance_amount,
                tolerance_percent=tolerance_percent,
                vendor_changed=_vendor_changed(sub, unsettled, refreshed),
            )
            if outcome == Outcome.MATCHED:
                matched += 1
                continue
            vendor_amount = vendor_side.amount if vendor_side else Decimal(0)
            our_amount = our_side.amount if our_side else Decimal(0)
            row = {
                "reconciliation_id": reconciliation.pk,
                "outcome": outcome,
                "cause": cause,
                "subscription_id": sub.pk if sub else None,
                "vendor_subscription_id": vendor_id,
                "customer_tenant_id": (vendor_side.tenant if vendor_side else "")
                or (sub.tenant_vendor_id if sub else ""),
                "description": (
                    (vendor_side.description if vendor_side else "")
                    or (sub.friendly_name if sub else "")
                )[:255],
                "currency": currency,
                "vendor_quantity": vendor_side.full_quantity if vendor_side else None,
                "our_quantity": our_side.full_quantity if our_side else None,
                "vendor_amount": vendor_amount,
                "our_amount": our_amount,
                "difference": vendor_amount - our_amount,
                "vendor_unit_price": vendor_side.unit_price if vendor_side else None,
                "our_unit_price": our_side.unit_price if our_side else None,
                "invoice_id": vendor_side.invoice_id if vendor_side else None,
            }
            previous = kept.get(_carry_key(row))
            if previous is not None:
                row.update(
                    resolution=previous.resolution,
                    note=previous.note,
                    resolved_by_id=previous.resolved_by_id,
                    resolved_by_name=previous.resolved_by_name,
                    resolved_at=previous.resolved_at,
                )
            new_rows.append(row)
        insert_rows(ReconciliationRow, new_rows)
        seat_rows, seats_compared = seat_usage(reconciliation, pairs.values())
        seat_row_count = insert_rows(SeatUsage, seat_rows)

        reconciliation.tolerance_amount = tolerance_amount
        reconciliation.tolerance_percent = tolerance_percent
        reconciliation.computed_at = clock.now()
        reconciliation.vendor_lines = vendor_lines
        reconciliation.charge_lines = charge_lines
        reconciliation.matched = matched
        reconciliation.seats_compared = seats_compared
        reconciliation.save()
        counts = outcome_counts(reconciliation)
        activity_record(
            actor=actor,
            organisation=partner,
            obj=reconciliation,
            operation="reconciliation.computed",
            details={
                "counts": counts,
                "vendor_lines": vendor_lines,
                "charge_lines": charge_lines,
                "seats_compared": seats_compared,
                "seat_rows": seat_row_count,
            },
        )
    return reconciliation


# --- the third side: seats billed against seats assigned -----------------------------------------

TENANT_CHUNK = 1000


def _holds_seats(subscription: _Sub) -> bool:
    return bool(
        subscription.status in SEAT_HOLDING
        and subscription.tenant_id is not None
        and subscription.product_key
    )


def assigned_seats(subscriptions: list[_Sub]) -> dict[int, int]:
    """Seats assigned now in each of `subscriptions` (which hold seats), shared out per licence
    pool as `people.selectors.assigned_by_subscription` does, in two queries per thousand
    tenants instead of two per pool."""
    out = {subscription.pk: 0 for subscription in subscriptions}
    tenants = sorted({subscription.tenant_id for subscription in subscriptions})
    for first in range(0, len(tenants), TENANT_CHUNK):
        chunk = tenants[first : first + TENANT_CHUNK]
        held = {
            (row["sku__tenant_id"], row["sku__product_key"]): row["n"]
            for row in UserLicence.objects.filter(
                sku__tenant_id__in=chunk, user__status=UserStatus.ACTIVE
            )
            .values("sku__tenant_id", "sku__product_key")
            .annotate(n=Count("id"))
            .order_by()
        }
        pools: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for tenant_id, product_key, pk, quantity in (
            Subscription.objects.filter(tenant_id__in=chunk, status__in=SEAT_HOLDING)
            .exclude(offer__external_id="")
            .order_by("tenant_id", "offer__external_id", "start_date", "pk")
            .values_list("tenant_id", "offer__external_id", "pk", "quantity")
            .iterator(chunk_size=5000)
        ):
            if (tenant_id, product_key) in held:
                pools.setdefault((tenant_id, product_key), []).append((pk, quantity))
        for key, pool in pools.items():
            for pk, (start, stop) in seat_shares(pool, held[key]).items():
                if pk in out:
                    out[pk] = stop - start
    return out


def seat_usage(
    reconciliation: Reconciliation,
    pairs: Iterable[tuple[_Sub | None, Side | None, Side | None]],
) -> tuple[Iterator[dict], int]:
    """The seat rows of a period (see the module's rules), made as they are written, and how
    many subscriptions were compared on seats."""
    billed: list[tuple[_Sub, str, Decimal, str, Decimal | None]] = []
    for sub, vendor_side, our_side in pairs:
        if sub is None or not _holds_seats(sub):
            continue
        if vendor_side is not None and vendor_side.full_quantity is not None:
            seats, source, unit = (
                vendor_side.full_quantity,
                SeatSource.VENDOR,
                vendor_side.unit_price,
            )
        elif our_side is not None and our_side.full_quantity is not None:
            seats, source, unit = our_side.full_quantity, SeatSource.OURS, our_side.unit_price
        else:
            continue
        currency = (vendor_side or our_side).currency  # type: ignore[union-attr]
        billed.append((sub, currency, seats, source, unit))
    assigned = assigned_seats([item[0] for item in billed])
    return _seat_rows(reconciliation.pk, billed, assigned), len(billed)


def _seat_rows(
    reconciliation_id: int,
    billed: list[tuple[_Sub, str, Decimal, str, Decimal | None]],
    assigned: dict[int, int],
) -> Iterator[dict]:
    for sub, currency, seats, source, unit in billed:
        unused = seats - assigned[sub.pk]
        if unused == 0:
            continue
        cost = Decimal(0)
        if unused > 0 and unit is not None:
            cost = quantize(unused * unit, currency)
        yield (
            {
                "reconciliation_id": reconciliation_id,
                "subscription_id": sub.pk,
                "vendor_subscription_id": sub.vendor_subscription_id or f"#{sub.pk}",
                "customer_tenant_id": sub.tenant_vendor_id,
                "description": (sub.friendly_name or sub.vendor_subscription_id or "")[:255],
                "currency": currency,
                "billed_seats": seats,
                "billed_source": source,
                "assigned_seats": assigned[sub.pk],
                "unused_seats": unused,
                "unit_price": unit,
                "unused_cost": cost,
            }
        )


def seat_totals(reconciliation: Reconciliation) -> list[dict]:
    """Per currency: the subscriptions with unused seats, the unused seats and their cost (and
    the seats assigned beyond the bill)."""
    rows = (
        reconciliation.seat_rows.values("currency")
        .annotate(
            subscriptions=Count("id", filter=Q(unused_seats__gt=0)),
            unused=Sum("unused_seats", filter=Q(unused_seats__gt=0)),
            over=Sum("unused_seats", filter=Q(unused_seats__lt=0)),
            cost=Sum("unused_cost"),
        )
        .order_by("currency")
    )
    return [
        {
            "currency": row["currency"],
            "subscriptions": row["subscriptions"],
            "unused_seats": _stored(row["unused"]),
            "over_assigned_seats": _stored(abs(row["over"] or Decimal(0))),
            "unused_cost": _stored(row["cost"]),
        }
        for row in rows
    ]


def reconcile_invoice(*, invoice: ProviderInvoice, actor: User | None = None) -> Reconciliation:
    if (
        invoice.period_start is None
        or invoice.period_end is None
        or invoice.document_type == DocumentType.UNBILLED
    ):
        # The open period is not invoiced yet: there is nothing of the vendor's to hold ours to.
        raise ServiceError(_("This document has no billing period to reconcile."))
    return reconcile_period(
        account=invoice.account,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        actor=actor,
    )


# --- what people say ---------------------------------------------------------------------------


def _resolve(
    *, actor: User, row: ReconciliationRow, resolution: str, note: str, operation: str
) -> ReconciliationRow:
    note = (note or "").strip()
    with transaction.atomic():
        reconciliation = Reconciliation.objects.select_for_update().get(pk=row.reconciliation_id)
        _require_writer(actor, reconciliation.partner_id)
        if reconciliation.state == ReconciliationState.RECONCILED:
            raise Conflict(_("This period is already marked reconciled."), code="reconciled")
        row = ReconciliationRow.objects.select_for_update().get(pk=row.pk)
        if row.outcome == Outcome.MATCHED:
            raise ServiceError(_("A matched row needs nothing."), code="matched")
        if resolution == Resolution.EXPLAINED and not note:
            raise ServiceError(_("Write the explanation."), field="note", code="required")
        if len(note) > 2000:
            raise ServiceError(_("The note is too long (2,000 characters at most)."), field="note")
        before = (row.resolution, row.note)
        row.resolution = resolution
        row.note = note
        row.resolved_by = actor
        row.resolved_by_name = actor.get_username()
        row.resolved_at = clock.now()
        row.save(
            update_fields=["resolution", "note", "resolved_by", "resolved_by_name", "resolved_at"]
        )
        activity_record(
            actor=actor,
            organisation=reconciliation.partner,
            obj=reconciliation,
            operation=operation,
            changes={"resolution": [before[0], resolution], "note": [before[1], note]},
            details={"row": row.pk, "subscription": row.vendor_subscription_id},
        )
    return row


def row_accept(*, actor: User, row: ReconciliationRow, note: str = "") -> ReconciliationRow:
    return _resolve(
        actor=actor,
        row=row,
        resolution=Resolution.ACCEPTED,
        note=note,
        operation="reconciliation.row_accepted",
    )


def row_explain(*, actor: User, row: ReconciliationRow, note: str) -> ReconciliationRow:
    return _resolve(
        actor=actor,
        row=row,
        resolution=Resolution.EXPLAINED,
        note=note,
        operation="reconciliation.row_explained",
    )


def mark_reconciled(*, actor: User, reconciliation: Reconciliation) -> Reconciliation:
    with transaction.atomic():
        reconciliation = Reconciliation.objects.select_for_update().get(pk=reconciliation.pk)
        _require_writer(actor, reconciliation.partner_id)
        if reconciliation.state == ReconciliationState.RECONCILED:
            raise Conflict(_("This period is already marked reconciled."), code="reconciled")
        left = unresolved(reconciliation.rows.all()).count()
        if left:
            raise Conflict(
                _("%(count)s difference(s) are neither explained nor accepted yet.")
                % {"count": left},
                code="unresolved",
            )
        reconciliation.state = ReconciliationState.RECONCILED
        reconciliation.reconciled_by = actor
        reconciliation.reconciled_by_name = actor.get_username()
        reconciliation.reconciled_at = clock.now()
        reconciliation.save(
            update_fields=["state", "reconciled_by", "reconciled_by_name", "reconciled_at"]
        )
        activity_record(
            actor=actor,
            organisation=reconciliation.partner,
            obj=reconciliation,
            operation="reconciliation.reconciled",
            changes={"state": [ReconciliationState.OPEN, ReconciliationState.RECONCILED]},
        )
    return reconciliation


# --- the daily comparison ----------------------------------------------------------------------

# Periods compared again each day: those of invoices issued in the last few months. Both sides
# move after a period closes (the vendor's credit notes, our corrections), so an open period is
# compared until someone marks it reconciled.
DAILY_LOOKBACK_DAYS = 100


def open_periods(today: dt.date) -> list[tuple[int, dt.date, dt.date]]:
    """(provider account, start, end) of recent invoices whose period is not marked reconciled
    and whose line items are imported."""
    recent = (
        ProviderInvoice.objects.filter(
            document_type=DocumentType.INVOICE,
            lines_state=LinesState.IMPORTED,
            period_start__isnull=False,
            period_end__isnull=False,
            period_end__gte=today - dt.timedelta(days=DAILY_LOOKBACK_DAYS),
        )
        .values_list("account_id", "period_start", "period_end")
        .distinct()
        .order_by("account_id", "period_start", "period_end")
    )
    closed = set(
        Reconciliation.objects.filter(state=ReconciliationState.RECONCILED).values_list(
            "account_id", "period_start", "period_end"
        )
    )
    return [period for period in recent if period not in closed]


def reconcile_recent(today: dt.date) -> int:
    """Compare every open recent period again (by the system); one failure stops no other."""
    done = 0
    for account_id, start, end in open_periods(today):
        account = ProviderAccount.objects.select_related("organisation").get(pk=account_id)
        try:
            reconcile_period(account=account, period_start=start, period_end=end)
        except ServiceError:  # marked reconciled meanwhile
            continue
        done += 1
    return done
