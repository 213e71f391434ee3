"""How catalog work reads in the activity log, and what an import changed about an offer."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from seatkeeper.activity.wording import ActionWording, Entry, FieldWording, said
from seatkeeper.catalog.models import BillingCycle, CatalogChange, ChangeKind, Term, VendorKind
from seatkeeper.core.formatting import format_number, format_quantity, format_unit_price
from seatkeeper.core.wording import fill

_COUNTS = frozenset(
    {"refresh", "new", "changed", "price_changed", "withdrawn", "unchanged", "no_price"}
)


def _imported(message: str):
    def sentence(entry: Entry) -> str:
        values = {
            "actor": entry.actor,
            "object": entry.object,
            "new": format_quantity(entry.get("new", 0)),
            "changed": format_quantity(entry.get("changed", 0)),
            "price_changed": format_quantity(entry.get("price_changed", 0)),
            "withdrawn": format_quantity(entry.get("withdrawn", 0)),
            "unchanged": format_quantity(entry.get("unchanged", 0)),
        }
        return fill(_(message), values)

    return sentence


ACTIONS = {
    "vendor.create": ActionWording(
        gettext_lazy("Vendor added"),
        said(gettext_noop("%(actor)s added the vendor %(object)s (%(kind)s)."), kind="kind"),
        uses=frozenset({"kind"}),
    ),
    "catalog.refresh": ActionWording(
        gettext_lazy("Catalog imported"),
        _imported(
            gettext_noop(
                "%(actor)s imported the catalog of %(object)s: %(new)s new, %(changed)s "
                "changed, %(price_changed)s with a new price, %(withdrawn)s withdrawn, "
                "%(unchanged)s unchanged."
            )
        ),
        uses=_COUNTS,
    ),
    "catalog.csv_import": ActionWording(
        gettext_lazy("Catalog file imported"),
        _imported(
            gettext_noop(
                "%(actor)s imported a catalog file for %(object)s: %(new)s new, %(changed)s "
                "changed, %(price_changed)s with a new price, %(withdrawn)s withdrawn, "
                "%(unchanged)s unchanged."
            )
        ),
        uses=_COUNTS,
    ),
    "offer.withdraw": ActionWording(
        gettext_lazy("Offer withdrawn"),
        said(gettext_noop("%(actor)s withdrew %(object)s from sale.")),
    ),
}

FIELDS = {
    "vendor.kind": FieldWording(
        gettext_lazy("kind"),
        lambda raw, entry: str(dict(VendorKind.choices).get(raw, raw)),
    ),
    "no_price": FieldWording(gettext_lazy("offers without a price")),
}


# --- what an import changed about an offer -----------------------------------------------------


def _term_label(item: dict[str, Any]) -> str:
    term = dict(Term.choices).get(item.get("term"), item.get("term", ""))
    cycle = dict(BillingCycle.choices).get(item.get("billing_cycle"), item.get("billing_cycle", ""))
    return f"{term} · {cycle}"


def _price(value: Any, currency: str | None) -> str:
    if value in (None, "", "None"):
        return "—"
    return format_unit_price(value, currency) if currency else format_number(value)


def change_details(change: CatalogChange) -> str:
    """What an import changed about an offer, in the reader's language ("1 year · Monthly:
    cost 4,50 € → 5,00 €"). Prices are stored as numbers ("Decimal as string") with their
    currency; changes recorded before the currency was kept show the bare numbers."""
    details = change.details or {}
    if change.kind == ChangeKind.CHANGED:
        offer_fields = {f.name: f for f in change.offer._meta.get_fields()}
        parts = []
        for name, pair in (details.get("changes") or {}).items():
            old, new = [*pair, None, None][:2]
            model_field = offer_fields.get(name)
            label = getattr(model_field, "verbose_name", name.replace("_", " "))
            parts.append(
                _("%(label)s: %(old)s → %(new)s")
                % {"label": label, "old": old if old not in (None, "") else "—", "new": new}
            )
        return "; ".join(parts)
    if change.kind == ChangeKind.PRICE_CHANGED:
        parts = []
        for item in details.get("prices", []):
            currency = item.get("currency")
            cost = item.get("cost") or [None, None]
            listed = item.get("list_price") or [None, None]
            parts.append(
                _(
                    "%(term)s: cost %(old_cost)s → %(new_cost)s, "
                    "list price %(old_list)s → %(new_list)s"
                )
                % {
                    "term": _term_label(item),
                    "old_cost": _price(cost[0], currency),
                    "new_cost": _price(cost[1], currency),
                    "old_list": _price(listed[0], currency),
                    "new_list": _price(listed[1], currency),
                }
            )
        return "; ".join(parts)
    if change.kind == ChangeKind.NO_PRICE:
        return ", ".join(_term_label(item) for item in details.get("terms", []))
    return ""
