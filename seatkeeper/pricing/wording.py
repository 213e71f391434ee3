"""How pricing work reads in the activity log.

Every pricing action is the sellers' own working (costs, margins, price lists): marked
`internal`, it is never shown to people of a customer organisation.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from seatkeeper.activity.wording import ActionWording, Entry, FieldWording, said
from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.core.formatting import (
    format_date,
    format_number,
    format_percent,
    format_quantity,
    format_unit_price,
    stored_money,
)
from seatkeeper.pricing.models import Method, Tier


def _whom(entry: Entry) -> str:
    if entry.get("target"):
        return entry.get("target")
    if entry.get("tier") == Tier.RESELLER:
        return _("all resellers")
    return _("all customers")


def _how(entry: Entry) -> str:
    method, value = entry.get("method"), entry.get("value")
    if method == Method.MARKUP_ON_COST:
        return _("markup of %(value)s on cost") % {"value": format_percent(value)}
    if method == Method.MARGIN:
        return _("margin of %(value)s") % {"value": format_percent(value)}
    if method == Method.DISCOUNT_OFF_LIST:
        return _("%(value)s off the vendor list price") % {"value": format_percent(value)}
    if method == Method.FIXED_PRICE:
        money = stored_money(value, entry.get("currency"))
        shown = format_unit_price(money) if money else format_number(value)
        return _("fixed price %(amount)s") % {"amount": shown}
    return str(method)


def _rule_set(entry: Entry) -> str:
    return _("%(actor)s set the price rule for %(whom)s from %(day)s: %(how)s.") % {
        "actor": entry.actor,
        "whom": _whom(entry),
        "day": format_date(entry.get("effective_from")),
        "how": _how(entry),
    }


def _entry_set(entry: Entry) -> str:
    values = {
        "actor": entry.actor,
        "offer": entry.get("offer"),
        "object": entry.object,
        "day": format_date(entry.get("effective_from")),
    }
    if entry.get("unit_price") in (None, ""):
        return (
            _("%(actor)s removed %(offer)s from the price list %(object)s from %(day)s.") % values
        )
    values["price"] = _unit_price(entry.get("unit_price"), entry)
    return (
        _("%(actor)s priced %(offer)s at %(price)s in the price list %(object)s from %(day)s.")
        % values
    )


def _unit_price(raw: Any, entry: Entry) -> str:
    money = stored_money(raw, entry.get("currency"))
    return format_unit_price(money) if money else format_number(raw)


def _term(raw: Any, entry: Entry) -> str:
    return str(dict(Term.choices).get(raw, raw))


def _cycle(raw: Any, entry: Entry) -> str:
    return str(dict(BillingCycle.choices).get(raw, raw))


def _day(raw: Any, entry: Entry) -> str:
    return format_date(raw)


ACTIONS = {
    "vendor_price.set": ActionWording(
        gettext_lazy("Vendor price set"),
        said(
            gettext_noop("%(actor)s set the vendor price of %(object)s from %(day)s."),
            day="effective_from",
        ),
        uses=frozenset({"effective_from"}),
        internal=True,
    ),
    "exchange_rate.set": ActionWording(
        gettext_lazy("Exchange rate set"),
        said(gettext_noop("%(actor)s set an exchange rate from %(day)s."), day="effective_from"),
        uses=frozenset({"effective_from"}),
        internal=True,
    ),
    "pricing_policy.set": ActionWording(
        gettext_lazy("Price guardrails changed"),
        said(gettext_noop("%(actor)s changed the price guardrails.")),
        internal=True,
    ),
    "price_list.create": ActionWording(
        gettext_lazy("Price list created"),
        said(gettext_noop("%(actor)s created the price list %(object)s.")),
        internal=True,
    ),
    "price_list.entry_set": ActionWording(
        gettext_lazy("Price list price set"),
        _entry_set,
        uses=frozenset({"offer", "unit_price", "effective_from"}),
        internal=True,
    ),
    "price_list.csv_import": ActionWording(
        gettext_lazy("Price list file imported"),
        said(
            gettext_noop("%(actor)s imported %(lines)s prices into the price list %(object)s."),
            lines="lines",
        ),
        uses=frozenset({"lines"}),
        internal=True,
    ),
    "pricesheet.import": ActionWording(
        gettext_lazy("Price sheet imported"),
        said(
            gettext_noop(
                "%(actor)s imported the price sheet of %(object)s (%(markets)s): %(added)s "
                "prices added, %(unchanged)s unchanged, %(no_price)s offers without a price."
            ),
            markets="markets",
            added="added",
            unchanged="unchanged",
            no_price="no_price",
        ),
        uses=frozenset({"markets", "added", "unchanged", "no_price"}),
        internal=True,
    ),
    "margin_rule.set": ActionWording(
        gettext_lazy("Price rule set"),
        _rule_set,
        uses=frozenset({"tier", "target", "method", "value", "effective_from"}),
        internal=True,
    ),
    "margin_rule.remove": ActionWording(
        gettext_lazy("Price rule removed"),
        said(gettext_noop("%(actor)s removed a price rule from %(day)s."), day="effective_from"),
        uses=frozenset({"effective_from"}),
        internal=True,
    ),
}

FIELDS = {
    "term": FieldWording(gettext_lazy("term"), _term),
    "billing_cycle": FieldWording(gettext_lazy("billing cycle"), _cycle),
    "cost": FieldWording(gettext_lazy("cost"), _unit_price),
    "list_price": FieldWording(gettext_lazy("list price"), _unit_price),
    "unit_price": FieldWording(gettext_lazy("unit price"), _unit_price),
    "rate": FieldWording(gettext_lazy("rate"), lambda raw, entry: format_number(raw)),
    "effective_from": FieldWording(gettext_lazy("from"), _day),
    "customer": FieldWording(gettext_lazy("customer")),
    "lines": FieldWording(gettext_lazy("lines"), lambda raw, entry: format_quantity(raw)),
    "rule": FieldWording(gettext_lazy("rule number")),
}
