"""Every change to a subscription: one service function each.

Each one locks the subscription row, checks rights (`permissions`), the lifecycle and the
vendor's rules (`rules`), changes the desired state, appends an `Operation` (the subscription's
history and the worker's to-do) and an activity record, all in one transaction; provisioning is
enqueued only after that commit. A change made from a stale page (`expected_version`) is refused
with a clear conflict instead of overwriting someone else's change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record, diff
from seatkeeper.catalog.models import Offer, OfferKind, add_months, cycle_months
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, ServiceError
from seatkeeper.core.formatting import format_date, format_datetime
from seatkeeper.core.validation import MAX_DATE
from seatkeeper.core.validators import check_single_line
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.quotes import ProposedChange, Quote, SubscriptionFacts, quote_change
from seatkeeper.pricing.quotes import SeatLot as LotFact
from seatkeeper.subscriptions import rules, tasks
from seatkeeper.subscriptions.attempts import record_attempt
from seatkeeper.subscriptions.models import (
    OPEN_STATES,
    AttemptOutcome,
    CustomerRights,
    LotKind,
    Operation,
    OperationKind,
    OperationState,
    Order,
    RenewalOption,
    SeatLot,
    Status,
    Subscription,
    SyncStatus,
    Tenant,
)
from seatkeeper.subscriptions.operations import lock, record_operation, unit_price
from seatkeeper.subscriptions.permissions import Action, check
from seatkeeper.subscriptions.selectors import assigned_seats
from seatkeeper.subscriptions.transitions import ALLOWED_TRANSITIONS, transition

__all__ = ["ALLOWED_TRANSITIONS"]  # lifecycles are data; kept importable from here


def _when(moment: dt.datetime) -> str:
    return format_datetime(moment)


# --- periods and prices ----------------------------------------------------------------------


def current_period(subscription: Subscription, on: dt.date) -> tuple[dt.date, dt.date]:
    """The billing period holding `on`: from the term start, one billing cycle at a time."""
    months = cycle_months(subscription.term, subscription.billing_cycle)
    step = 0
    while add_months(subscription.term_start, months * (step + 1)) <= on:
        step += 1
    return (
        add_months(subscription.term_start, months * step),
        add_months(subscription.term_start, months * (step + 1)),
    )


def facts(subscription: Subscription, *, on: dt.date) -> SubscriptionFacts:
    period_start, period_end = current_period(subscription, max(on, subscription.term_start))
    lots = [
        LotFact(quantity=lot.quantity, purchased_at=lot.purchased_at)
        for lot in subscription.lots.filter(quantity__gt=0).order_by("purchased_at", "pk")
    ]
    purchased = dt.datetime.combine(subscription.term_start, dt.time(), tzinfo=dt.UTC)
    return SubscriptionFacts(
        offer_id=subscription.offer_id,
        customer_id=subscription.customer_id,
        quantity=subscription.quantity,
        term=subscription.term,
        billing_cycle=subscription.billing_cycle,
        period_start=period_start,
        period_end=period_end,
        purchased_at=min([lot.purchased_at for lot in lots], default=purchased),
        seat_lots=tuple(lots),
        subscription_ref=str(subscription.pk),
        currency=subscription.lots.values_list("currency", flat=True).first(),
    )


def quote(
    subscription: Subscription,
    change: ProposedChange,
    *,
    at: dt.datetime | None = None,
    audience: Audience = Audience.CUSTOMER_PRICE,
    reveal_sources: bool = True,
) -> Quote:
    """The preview shown before a change: the same computation billing charges later.
    Customers get it with `reveal_sources=False`: no word of their seller's rules or lists."""
    at = at or clock.now()
    return quote_change(
        facts=facts(subscription, on=at.date()),
        change=change,
        at=at,
        audience=audience,
        reveal_sources=reveal_sources,
    )


def _preview(subscription: Subscription, change: ProposedChange, at: dt.datetime) -> Quote | None:
    """The quote recorded with a change. A manual vendor may shrink outside the refund window (a
    person fulfils it, with no refund): the pricing engine refuses to quote that, so nothing is
    refunded and no quote is kept."""
    try:
        return quote(subscription, change, at=at)
    except ServiceError:
        if rules.decrease_needs_window(subscription):
            raise
        return None


def _amounts(
    subscription: Subscription, preview: Quote | None, *, new_total: bool = True
) -> dict[str, Any]:
    """What a change costs now (negative: a refund) and the new periodic total, for the
    payload: each a Decimal as string with its currency, never formatted text. No quote (a
    manual vendor shrinking after its window) means nothing is due or refunded: "0"."""
    if preview is None:
        currency = subscription.lots.values_list("currency", flat=True).first()
        amounts: dict[str, Any] = {"adjustment": "0", "currency": currency}
        if new_total:
            amounts["new_total"] = None
        return amounts
    amounts = {"adjustment": str(preview.adjustment_now.amount), "currency": preview.currency}
    if new_total:
        amounts["new_total"] = str(preview.new_periodic_total.amount)
    return amounts


def _save(subscription: Subscription, *fields: str) -> None:
    subscription.version += 1
    subscription.updated_at = clock.now()
    subscription.save(update_fields=[*fields, "version", "updated_at", "sync_status"])


def _require_active(subscription: Subscription) -> None:
    if subscription.status != Status.ACTIVE:
        raise ServiceError(
            _("Only an active subscription can be changed; this one is %(status)s.")
            % {"status": subscription.get_status_display().lower()},
            code="invalid_state",
        )


# --- ordering ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    offer: Offer
    quantity: int
    term: str
    billing_cycle: str
    friendly_name: str = ""
    parent: Subscription | None = None


def _check_line(line: OrderLine, customer: Organisation) -> None:
    offer = line.offer
    if not offer.is_purchasable:
        raise ServiceError(
            _("%(offer)s can no longer be bought.") % {"offer": offer.title}, field="offer"
        )
    if not offer.terms.filter(
        term=line.term, billing_cycle=line.billing_cycle, is_available=True
    ).exists():
        raise ServiceError(
            _("%(offer)s is not sold with this term and billing cycle.") % {"offer": offer.title},
            field="term",
        )
    rules.check_quantity(offer, line.quantity)
    if offer.kind == OfferKind.ADDON:
        base = line.parent
        if base is None or base.customer_id != customer.pk:
            raise ServiceError(
                _("An add-on attaches to one of the customer's subscriptions."), field="parent"
            )
        if base.status != Status.ACTIVE:
            raise ServiceError(_("The base subscription must be active."), field="parent")
        if not offer.base_offers.filter(pk=base.offer_id).exists():
            raise ServiceError(
                _("%(addon)s does not fit %(base)s.")
                % {"addon": offer.title, "base": base.offer.title},
                field="offer",
            )
        refusal = rules.addon_seats_refusal(offer, base, line.quantity)
        if refusal:
            raise ServiceError(refusal, field="quantity")
    elif line.parent is not None:
        raise ServiceError(_("Only add-ons attach to another subscription."), field="parent")


def _tenant_for(customer: Organisation, offer: Offer) -> Tenant | None:
    account = offer.vendor.provider_account
    if account is None:
        return None
    tenant = Tenant.objects.filter(customer=customer, account=account).first()
    if tenant is None:
        raise ServiceError(
            _("%(customer)s has no tenant at %(vendor)s yet: create or link its tenant first.")
            % {"customer": customer.name, "vendor": offer.vendor.name}
        )
    return tenant


@transaction.atomic
def order_place(
    *,
    actor: User,
    customer: Organisation,
    lines: list[OrderLine],
    po_number: str = "",
    start_date: dt.date | None = None,
) -> Order:
    """Confirm an order: one pending subscription per line, each provisioned by the worker."""
    if customer.kind != OrganisationKind.CUSTOMER:
        raise ServiceError(_("Subscriptions belong to customers."))
    if not lines:
        raise ServiceError(_("The order has no lines."))
    now = clock.now()
    start_date = start_date or now.date()
    if start_date < now.date():
        raise ServiceError(_("The start date cannot be in the past."), field="start_date")
    check_single_line(po_number=po_number)
    if start_date > MAX_DATE:
        raise ServiceError(
            _("Use a date no later than %(max)s.") % {"max": MAX_DATE.isoformat()},
            field="start_date",
        )
    for line in lines:
        check(actor, customer, Action.ORDER, term=line.term)
        _check_line(line, customer)
        check_single_line(friendly_name=line.friendly_name)
    order = Order.objects.create(customer=customer, placed_by=actor, po_number=po_number.strip())
    reseller = (
        customer.parent
        if customer.parent and customer.parent.kind == OrganisationKind.RESELLER
        else None
    )
    for line in lines:
        subscription = Subscription.objects.create(
            customer=customer,
            reseller=reseller,
            offer=line.offer,
            tenant=_tenant_for(customer, line.offer),
            order=order,
            parent=line.parent,
            friendly_name=line.friendly_name.strip() or line.offer.title,
            po_number=po_number.strip(),
            quantity=line.quantity,
            term=line.term,
            billing_cycle=line.billing_cycle,
            status=Status.PENDING,
            start_date=start_date,
            term_start=start_date,
            auto_renew=True,
            renewal_option=RenewalOption.EVERY_TIME,
        )
        price = unit_price(
            offer=line.offer,
            customer=customer,
            term=line.term,
            billing_cycle=line.billing_cycle,
            on=start_date,
            quantity=line.quantity,
            subscription_ref=str(subscription.pk),
        )
        bought_at = max(now, dt.datetime.combine(start_date, dt.time(), tzinfo=dt.UTC))
        SeatLot.objects.create(
            subscription=subscription,
            kind=LotKind.PURCHASE,
            quantity=line.quantity,
            original_quantity=line.quantity,
            unit_price=price.amount,
            currency=price.currency,
            purchased_at=bought_at,
            cancellable_until=rules.window_end(bought_at),
        )
        subscription.cancellation_allowed_until = rules.window_end(bought_at)
        subscription.save(update_fields=["cancellation_allowed_until"])
        record_operation(
            subscription,
            OperationKind.CREATE,
            actor=actor,
            payload={
                "offer": line.offer.title,
                "quantity": line.quantity,
                "term": line.term,
                "billing_cycle": line.billing_cycle,
                # Numbers and codes, never formatted text: pages format them when shown.
                "unit_price": str(price.amount),
                "currency": price.currency,
                "start_date": start_date.isoformat(),
                "order": order.pk,
                "parent": line.parent.pk if line.parent else None,
            },
        )
    return order


# --- lifecycle -----------------------------------------------------------------------------------


def _seat_holders(subscription: Subscription, shown: int = 10) -> str:
    """Who holds the subscription's seats, for a refusal: the first names, then how many more."""
    from seatkeeper.subscriptions.selectors import subscription_members

    names = [licence.user.display_name for licence in subscription_members(subscription)]
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += " " + _("and %(n)s more") % {"n": len(names) - shown}
    return text


@transaction.atomic
def subscription_change_quantity(
    *, actor: User, subscription: Subscription, quantity: int, expected_version: int | None = None
) -> Subscription:
    """Increase at any time (a new seat lot); decrease only seats still inside their window."""
    subscription = lock(subscription, expected_version)
    _require_active(subscription)
    old = subscription.quantity
    if quantity == old:
        return subscription
    action = Action.INCREASE if quantity > old else Action.DECREASE
    check(actor, subscription.customer, action, term=subscription.term)
    offer = subscription.offer
    rules.check_quantity(offer, quantity)
    if quantity > old and subscription.parent_id is not None:
        refusal = rules.addon_seats_refusal(
            offer, subscription.parent, quantity, excluding=subscription
        )
        if refusal:
            raise ServiceError(refusal, field="quantity")
    now = clock.now()
    if quantity < old:
        held = assigned_seats(subscription)
        if quantity < held:
            raise ServiceError(
                _(
                    "%(n)s seats are assigned to users (%(people)s): unassign licences before "
                    "going below that."
                )
                % {"n": held, "people": _seat_holders(subscription)},
                field="quantity",
            )
        _check_removable(subscription, old - quantity, now)
    preview = _preview(subscription, ProposedChange(quantity=quantity), now)
    if quantity > old:
        price = unit_price(
            offer=offer,
            customer=subscription.customer,
            term=subscription.term,
            billing_cycle=subscription.billing_cycle,
            on=now.date(),
            quantity=quantity,
            subscription_ref=str(subscription.pk),
        )
        seats = SeatLot.objects.create(
            subscription=subscription,
            kind=LotKind.INCREASE,
            quantity=quantity - old,
            original_quantity=quantity - old,
            unit_price=price.amount,
            currency=price.currency,
            purchased_at=now,
            cancellable_until=rules.window_end(now),
        )
        lot_effects = {str(seats.pk): quantity - old}
    else:
        lot_effects = _take_seats(subscription, old - quantity)
    subscription.quantity = quantity
    changes: dict[str, list] = {"quantity": [old, quantity]}
    vendor_drops_renewal_changes = rules.quantity_change_clears_renewal_changes(subscription)
    cleared = subscription.has_scheduled_changes and vendor_drops_renewal_changes
    if cleared:
        # The vendor deletes them with this change; say so in the history rather than keep
        # changes here that will never happen there.
        for field in ("renewal_quantity", "renewal_term", "renewal_billing_cycle"):
            changes[field] = [getattr(subscription, field), None]
        subscription.renewal_quantity = None
        subscription.renewal_term = subscription.renewal_billing_cycle = ""
    record_operation(
        subscription,
        OperationKind.QUANTITY,
        actor=actor,
        changes=changes,
        payload={
            "quantity": quantity,
            "previous": old,
            **_amounts(subscription, preview),
            "renewal_changes_cleared": cleared,
            "_lots": lot_effects,
        },
    )
    next_term = subscription.next_term()
    if subscription.auto_renew and next_term is not None and vendor_drops_renewal_changes:
        # "Convert to monthly" is a standing choice, not a one-off change: schedule it again.
        record_operation(
            subscription,
            OperationKind.SCHEDULE_RENEWAL,
            actor=actor,
            payload={"next_term": next_term},
        )
    _save(subscription, "quantity", "renewal_quantity", "renewal_term", "renewal_billing_cycle")
    return subscription


def _check_removable(subscription: Subscription, count: int, now: dt.datetime) -> None:
    if not rules.decrease_needs_window(subscription):
        return
    window = rules.removable(list(subscription.lots.filter(quantity__gt=0)), now)
    if count <= window.now:
        return
    if window.now:
        message = _(
            "Only %(n)s seats can be removed now (until %(until)s); the others can be "
            "removed at renewal."
        ) % {"n": window.now, "until": _when(window.until)}
    else:
        message = _(
            "Seats can no longer be removed: the vendor's window closed on %(closed)s. "
            "Schedule a lower quantity for the renewal instead."
        ) % {"closed": _when(window.closed_since) if window.closed_since else "?"}
    raise ServiceError(message, field="quantity", code="window_closed")


def _take_seats(subscription: Subscription, count: int) -> dict[str, int]:
    """Newest seats go first: they are the ones still refundable. Returns the seats taken from
    each lot, negative (`{lot id: -n}`), for a rollback to give back."""
    taken_from: dict[str, int] = {}
    for lot in (
        subscription.lots.select_for_update()
        .filter(quantity__gt=0)
        .order_by("-purchased_at", "-pk")
    ):
        if count == 0:
            break
        taken = min(lot.quantity, count)
        lot.quantity -= taken
        count -= taken
        lot.save(update_fields=["quantity"])
        taken_from[str(lot.pk)] = -taken
    return taken_from


@transaction.atomic
def subscription_suspend(
    *, actor: User, subscription: Subscription, expected_version: int | None = None
) -> Subscription:
    subscription = lock(subscription, expected_version)
    check(actor, subscription.customer, Action.SUSPEND, term=subscription.term)
    changes = transition(
        subscription, Status.SUSPENDED, actor=actor, cause=OperationKind.SUSPEND, record=False
    )
    record_operation(
        subscription,
        OperationKind.SUSPEND,
        actor=actor,
        changes=changes,
        payload={"status": Status.SUSPENDED},
    )
    _save(subscription, "status")
    return subscription


@transaction.atomic
def subscription_reactivate(
    *, actor: User, subscription: Subscription, expected_version: int | None = None
) -> Subscription:
    subscription = lock(subscription, expected_version)
    check(actor, subscription.customer, Action.REACTIVATE, term=subscription.term)
    if subscription.status != Status.SUSPENDED:
        raise ServiceError(
            _("Only a suspended subscription can be reactivated."), code="invalid_state"
        )
    changes = transition(
        subscription, Status.ACTIVE, actor=actor, cause=OperationKind.REACTIVATE, record=False
    )
    record_operation(
        subscription,
        OperationKind.REACTIVATE,
        actor=actor,
        changes=changes,
        payload={"status": Status.ACTIVE},
    )
    _save(subscription, "status")
    return subscription


@transaction.atomic
def subscription_cancel(
    *, actor: User, subscription: Subscription, expected_version: int | None = None
) -> Subscription:
    """Cancel now, inside the vendor's cancellation window (refund quoted); refused after it."""
    subscription = lock(subscription, expected_version)
    check(actor, subscription.customer, Action.CANCEL, term=subscription.term)
    now = clock.now()
    if subscription.status == Status.PENDING:
        return _abandon(actor, subscription)
    until = subscription.cancellation_allowed_until
    if rules.decrease_needs_window(subscription) and (until is None or now > until):
        raise ServiceError(
            _(
                "This subscription can no longer be cancelled: the vendor's window closed "
                "on %(closed)s. Turn auto-renew off so it ends on %(end)s."
            )
            % {
                "closed": _when(until) if until else "?",
                "end": format_date(subscription.commitment_end_date) or "?",
            },
            code="window_closed",
        )
    if subscription.addons.exclude(status__in=[Status.CANCELLED, Status.EXPIRED]).exists():
        raise ServiceError(_("Cancel its add-ons first."), code="has_addons")
    preview = (
        _preview(subscription, ProposedChange(quantity=0), now) if subscription.quantity else None
    )
    changes = transition(
        subscription, Status.CANCELLED, actor=actor, cause=OperationKind.CANCEL, record=False
    )
    lot_effects = _take_seats(
        subscription, sum(subscription.lots.values_list("quantity", flat=True))
    )
    record_operation(
        subscription,
        OperationKind.CANCEL,
        actor=actor,
        changes=changes,
        payload={
            "status": Status.CANCELLED,
            **_amounts(subscription, preview, new_total=False),
            "_lots": lot_effects,
        },
    )
    _save(subscription, "status")
    return subscription


def _abandon(actor: User, subscription: Subscription) -> Subscription:
    """Cancel an order the vendor never completed: only once its creation failed for good."""
    create = subscription.operations.filter(kind=OperationKind.CREATE).first()
    if create is None or create.state not in (
        OperationState.FAILED,
        OperationState.AWAITING_FULFILMENT,
    ):
        raise ServiceError(
            _("The order is still being provisioned; cancel it once it is active."),
            code="invalid_state",
        )
    create.state = OperationState.REJECTED
    create.done_at = create.settled_at = clock.now()
    create.save(update_fields=["state", "done_at", "settled_at"])
    record_attempt(create, AttemptOutcome.WITHDRAWN, actor=actor)
    changes = transition(
        subscription, Status.CANCELLED, actor=actor, cause=OperationKind.CANCEL, record=False
    )
    subscription.lots.filter(quantity__gt=0).update(quantity=0)
    record_operation(
        subscription,
        OperationKind.CANCEL,
        actor=actor,
        local=True,
        changes=changes,
        payload={"status": Status.CANCELLED, "reason": "never_provisioned"},
    )
    subscription.sync_status = SyncStatus.SYNCHRONIZED
    _save(subscription, "status")
    return subscription


@transaction.atomic
def subscription_set_renewal(
    *, actor: User, subscription: Subscription, option: str, expected_version: int | None = None
) -> Subscription:
    """Auto-renew on/off and how to renew (none, once, every time, as monthly licences)."""
    subscription = lock(subscription, expected_version)
    check(actor, subscription.customer, Action.RENEWAL, term=subscription.term)
    if option not in RenewalOption.values:
        raise ValidationError({"renewal_option": _("Unknown renewal option.")})
    if subscription.status in (Status.CANCELLED, Status.EXPIRED):
        raise ServiceError(_("This subscription has ended."), code="invalid_state")
    auto_renew = option != RenewalOption.NONE
    changes = {}
    if subscription.renewal_option != option:
        changes["renewal_option"] = [subscription.renewal_option, option]
    if subscription.auto_renew != auto_renew:
        changes["auto_renew"] = [subscription.auto_renew, auto_renew]
    if not changes:
        return subscription
    next_term_before = subscription.next_term() if subscription.auto_renew else None
    subscription.renewal_option = option
    subscription.auto_renew = auto_renew
    # Turning auto-renew off drops the vendor's changes at renewal (nothing renews); turning it
    # on, or converting to monthly, sends what the next term is to be.
    next_term = subscription.next_term() if auto_renew else None
    record_operation(
        subscription,
        OperationKind.AUTO_RENEW,
        actor=actor,
        changes=changes,
        payload={"auto_renew": auto_renew, "renewal_option": option, "next_term": next_term},
        local="auto_renew" not in changes and next_term == next_term_before,
    )
    _save(subscription, "renewal_option", "auto_renew")
    return subscription


@transaction.atomic
def subscription_schedule_renewal(
    *,
    actor: User,
    subscription: Subscription,
    quantity: int | None,
    term: str = "",
    billing_cycle: str = "",
    expected_version: int | None = None,
) -> Subscription:
    """Changes that take effect at renewal. Kept until a person changes them or the renewal
    applies them; a vendor sync never wipes them."""
    subscription = lock(subscription, expected_version)
    check(actor, subscription.customer, Action.RENEWAL, term=subscription.term)
    # A suspended subscription does not renew: at term end it is disabled.
    if subscription.status != Status.ACTIVE:
        raise ServiceError(_("Only a running subscription renews."), code="invalid_state")
    if not subscription.auto_renew and (quantity or term or billing_cycle):
        raise ServiceError(_("Turn auto-renew on first: changes at renewal need a renewal."))
    offer = subscription.offer
    if quantity is not None:
        rules.check_quantity(offer, quantity)
    new_term = term or subscription.term
    new_cycle = billing_cycle or subscription.billing_cycle
    if (term or billing_cycle) and not offer.terms.filter(
        term=new_term, billing_cycle=new_cycle, is_available=True
    ).exists():
        raise ServiceError(
            _("%(offer)s is not sold with this term and billing cycle.") % {"offer": offer.title},
            field="term",
        )
    values = {
        "renewal_quantity": quantity,
        "renewal_term": term,
        "renewal_billing_cycle": billing_cycle,
    }
    changes = diff(subscription, values)
    if not changes:
        return subscription
    for key, value in values.items():
        setattr(subscription, key, value)
    record_operation(
        subscription,
        OperationKind.SCHEDULE_RENEWAL,
        actor=actor,
        changes=changes,
        payload={
            **{key: value for key, value in values.items() if value},
            "next_term": subscription.next_term(),
        },
        local=subscription.is_manual,
    )
    _save(subscription, *values)
    return subscription


@transaction.atomic
def subscription_edit_details(
    *,
    actor: User,
    subscription: Subscription,
    friendly_name: str,
    po_number: str = "",
    external_identifier: str = "",
    expected_version: int | None = None,
) -> Subscription:
    subscription = lock(subscription, expected_version)
    check(actor, subscription.customer, Action.EDIT, term=subscription.term)
    friendly_name = friendly_name.strip()
    if not friendly_name:
        raise ValidationError({"friendly_name": _("Give the subscription a name.")})
    values = {
        "friendly_name": friendly_name,
        "po_number": po_number.strip(),
        "external_identifier": external_identifier.strip(),
    }
    check_single_line(**values)
    changes = diff(subscription, values)
    if not changes:
        return subscription
    for key, value in values.items():
        setattr(subscription, key, value)
    # Only the friendly name exists at the vendor; PO number and identifier are ours.
    record_operation(
        subscription,
        OperationKind.RENAME,
        actor=actor,
        changes=changes,
        payload=dict(values),
        local="friendly_name" not in changes or subscription.status == Status.PENDING,
    )
    _save(subscription, *values)
    return subscription


# --- provisioning by people --------------------------------------------------------------------


@transaction.atomic
def operation_retry(*, actor: User, operation: Operation) -> Operation:
    """Send a failed operation again (the later ones it held follow it). A rejected one (its
    change was rolled back) is asked for again: the same change, as a new operation, checked
    like any change."""
    subscription = lock(operation.subscription, None)
    check(actor, subscription.customer, Action.RETRY)
    operation = Operation.objects.select_for_update().get(pk=operation.pk)
    if operation.state == OperationState.REJECTED and operation.settled_at is None:
        return _ask_again(actor, subscription, operation)
    if operation.state != OperationState.FAILED:
        raise Conflict(
            _("Only a failed operation can be retried; this one is %(state)s.")
            % {"state": operation.get_state_display().lower()}
        )
    operation.state = OperationState.PENDING
    # The worker's back-off starts again; the tries so far stay in the attempt log.
    operation.attempts = 0
    operation.next_attempt_at = clock.now()
    operation.save(update_fields=["state", "attempts", "next_attempt_at"])
    record_attempt(operation, AttemptOutcome.RETRY_ASKED, actor=actor)
    subscription.sync_status = SyncStatus.PENDING
    subscription.save(update_fields=["sync_status"])
    activity_record(
        actor=actor,
        organisation=subscription.customer,
        obj=subscription,
        operation="subscription.retry",
        details={"operation": operation.sequence, "kind": operation.kind},
    )
    transaction.on_commit(partial(tasks.provision.enqueue, subscription_id=subscription.pk))
    return operation


def _ask_again(actor: User, subscription: Subscription, operation: Operation) -> Operation:
    """The change a person rejected, asked for again through its own service."""
    payload = operation.payload
    kind = operation.kind
    if kind == OperationKind.QUANTITY:
        call = partial(subscription_change_quantity, quantity=int(payload["quantity"]))
    elif kind == OperationKind.SUSPEND:
        call = subscription_suspend
    elif kind == OperationKind.REACTIVATE:
        call = subscription_reactivate
    elif kind == OperationKind.CANCEL:
        call = subscription_cancel
    elif kind == OperationKind.AUTO_RENEW:
        call = partial(subscription_set_renewal, option=payload["renewal_option"])
    elif kind == OperationKind.SCHEDULE_RENEWAL:
        call = partial(
            subscription_schedule_renewal,
            quantity=payload.get("renewal_quantity"),
            term=payload.get("renewal_term", ""),
            billing_cycle=payload.get("renewal_billing_cycle", ""),
        )
    elif kind == OperationKind.RENAME:
        call = partial(
            subscription_edit_details,
            friendly_name=payload["friendly_name"],
            po_number=subscription.po_number,
            external_identifier=subscription.external_identifier,
        )
    else:
        raise Conflict(_("A rejected order cannot be sent again: place a new order."))
    call(actor=actor, subscription=subscription)
    operation.settled_at = clock.now()
    operation.save(update_fields=["settled_at"])
    record_attempt(operation, AttemptOutcome.RETRY_ASKED, actor=actor)
    activity_record(
        actor=actor,
        organisation=subscription.customer,
        obj=subscription,
        operation="subscription.retry",
        details={"operation": operation.sequence, "kind": operation.kind},
    )
    return operation


def _roll_back(subscription: Subscription, operation: Operation) -> dict[str, list]:
    """Put the desired state back where it was before `operation`, which the vendor never
    carried out: what the vendor has. A field a later open operation changes again is left to
    that operation (it is sent next) and that operation now rolls back to this one's "before".
    Seat lots bought or emptied by the operation are given back; the lot rows stay, so billing
    still pairs each lot with its operation (and bills neither: the operation is not done).
    Returns the changes as `{field: [current, restored]}`."""
    before = dict(operation.payload.get("_before") or {})
    if not before and operation.kind == OperationKind.QUANTITY:
        before = {"quantity": operation.payload.get("previous")}  # recorded before `_before`
    later = list(
        subscription.operations.select_for_update().filter(
            sequence__gt=operation.sequence, state__in=OPEN_STATES
        )
    )
    changes: dict[str, list] = {}
    for field, value in before.items():
        successor = next((op for op in later if field in (op.payload.get("_before") or {})), None)
        if successor is not None:
            successor.payload = {
                **successor.payload,
                "_before": {**successor.payload["_before"], field: value},
            }
            successor.save(update_fields=["payload"])
            continue
        if getattr(subscription, field) == value:
            continue
        if field == "status":
            changes.update(
                transition(
                    subscription,
                    value,
                    actor=None,
                    cause="rolled_back",
                    record=False,
                    undoing=True,
                )
            )
            continue
        changes[field] = [getattr(subscription, field), value]
        setattr(subscription, field, value)
    if "quantity" in changes or "status" in changes:
        for lot_id, seats in (operation.payload.get("_lots") or {}).items():
            lot = SeatLot.objects.select_for_update().filter(pk=int(lot_id)).first()
            if lot is not None:
                lot.quantity = max(0, lot.quantity - seats)
                lot.save(update_fields=["quantity"])
    return changes


def _resync(subscription: Subscription) -> None:
    """The sync status from the operations left: failed while a refused one waits for a
    person, pending while any is open, else synchronized."""
    operations = subscription.operations
    refused = operations.filter(
        state__in=[OperationState.FAILED, OperationState.REJECTED], settled_at__isnull=True
    )
    first = refused.order_by("sequence").first()
    if first is not None:
        subscription.sync_status = SyncStatus.FAILED
        subscription.sync_error_code = first.error_code or "rejected"
        subscription.sync_error_message = first.error_message
        return
    subscription.sync_error_code = subscription.sync_error_message = ""
    if operations.filter(state__in=OPEN_STATES).exists():
        subscription.sync_status = SyncStatus.PENDING
    else:
        subscription.sync_status = SyncStatus.SYNCHRONIZED
        subscription.synced_at = clock.now()


@transaction.atomic
def operation_withdraw(*, actor: User, operation: Operation) -> Operation:
    """Withdraw an operation the vendor refused for good (failed) or a person rejected: its
    change is taken back here (the desired state goes back to what the vendor has, recorded)
    and the later operations it held go on. Nothing of it is billed: it never became done."""
    subscription = lock(operation.subscription, None)
    check(actor, subscription.customer, Action.RETRY)
    operation = Operation.objects.select_for_update().get(pk=operation.pk)
    refused = operation.state == OperationState.FAILED or (
        operation.state == OperationState.REJECTED and operation.settled_at is None
    )
    if not refused:
        raise Conflict(
            _("Only an operation the vendor refused can be withdrawn; this one is %(state)s.")
            % {"state": operation.get_state_display().lower()}
        )
    if operation.kind == OperationKind.CREATE:
        raise Conflict(_("An order that never went through is cancelled, not withdrawn."))
    changes = _roll_back(subscription, operation)
    now = clock.now()
    operation.state = OperationState.WITHDRAWN
    operation.settled_at = now
    operation.done_at = operation.done_at or now
    operation.save(update_fields=["state", "settled_at", "done_at"])
    record_attempt(operation, AttemptOutcome.WITHDRAWN, actor=actor)
    _resync(subscription)
    subscription.version += 1
    subscription.updated_at = now
    subscription.save()
    activity_record(
        actor=actor,
        organisation=subscription.customer,
        obj=subscription,
        operation="subscription.withdrawn",
        changes=changes,
        details={"operation": operation.kind, "sequence": operation.sequence},
    )
    transaction.on_commit(partial(tasks.provision.enqueue, subscription_id=subscription.pk))
    return operation


@transaction.atomic
def fulfilment_complete(*, actor: User, operation: Operation, vendor_reference: str) -> Operation:
    """A person carried out a manual vendor's operation: record it and apply it."""
    subscription = lock(operation.subscription, None)
    check(actor, subscription.customer, Action.FULFIL)
    operation = Operation.objects.select_for_update().get(pk=operation.pk)
    if operation.state != OperationState.AWAITING_FULFILMENT:
        raise Conflict(_("This operation is not waiting for fulfilment."))
    earlier = subscription.operations.filter(
        sequence__lt=operation.sequence, state=OperationState.AWAITING_FULFILMENT
    )
    if earlier.exists():
        raise Conflict(_("Fulfil the earlier operations on this subscription first."))
    vendor_reference = vendor_reference.strip()
    if operation.kind == OperationKind.CREATE and not vendor_reference:
        raise ValidationError(
            {"vendor_reference": _("Give the vendor's reference for this order.")}
        )
    now = clock.now()
    operation.state = OperationState.DONE
    operation.done_at = now
    operation.result = {"vendor_reference": vendor_reference, "fulfilled_by": actor.get_username()}
    operation.save(update_fields=["state", "done_at", "result"])
    record_attempt(operation, AttemptOutcome.FULFILLED, actor=actor, vendor_status=vendor_reference)
    fields = ["sync_status", "synced_at"]
    changes = None
    if operation.kind == OperationKind.CREATE:
        changes = transition(
            subscription, Status.ACTIVE, actor=actor, cause="fulfilled", record=False
        )
        subscription.vendor_subscription_id = vendor_reference
        subscription.commitment_end_date = rules.commitment_end(
            subscription.term_start, subscription.term
        )
        fields += ["status", "vendor_subscription_id", "commitment_end_date"]
    if not subscription.operations.filter(state__in=[OperationState.AWAITING_FULFILMENT]).exists():
        subscription.sync_status = SyncStatus.SYNCHRONIZED
    subscription.synced_at = now
    subscription.save(update_fields=fields)
    activity_record(
        actor=actor,
        organisation=subscription.customer,
        obj=subscription,
        operation="subscription.fulfilled",
        changes=changes,
        details={"operation": operation.kind, "vendor_reference": vendor_reference},
    )
    return operation


@transaction.atomic
def fulfilment_reject(*, actor: User, operation: Operation, reason: str) -> Operation:
    """A person could not carry out a manual vendor's operation. A rejected order cancels the
    subscription; a rejected change is rolled back (the page shows what the vendor has) and
    waits for someone to send it again or drop it."""
    subscription = lock(operation.subscription, None)
    check(actor, subscription.customer, Action.FULFIL)
    operation = Operation.objects.select_for_update().get(pk=operation.pk)
    if operation.state != OperationState.AWAITING_FULFILMENT:
        raise Conflict(_("This operation is not waiting for fulfilment."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the operation is rejected.")})
    now = clock.now()
    operation.state = OperationState.REJECTED
    operation.done_at = now
    operation.error_message = reason
    if operation.kind == OperationKind.CREATE:
        operation.settled_at = now  # nothing to decide: the subscription ends
        changes = transition(
            subscription, Status.CANCELLED, actor=actor, cause="rejected", record=False
        )
    else:
        changes = _roll_back(subscription, operation)
    operation.save(update_fields=["state", "done_at", "error_message", "settled_at"])
    record_attempt(operation, AttemptOutcome.REJECTED, actor=actor, error_message=reason)
    subscription.sync_status = SyncStatus.FAILED
    subscription.sync_error_code = "rejected"
    subscription.sync_error_message = reason
    if changes and operation.kind != OperationKind.CREATE:
        subscription.version += 1
    subscription.save()
    activity_record(
        actor=actor,
        organisation=subscription.customer,
        obj=subscription,
        operation="subscription.rejected",
        changes=changes,
        details={
            "operation": operation.kind,
            "reason": reason,
            "rolled_back": bool(changes) and operation.kind != OperationKind.CREATE,
        },
    )
    return operation


# --- rights -----------------------------------------------------------------------------------


@transaction.atomic
def rights_set(
    *,
    actor: User,
    customer: Organisation,
    can_order: bool,
    can_increase: bool,
    can_decrease: bool,
    monthly_only: bool,
    can_change_renewal: bool,
) -> CustomerRights:
    """What the customer's admins may do themselves; granted by its reseller or partner."""
    check(actor, customer, Action.GRANT_RIGHTS)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise ServiceError(_("Rights are granted to customers."))
    rights, _created = CustomerRights.objects.select_for_update().get_or_create(customer=customer)
    values = {
        "can_order": can_order,
        "can_increase": can_increase,
        "can_decrease": can_decrease,
        "monthly_only": monthly_only,
        "can_change_renewal": can_change_renewal,
    }
    changes = diff(rights, values)
    if changes:
        for key, value in values.items():
            setattr(rights, key, value)
        rights.updated_at = clock.now()
        rights.save()
        activity_record(
            actor=actor,
            organisation=customer,
            obj=rights,
            operation="subscription.rights",
            changes=changes,
        )
    return rights


@transaction.atomic
def tenant_link(
    *, actor: User | None, customer: Organisation, account, vendor_customer_id: str, domain: str
) -> Tenant:
    """Record that `customer`'s directory at the vendor is `vendor_customer_id` (idempotent)."""
    tenant, created = Tenant.objects.get_or_create(
        customer=customer,
        account=account,
        defaults={"vendor_customer_id": vendor_customer_id, "domain": domain},
    )
    if created:
        activity_record(
            actor=actor,
            organisation=customer,
            obj=tenant,
            operation="tenant.link",
            details={"tenant_id": vendor_customer_id, "domain": domain},
        )
    return tenant
