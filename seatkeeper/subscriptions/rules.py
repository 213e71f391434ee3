"""Vendor rules about how many seats a subscription holds, when its commitment ends, and when
seats can be removed and subscriptions cancelled.

New Commerce (Microsoft): seats can be removed, and a subscription cancelled, for 168 hours after
they were bought (the purchase, a renewal or a later increase, each with its own clock); after
that only the next term can be smaller. Manual vendors follow the same seat-lot window for
refunds, but a person fulfils the change, so a later decrease is still allowed (it is simply not
refunded): the UC vendor's partner contracts let monthly plans shrink at any time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from seatkeeper.catalog.models import TERM_MONTHS, Offer, add_months
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.formatting import format_quantity
from seatkeeper.subscriptions.models import SeatLot, Status, Subscription

REFUND_WINDOW = dt.timedelta(hours=168)


@dataclass(frozen=True)
class Removable:
    now: int  # seats that can be removed now
    until: dt.datetime | None  # the earliest window among them that closes
    closed_since: dt.datetime | None  # when the most recent closed window closed


def fewest_seats(offer: Offer) -> int:
    """The fewest seats a subscription to `offer` may hold: the vendor's minimum, and at least
    one (also what the store proposes)."""
    return max(offer.minimum_quantity, 1)


def check_quantity(offer: Offer, quantity: int) -> None:
    """Refuse a number of seats outside the vendor's range for `offer`: at least
    `fewest_seats`, at most its maximum when it has one. Orders, changes and renewals all check
    through here."""
    lowest = fewest_seats(offer)
    if quantity < lowest or (offer.maximum_quantity and quantity > offer.maximum_quantity):
        raise ServiceError(
            _("The quantity must be between %(min)s and %(max)s.")
            % {"min": lowest, "max": offer.maximum_quantity or "∞"},
            field="quantity",
        )


def commitment_end(term_start: dt.date, term: str) -> dt.date:
    """The last day of a commitment of `term` starting on `term_start` (a P1Y term from
    2026-03-15 ends on 2027-03-14)."""
    return add_months(term_start, TERM_MONTHS[term]) - dt.timedelta(days=1)


def window_end(bought_at: dt.datetime) -> dt.datetime:
    return bought_at + REFUND_WINDOW


def removable(lots: list[SeatLot], now: dt.datetime) -> Removable:
    inside = [
        lot
        for lot in lots
        if lot.quantity and lot.cancellable_until and lot.cancellable_until > now
    ]
    closed = [
        lot.cancellable_until
        for lot in lots
        if lot.quantity and lot.cancellable_until and lot.cancellable_until <= now
    ]
    return Removable(
        now=sum(lot.quantity for lot in inside),
        until=min((lot.cancellable_until for lot in inside), default=None),
        closed_since=max(closed, default=None),
    )


def decrease_needs_window(subscription: Subscription) -> bool:
    return not subscription.is_manual


def quantity_change_clears_renewal_changes(subscription: Subscription) -> bool:
    """Partner Center deletes the changes scheduled for renewal when the quantity changes
    mid-term ("create scheduled changes" in its documentation); a manual vendor's person keeps
    them."""
    return not subscription.is_manual


def addon_seats_refusal(
    offer, base: Subscription, quantity: int, *, excluding: Subscription | None = None
) -> str | None:
    """Why `quantity` seats of the add-on `offer` cannot go on `base`, or None.

    Where the vendor says an add-on's seats may not outnumber its base's
    (`Offer.seats_within_base`, see the catalog model for where that fact comes from), the
    add-on's seats on this base, those already there (`excluding` the one being changed) plus
    `quantity`, stay within the base subscription's seats. The refusal names the base and its
    seats."""
    if not offer.seats_within_base:
        return None
    others = base.addons.filter(offer=offer).exclude(status=Status.CANCELLED)
    if excluding is not None:
        others = others.exclude(pk=excluding.pk)
    taken = others.aggregate(seats=Sum("quantity"))["seats"] or 0
    if taken + quantity <= base.quantity:
        return None
    refusal = ngettext(
        "%(addon)s cannot have more seats than its base subscription %(base)s, which has "
        "%(n)s seat.",
        "%(addon)s cannot have more seats than its base subscription %(base)s, which has "
        "%(n)s seats.",
        base.quantity,
    ) % {"addon": offer.title, "base": base.friendly_name, "n": format_quantity(base.quantity)}
    if taken:
        refusal += " " + ngettext(
            "%(n)s of them already has this add-on.",
            "%(n)s of them already have this add-on.",
            taken,
        ) % {"n": format_quantity(taken)}
    return refusal
