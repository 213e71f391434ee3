"""Subscriptions and add-ons of one customer, with what the subscription pages show: term, cycle,
commitment end, auto-renew, status, quantity, the changes scheduled for the next term and the
seats still refundable, lot by lot.

Matching: a subscription Seatkeeper knows (same tenant, same vendor subscription id; or an order
of ours whose subscription id was not yet written back) is updated, never created twice. A change
made at the vendor is adopted and written in the subscription's history, unless a person's change
is still on its way to the vendor (an open operation): then only the facts only the vendor knows
are taken (`provisioning.apply_vendor_facts`), and the person's change stands.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from seatkeeper.catalog.models import Offer
from seatkeeper.core import clock
from seatkeeper.discovery import assignments, drift
from seatkeeper.discovery.kinds import CustomerContext
from seatkeeper.pricing.engine import PriceRequest, PricingContext, PricingError
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions import operations as subscription_operations
from seatkeeper.subscriptions import provisioning, rules, transitions
from seatkeeper.subscriptions.models import (
    OPEN_STATES,
    LotKind,
    Operation,
    OperationKind,
    RenewalOption,
    SeatLot,
    Status,
    Subscription,
    SyncStatus,
)

NAME = "subscriptions"
LABEL = _("Subscriptions")

STATUSES = {
    vendor.SubscriptionStatus.PENDING: Status.PENDING,
    vendor.SubscriptionStatus.ACTIVE: Status.ACTIVE,
    vendor.SubscriptionStatus.SUSPENDED: Status.SUSPENDED,
    vendor.SubscriptionStatus.DISABLED: Status.SUSPENDED,
    vendor.SubscriptionStatus.EXPIRED: Status.EXPIRED,
    vendor.SubscriptionStatus.DELETED: Status.CANCELLED,
}
# Ours from the vendor's: the provisioning map read backwards.
CYCLES = {theirs: ours for ours, theirs in provisioning.CYCLES.items()}
# The fields a person may change here and at the vendor alike: adopted from the vendor when no
# change of ours is pending.
ADOPTED = (
    "quantity",
    "status",
    "auto_renew",
    "term",
    "billing_cycle",
    "renewal_quantity",
    "renewal_term",
    "renewal_billing_cycle",
)
# The adopted changes billing charges for.
BILLED = ("quantity", "status")
# What only the vendor knows (see provisioning.apply_vendor_facts).
VENDOR_ONLY = (
    "vendor_subscription_id",
    "vendor_order_id",
    "commitment_end_date",
    "cancellation_allowed_until",
)


def _desired(facts: vendor.Subscription, current: Subscription | None) -> dict:
    values: dict = {
        "quantity": facts.quantity,
        "auto_renew": facts.auto_renew,
        "term": facts.term_duration or (current.term if current else "P1M"),
        "billing_cycle": CYCLES.get(facts.billing_cycle)
        or (current.billing_cycle if current else "monthly"),
    }
    status = STATUSES.get(facts.status)
    if status is not None:
        values["status"] = status
    elif current is not None:
        values["status"] = current.status
    next_term = facts.next_term
    values["renewal_quantity"] = next_term.quantity if next_term else None
    values["renewal_term"] = next_term.term_duration if next_term else ""
    values["renewal_billing_cycle"] = CYCLES.get(next_term.billing_cycle, "") if next_term else ""
    if next_term and (
        next_term.quantity,
        values["renewal_term"],
        values["renewal_billing_cycle"],
    ) == (facts.quantity, values["term"], values["billing_cycle"]):
        values["renewal_quantity"], values["renewal_term"], values["renewal_billing_cycle"] = (
            None,
            "",
            "",
        )
    return values


def _product_sku(facts: vendor.Subscription) -> tuple[str, str] | None:
    parts = facts.offer_id.split(":")
    return (parts[0], parts[1]) if len(parts) >= 2 else None


def _offers(context: CustomerContext, listed: list[vendor.Subscription]) -> dict[str, Offer]:
    """The catalog offer of each vendor offer id ("productId:skuId:availabilityId"), in the
    customer's country first, else the first imported; read in one query for the customer."""
    wanted = {key for key in map(_product_sku, listed) if key is not None}
    if not wanted:
        return {}
    country = context.customer.country if context.customer else ""
    found: dict[tuple[str, str], Offer] = {}
    rows = Offer.objects.filter(
        vendor__provider_account=context.account,
        product_id__in={product for product, _sku in wanted},
        sku_id__in={sku for _product, sku in wanted},
    ).order_by("pk")
    for offer in rows:
        key = (offer.product_id, offer.sku_id)
        if key not in wanted:
            continue
        if key not in found or (offer.country == country and found[key].country != country):
            found[key] = offer
    return {
        facts.id: found[key]
        for facts in listed
        if (key := _product_sku(facts)) is not None and key in found
    }


def _plain(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _snapshot(subscription: Subscription, fields) -> dict:
    return {name: getattr(subscription, name) for name in fields}


def _pricing(context: CustomerContext, offers: list[Offer]):
    """One pricing context for all the customer's new subscriptions, scoped to the customer (its
    chain and the rules that can price it, not the partner's every customer)."""
    if not offers:
        return None
    return PricingContext.load(
        partner=context.account.organisation,
        offer_ids=sorted({offer.pk for offer in offers}),
        customer=context.customer,
    )


def _lot_rows(pricing, subscription: Subscription, facts: vendor.Subscription) -> list[SeatLot]:
    """Seat lots of an imported subscription: one per refundable lot the vendor lists (each
    purchase or increase, with its own refund window), the other seats in one closed lot."""
    try:
        # The customer's price, as `subscriptions.operations.unit_price` reads it for an order.
        price = pricing.price(
            PriceRequest(
                offer_id=subscription.offer_id,
                customer_id=subscription.customer_id,
                term=subscription.term,
                billing_cycle=subscription.billing_cycle,
                on=subscription.term_start,
                quantity=subscription.quantity,
                subscription_ref=str(subscription.pk),
            )
        ).customer_price.money
        amount, currency = price.amount, price.currency
    except PricingError:
        # No price known yet: the lot still records the seats and their refund windows; the
        # price sheet import prices the subscription.
        amount, currency = Decimal("0"), subscription.offer.currency
    start = dt.datetime.combine(subscription.term_start, dt.time(), tzinfo=dt.UTC)
    refundable = [lot for lot in facts.refundable_lots if lot.quantity > 0]
    rest = subscription.quantity - sum(lot.quantity for lot in refundable)
    rows = []
    if rest > 0:
        rows.append((LotKind.PURCHASE, rest, start, None))
    for index, lot in enumerate(refundable):
        kind = LotKind.PURCHASE if index == 0 and rest <= 0 else LotKind.INCREASE
        # A lot is refundable for 168 hours after it was bought.
        bought = max(start, lot.allowed_until - rules.REFUND_WINDOW) if lot.allowed_until else start
        rows.append((kind, lot.quantity, bought, lot.allowed_until))
    return [
        SeatLot(
            subscription=subscription,
            kind=kind,
            quantity=quantity,
            original_quantity=quantity,
            unit_price=amount,
            currency=currency,
            purchased_at=bought,
            cancellable_until=until,
        )
        for kind, quantity, bought, until in rows
    ]


def _new(
    context: CustomerContext,
    facts: vendor.Subscription,
    parent: Subscription | None,
    offer: Offer,
    now: dt.datetime,
) -> tuple[Subscription, dict]:
    """A subscription the vendor lists and Seatkeeper lacks, not yet written, and the values
    adopted from the vendor (`_desired`)."""
    customer = context.customer
    started = facts.effective_start or facts.created_at or now
    values = _desired(facts, None)
    reseller = customer.parent if customer.parent.kind == "reseller" else None
    subscription = Subscription(
        customer=customer,
        reseller=reseller,
        offer=offer,
        tenant=context.tenant,
        parent=parent,
        friendly_name=(facts.friendly_name or facts.offer_name or offer.title)[:200],
        is_trial=facts.is_trial,
        renewal_option=RenewalOption.EVERY_TIME if facts.auto_renew else RenewalOption.NONE,
        start_date=(facts.created_at or started).date(),
        term_start=started.date(),
        sync_status=SyncStatus.SYNCHRONIZED,
        synced_at=now,
        **values,
    )
    provisioning.apply_vendor_facts(subscription, facts)
    return subscription, values


def _create_all(
    context: CustomerContext,
    batch: list[tuple[vendor.Subscription, Subscription | None, Offer]],
    pricing,
) -> list[Subscription]:
    """Create the customer's new subscriptions (`batch`: the vendor's facts, the parent, the
    offer of each) with their vendor states, seat lots, first operations and activity records:
    a statement per table for them all, not five per subscription (a first discovery of a big
    partner creates hundreds of thousands)."""
    now = clock.now()
    made = [_new(context, facts, parent, offer, now) for facts, parent, offer in batch]
    # PostgreSQL and SQLite (3.35 and later) hand back the new rows' ids, which the rows
    # written next point to.
    subscriptions = Subscription.objects.bulk_create([subscription for subscription, _ in made])
    drift.remember_new(made, run=context.run, now=now)
    SeatLot.objects.bulk_create(
        lot
        for subscription, (facts, _parent, _offer) in zip(subscriptions, batch, strict=True)
        for lot in _lot_rows(pricing, subscription, facts)
    )
    subscription_operations.record_imported(
        [
            (
                subscription,
                # What billing starts the subscription's timeline from (`billing.charges`).
                {
                    "source": "discovery",
                    "run": context.run.pk,
                    "imported": True,
                    "term_start": subscription.term_start.isoformat(),
                    "quantity": subscription.quantity,
                    "term": subscription.term,
                    "billing_cycle": subscription.billing_cycle,
                    "status": subscription.status,
                },
            )
            for subscription in subscriptions
        ]
    )
    return subscriptions


def _refundable(lots: list[SeatLot], now: dt.datetime) -> int:
    return sum(
        lot.quantity for lot in lots if lot.cancellable_until and lot.cancellable_until > now
    )


def _refresh_lots(
    subscription: Subscription, facts: vendor.Subscription, lots: list[SeatLot]
) -> bool:
    """Bring a known subscription's seat lots in line with the vendor: each lot the vendor still
    refunds (matched by the end of its refund window) holds the quantity it says, a lot it
    lists that we lack is added, a lot of ours it no longer refunds closes now; then the lots
    that can no longer be refunded take up the difference, so the lots hold the subscription's
    quantity. Returns whether a lot changed.

    A lot added here is of kind "purchase": seats bought at the vendor, not by an operation of
    ours. Billing matches "increase" lots to our own quantity changes in order and charges a
    change adopted from the vendor on its own (`billing.charges`), so these rows never take the
    place of a lot of ours there."""
    now = clock.now()
    changed = False
    template = lots[-1] if lots else None
    unit_price = template.unit_price if template else Decimal("0")
    currency = template.currency if template else subscription.offer.currency
    ours = {lot.cancellable_until: lot for lot in lots if lot.cancellable_until}
    listed = set()
    for refundable in facts.refundable_lots:
        until = refundable.allowed_until
        if refundable.quantity <= 0 or until is None or until <= now:
            continue
        listed.add(until)
        lot = ours.get(until)
        if lot is None:
            lots.append(
                SeatLot.objects.create(
                    subscription=subscription,
                    kind=LotKind.PURCHASE,
                    quantity=refundable.quantity,
                    original_quantity=refundable.quantity,
                    unit_price=unit_price,
                    currency=currency,
                    purchased_at=min(now, until - rules.REFUND_WINDOW),
                    cancellable_until=until,
                )
            )
            changed = True
        elif lot.quantity != refundable.quantity:
            lot.quantity = refundable.quantity
            lot.original_quantity = max(lot.original_quantity, lot.quantity)
            lot.save(update_fields=["quantity", "original_quantity"])
            changed = True
    for lot in lots:
        if (
            lot.cancellable_until
            and lot.cancellable_until > now
            and lot.cancellable_until not in listed
        ):
            lot.cancellable_until = now  # the vendor no longer refunds these seats
            lot.save(update_fields=["cancellable_until"])
            changed = True
    missing = subscription.quantity - sum(lot.quantity for lot in lots)
    if missing > 0:
        SeatLot.objects.create(
            subscription=subscription,
            kind=LotKind.PURCHASE,
            quantity=missing,
            original_quantity=missing,
            unit_price=unit_price,
            currency=currency,
            purchased_at=now,
        )
        changed = True
    closed = [lot for lot in lots if not lot.cancellable_until or lot.cancellable_until <= now]
    for lot in reversed(closed):  # seats gone at the vendor: from the latest lot back
        if missing >= 0:
            break
        taken = min(lot.quantity, -missing)
        if taken:
            lot.quantity -= taken
            lot.save(update_fields=["quantity"])
            missing += taken
            changed = True
    return changed


def _update(
    context: CustomerContext,
    subscription: Subscription,
    facts: vendor.Subscription,
    *,
    pending: bool,
    states: dict,
    lots: list[SeatLot],
) -> bool:
    """Bring a known subscription in line with the vendor; returns whether anything changed.
    `pending`: a change of ours is still open (then its lots are left as they are too);
    `states`: the vendor states read for the customer's subscriptions (`drift.remember`);
    `lots`: the subscription's seat lots, oldest first."""
    fields = VENDOR_ONLY if pending else (*VENDOR_ONLY, *ADOPTED)
    before = _snapshot(subscription, fields)
    provisioning.apply_vendor_facts(subscription, facts)
    vendor_values = _desired(facts, subscription)
    drift.remember(subscription, vendor_values, run=context.run, now=clock.now(), states=states)
    if not pending:
        for name, value in vendor_values.items():
            if name == "status" and value != subscription.status:
                # Recorded by the refresh operation below, with the other adopted fields.
                transitions.transition(
                    subscription,
                    value,
                    actor=None,
                    cause=transitions.ADOPTED,
                    record=False,
                    adopted=True,
                )
            else:
                setattr(subscription, name, value)
    after = _snapshot(subscription, fields)
    changes = {
        name: [_plain(before[name]), _plain(after[name])]
        for name in fields
        if before[name] != after[name]
    }
    if not pending:
        refundable_before = _refundable(lots, clock.now())
        if _refresh_lots(subscription, facts, lots):
            changes["refundable_seats"] = [refundable_before, _refundable(lots, clock.now())]
    if not changes:
        return False
    subscription.version += 1
    subscription.updated_at = clock.now()
    saved = [name for name in changes if name != "refundable_seats"]
    subscription.save(update_fields=[*saved, "version", "updated_at"])
    payload = {"source": "discovery", "run": context.run.pk}
    # The new values billing charges the change from (`billing.charges`).
    adopted = {name: changes[name][1] for name in BILLED if name in changes}
    if adopted:
        payload["adopted"] = adopted
    # A change adopted from the vendor, made there by a person its audit records name.
    changed_by = ""
    if not pending and any(name in ADOPTED for name in changes):
        changed_by = context.changed_by.get(facts.id.lower(), "")
    if changed_by:
        payload["changed_at_vendor_by"] = changed_by
    subscription_operations.record_operation(
        subscription,
        OperationKind.REFRESH,
        actor=None,
        payload=payload,
        changes=changes,
        local=True,
        actor_name=changed_by or None,
    )
    return True


def fetch(context: CustomerContext) -> None:
    context.data[NAME] = list(context.provider.list_subscriptions(customer_id=context.facts.id))


def import_customer(context: CustomerContext) -> None:
    tenant = context.tenant
    listed = context.data[NAME]
    # Base subscriptions before their add-ons, so an add-on finds its base.
    listed = sorted(listed, key=lambda facts: facts.parent_subscription_id is not None)
    reseller_ids = {facts.partner_id for facts in listed if facts.partner_id}
    if len(reseller_ids) == 1:
        assignments.note_vendor_reseller(context.customer, reseller_ids.pop())
    known = list(
        Subscription.objects.filter(tenant=tenant).filter(
            ~Q(vendor_subscription_id="") | ~Q(vendor_order_id="")
        )
    )
    by_id = {s.vendor_subscription_id: s for s in known if s.vendor_subscription_id}
    by_order = {s.vendor_order_id: s for s in known if not s.vendor_subscription_id}
    # Read once for the customer, not once per subscription.
    known_pks = [s.pk for s in known]
    pending = set(
        Operation.objects.filter(subscription_id__in=known_pks, state__in=OPEN_STATES)
        .values_list("subscription_id", flat=True)
        .distinct()
    )
    states = drift.states_of(known_pks)
    lots: dict[int, list[SeatLot]] = {pk: [] for pk in known_pks}
    for lot in SeatLot.objects.filter(subscription_id__in=known_pks).order_by("purchased_at", "pk"):
        lots[lot.subscription_id].append(lot)
    new = [
        facts
        for facts in listed
        if facts.id not in by_id and not (facts.order_id and facts.order_id in by_order)
    ]
    offers = _offers(context, new)
    pricing = _pricing(context, list(offers.values()))
    seen: set[str] = set()
    creating: list[tuple[vendor.Subscription, Offer]] = []
    for facts in listed:
        seen.add(facts.id)
        subscription = by_id.get(facts.id) or (
            by_order.pop(facts.order_id, None) if facts.order_id else None
        )
        if subscription is not None:
            was_cancelled = subscription.status == Status.CANCELLED
            changed = _update(
                context,
                subscription,
                facts,
                pending=subscription.pk in pending,
                states=states,
                lots=lots[subscription.pk],
            )
            deleted = facts.status == vendor.SubscriptionStatus.DELETED
            if (
                changed
                and deleted
                and not was_cancelled
                and subscription.status == Status.CANCELLED
            ):
                context.count(NAME, "removed")  # deleted at the vendor since the last run
            else:
                context.count(NAME, "updated" if changed else "unchanged")
            continue
        offer = offers.get(facts.id)
        if offer is None:
            context.skip(NAME, facts.id, f"offer {facts.offer_id} is not in the partner's catalog")
            continue
        creating.append((facts, offer))
    while creating:
        # An add-on whose base is new too waits for the base's row.
        waiting = {facts.id for facts, _offer in creating}
        ready = [pair for pair in creating if pair[0].parent_subscription_id not in waiting]
        ready = ready or creating  # (a loop of parents the vendor never lists: none waits)
        created = _create_all(
            context,
            [
                (facts, by_id.get(facts.parent_subscription_id or ""), offer)
                for facts, offer in ready
            ],
            pricing,
        )
        for (facts, _offer), subscription in zip(ready, created, strict=True):
            by_id[facts.id] = subscription
        context.count(NAME, "created", len(created))
        done = {facts.id for facts, _offer in ready}
        creating = [pair for pair in creating if pair[0].id not in done]
    # Known here, gone at the vendor: cancelled there, unless a change of ours is pending.
    for vendor_id, subscription in by_id.items():
        if vendor_id in seen or subscription.status == Status.CANCELLED:
            continue
        if subscription.pk in pending:
            continue
        mark_gone(subscription, run=context.run)
        context.count(NAME, "removed")


def mark_gone(subscription: Subscription, *, run) -> None:
    """The vendor no longer lists a subscription Seatkeeper knew: cancelled there. The row and
    its history stay; the change is in the history like any adopted one."""
    changes = transitions.transition(
        subscription,
        Status.CANCELLED,
        actor=None,
        cause=transitions.ADOPTED,
        record=False,
        adopted=True,
    )
    subscription.version += 1
    subscription.updated_at = clock.now()
    subscription.save(update_fields=["status", "version", "updated_at"])
    subscription_operations.record_operation(
        subscription,
        OperationKind.REFRESH,
        actor=None,
        payload={
            "source": "discovery",
            "run": run.pk,
            "gone": True,
            "adopted": {"status": Status.CANCELLED},
        },
        changes=changes,
        local=True,
    )
