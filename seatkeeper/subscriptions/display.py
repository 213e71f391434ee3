"""What the pages, the API and the exports show about subscriptions beyond the stored fields:
prices for the viewer's audience (bulk, through one pricing context), the actions a person may
take on each row, and the refund each seat lot would still earn.

Reads only; every write goes through `services`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.accounts.selectors import partner_of
from seatkeeper.activity.wording import Entry, actor_phrase, describe, is_customer_viewer
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.formatting import format_datetime
from seatkeeper.core.money import Money
from seatkeeper.pricing.audiences import Audience, visible_audiences
from seatkeeper.pricing.engine import PriceBreakdown, PriceRequest, PricingContext, TierPrice
from seatkeeper.pricing.quotes import ProposedChange
from seatkeeper.subscriptions import attempts, services
from seatkeeper.subscriptions.models import (
    Operation,
    SeatLot,
    Status,
    Subscription,
    SyncStatus,
)
from seatkeeper.subscriptions.permissions import Action, refusal

# The price each kind of organisation pays: what its people see first.
OWN_AUDIENCE = {
    OrganisationKind.PARTNER: Audience.PARTNER_COST,
    OrganisationKind.RESELLER: Audience.RESELLER_PRICE,
    OrganisationKind.CUSTOMER: Audience.CUSTOMER_PRICE,
}
AUDIENCE_ORDER = [Audience.PARTNER_COST, Audience.RESELLER_PRICE, Audience.CUSTOMER_PRICE]


def audiences_for(user: User) -> list[Audience]:
    visible = visible_audiences(user)
    return [audience for audience in AUDIENCE_ORDER if audience in visible]


def viewer_audience(user: User, requested: str | None = None) -> Audience:
    """The audience asked for when the viewer may see it, else the price the viewer's
    organisation pays."""
    visible = audiences_for(user)
    if requested in visible:
        return Audience(requested)
    kind = user.organisation.kind if user.organisation_id else OrganisationKind.CUSTOMER
    own = OWN_AUDIENCE.get(kind, Audience.CUSTOMER_PRICE)
    return own if own in visible else visible[-1]


@dataclass(frozen=True)
class ShownPrice:
    """One price as a person sees it: the amount, whose price it is, and how it was made."""

    audience: Audience
    unit: Money | None
    total: Money | None
    explanation: str
    error: str = ""

    @property
    def label(self) -> str:
        return self.audience.label

    def __str__(self) -> str:
        return str(self.total) if self.total is not None else ""


def explanation_for(breakdown: PriceBreakdown, tier: TierPrice, user: User) -> str:
    """The full working when the viewer may see the tier below; otherwise which list or rule
    applied, without the figures of the tier below. Customers see neither: which rule or list
    their seller priced them with ("Rule #5 set by …") is the seller's internal working."""
    if is_customer_viewer(user):
        return ""
    tiers = breakdown.tiers
    index = tiers.index(tier)
    below = tiers[index - 1] if index else None
    if below is None or below.audience in visible_audiences(user):
        return tier.explanation or tier.summary
    return tier.summary


def shown(breakdown: PriceBreakdown, audience: Audience, user: User, quantity: int) -> ShownPrice:
    tier = breakdown.tier(audience)
    if tier is None:  # a direct customer has no reseller price: what the partner sells at
        tier = breakdown.customer_price
        audience = Audience.CUSTOMER_PRICE
    return ShownPrice(
        audience=audience,
        unit=tier.money,
        total=breakdown.total(audience, quantity),
        explanation=explanation_for(breakdown, tier, user),
    )


class RowPricer:
    """Prices many subscriptions in memory after loading the pricing context once, so a page or
    an export of any length issues a fixed number of queries for its prices."""

    def __init__(
        self, user: User, audience: Audience, *, offer_ids: Iterable[int] | None = None
    ) -> None:
        self.user = user
        self.audience = audience
        self.on = clock.today()
        self.context: PricingContext | None = None
        if user.organisation_id is not None:
            partner = partner_of(user.organisation)
            ids = None if offer_ids is None else sorted(set(offer_ids))
            self.context = PricingContext.load(partner=partner, offer_ids=ids)

    def price(self, subscription: Subscription) -> ShownPrice:
        return self.price_of(
            offer_id=subscription.offer_id,
            customer_id=subscription.customer_id,
            term=subscription.term,
            billing_cycle=subscription.billing_cycle,
            quantity=subscription.quantity,
            subscription_id=subscription.pk,
        )

    def price_of(
        self,
        *,
        offer_id: int,
        customer_id: int,
        term: str,
        billing_cycle: str,
        quantity: int,
        subscription_id: int,
    ) -> ShownPrice:
        if self.context is None:
            return ShownPrice(self.audience, None, None, "", _("No price"))
        try:
            breakdown = self.context.price(
                PriceRequest(
                    offer_id=offer_id,
                    customer_id=customer_id,
                    term=term,
                    billing_cycle=billing_cycle,
                    on=self.on,
                    quantity=quantity,
                    subscription_ref=str(subscription_id),
                )
            )
        except ServiceError as error:
            return ShownPrice(self.audience, None, None, "", error.message)
        return shown(breakdown, self.audience, self.user, quantity)


def price_offer(
    user: User,
    audience: Audience,
    *,
    context: PricingContext,
    offer_id: int,
    customer: Organisation,
    term: str,
    billing_cycle: str,
    quantity: int,
    on: dt.date | None = None,
    subscription_id: int | None = None,
) -> ShownPrice:
    """An offer's price for one audience; with `subscription_id`, the margin rules set for that
    subscription apply too, as they do in the list, the exports and the quotes."""
    try:
        breakdown = context.price(
            PriceRequest(
                offer_id=offer_id,
                customer_id=customer.pk,
                term=term,
                billing_cycle=billing_cycle,
                on=on or clock.today(),
                quantity=max(quantity, 1),
                subscription_ref=str(subscription_id) if subscription_id else "",
            )
        )
    except ServiceError as error:
        return ShownPrice(audience, None, None, "", error.message)
    return shown(breakdown, audience, user, max(quantity, 1))


def tier_prices(user: User, subscription) -> list[ShownPrice]:
    """The subscription's price for every audience the viewer may see, each explained."""
    context = PricingContext.load(
        partner=partner_of(subscription.customer), offer_ids=[subscription.offer_id]
    )
    prices = []
    for audience in audiences_for(user):
        price = price_offer(
            user,
            audience,
            context=context,
            offer_id=subscription.offer_id,
            customer=subscription.customer,
            term=subscription.term,
            billing_cycle=subscription.billing_cycle,
            quantity=subscription.quantity,
            subscription_id=subscription.pk,
        )
        if price.audience == audience:
            prices.append(price)
    return prices


def unit_prices(
    user: User,
    audience: Audience,
    context: PricingContext,
    offer,
    customer: Organisation,
    term_choices: list[tuple[str, str]],
) -> list[tuple[str, ShownPrice]]:
    """(label, price of one unit) for each of an offer's terms ("term|cycle" choices): the
    store's and the add-ons' catalogue rows."""
    prices = []
    for value, label in term_choices:
        term, _sep, cycle = value.partition("|")
        prices.append(
            (
                label,
                price_offer(
                    user,
                    audience,
                    context=context,
                    offer_id=offer.pk,
                    customer=customer,
                    term=term,
                    billing_cycle=cycle,
                    quantity=1,
                ),
            )
        )
    return prices


# --- actions ------------------------------------------------------------------------------------


class ActionGate:
    """`permissions.refusal` per (customer, action, term), remembered for the page: a customer
    admin's rights are read once, not once per row."""

    def __init__(self, user: User) -> None:
        self.user = user
        self._seen: dict[tuple, str | None] = {}

    def refusal(
        self, customer: Organisation, action: Action, term: str | None = None
    ) -> str | None:
        key = (customer.pk, action, term)
        if key not in self._seen:
            self._seen[key] = refusal(self.user, customer, action, term=term)
        return self._seen[key]

    def allowed(self, customer: Organisation, action: Action, term: str | None = None) -> bool:
        return self.refusal(customer, action, term) is None

    def row_actions(self, subscription: Subscription) -> dict[str, bool]:
        customer, term, status = subscription.customer, subscription.term, subscription.status
        return {
            "addons": status == Status.ACTIVE
            and subscription.offer.kind == "service"
            and self.allowed(customer, Action.ORDER, term),
            "quantity": status == Status.ACTIVE
            and (
                self.allowed(customer, Action.INCREASE, term)
                or self.allowed(customer, Action.DECREASE, term)
            ),
            "suspend": status == Status.ACTIVE and self.allowed(customer, Action.SUSPEND, term),
            "reactivate": status == Status.SUSPENDED
            and self.allowed(customer, Action.REACTIVATE, term),
            "cancel": status in (Status.ACTIVE, Status.SUSPENDED, Status.PENDING)
            and self.allowed(customer, Action.CANCEL, term),
            "renewal": status in (Status.ACTIVE, Status.SUSPENDED)
            and self.allowed(customer, Action.RENEWAL, term),
            "edit": status not in (Status.CANCELLED, Status.EXPIRED)
            and self.allowed(customer, Action.EDIT, term),
            "retry": subscription.sync_status == SyncStatus.FAILED
            and self.allowed(customer, Action.RETRY),
        }


# --- seat lots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotView:
    lot: SeatLot
    removable: bool
    refund: object | None  # Money, or None when no refund can be quoted
    note: str


def lot_views(
    subscription: Subscription, *, audience: Audience, at: dt.datetime | None = None
) -> list[LotView]:
    """Each open lot, and for those still inside the vendor's window what removing its seats
    would refund ("3 seats can be removed until 29 Nov 14:00 for a refund of €10.11")."""
    at = at or clock.now()
    views = []
    for lot in subscription.lots.filter(quantity__gt=0).order_by("purchased_at", "pk"):
        inside = lot.cancellable_until is not None and lot.cancellable_until > at
        refund, note = None, ""
        if inside and subscription.status == Status.ACTIVE:
            try:
                preview = services.quote(
                    subscription,
                    ProposedChange(quantity=subscription.quantity - lot.quantity),
                    at=at,
                    audience=audience,
                )
                refund = -preview.adjustment_now
            except ServiceError as error:
                note = error.message
        views.append(LotView(lot=lot, removable=inside, refund=refund, note=note))
    return views


# --- operation history -------------------------------------------------------------------------


def operation_entry(operation: Operation) -> Entry:
    """An operation of the history as `activity.wording` reads it: the same words as the
    activity log's record of it."""
    subscription = operation.subscription
    return Entry(
        code=f"subscription.{operation.kind}",
        actor=actor_phrase(operation.requested_by, operation.requested_by_name),
        object=str(subscription),
        object_type="subscription",
        organisation=subscription.customer.name,
        details={key: value for key, value in operation.payload.items() if key[:1] != "_"},
        changes={},
    )


def operation_details(operation: Operation) -> str:
    """An operation as people read it ("Bellevue Informatique raised Boutique et fournil from 8
    to 10 seats. now: Charge 15,00 €"), in their language, with the vendor's error if it
    failed."""
    described = describe(operation_entry(operation))
    parts = [described.sentence, *described.details]
    if operation.error_message:
        parts.append(vendor_error(operation.error_code, operation.error_message))
    return " ".join([parts[0], "; ".join(parts[1:])]).strip()


# Errors Seatkeeper raises itself rather than the vendor: said in the reader's language.
OWN_ERRORS = {
    "renewal_not_seen": gettext_lazy(
        "the vendor showed no new term within the renewal wait; the subscription may have "
        "expired at the vendor."
    ),
}


def vendor_error(code: str, message: str) -> str:
    """The vendor's answer as shown: its code and message, or our own error in words."""
    own = OWN_ERRORS.get(code)
    return str(own) if own is not None else f"{code} {message}".strip()


def operation_tries(operation: Operation) -> int:
    """The worker's calls to the vendor for this operation, across every retry (operations
    recorded before attempts were kept: the worker's counter)."""
    rows = list(operation.attempt_log.all())
    return attempts.vendor_tries(operation) if rows else operation.attempts


def attempt_lines(operation: Operation) -> list[str]:
    """Each try and decision, oldest first: "22 Nov 2026, 09:00 · Seatkeeper · Failed: 2002
    Quantity outside limits"; "22 Nov 2026, 09:30 · reselleradmin · Sent again"."""
    lines = []
    for row in operation.attempt_log.all():
        who = _("Seatkeeper") if row.by_worker else row.by_name
        line = " · ".join([format_datetime(row.at), who, str(row.get_outcome_display())])
        answer = vendor_error(row.error_code, row.error_message)
        if answer:
            line += f": {answer}"
        lines.append(line)
    return lines
