"""How subscription changes read in the activity log and the subscription's history.

Operation payloads hold numbers and codes (`"adjustment": "-41.38", "currency": "EUR"`); these
sentences and labels say them in the reader's language (see `activity.wording`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from seatkeeper.activity.wording import ActionWording, Entry, FieldWording, choice_value
from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.core.formatting import (
    format_adjustment,
    format_date,
    format_datetime,
    format_money,
    format_quantity,
    format_unit_price,
    stored_money,
)
from seatkeeper.core.wording import fill
from seatkeeper.subscriptions.forms import term_cycle_label
from seatkeeper.subscriptions.models import OperationKind, RenewalOption, Status


def seats(count: Any) -> str:
    """ "1 seat", "10 seats"."""
    try:
        number = int(count)
    except (TypeError, ValueError):
        return str(count)
    return ngettext("%(n)s seat", "%(n)s seats", number) % {"n": format_quantity(number)}


def _kind_label(kind: Any) -> str:
    try:
        return str(OperationKind(kind).label)
    except ValueError:
        return str(kind)


# --- sentences ----------------------------------------------------------------------------------


def _created(entry: Entry) -> str:
    return _("%(actor)s ordered %(offer)s: %(seats)s.") % {
        "actor": entry.actor,
        "offer": entry.get("offer") or entry.object,
        "seats": seats(entry.get("quantity")),
    }


def _quantity(entry: Entry) -> str:
    new, old = entry.get("quantity"), entry.get("previous")
    values = {
        "actor": entry.actor,
        "object": entry.object,
        "old": format_quantity(old),
        "new": format_quantity(new),
    }
    try:
        count, raised = int(new), int(new) > int(old)
    except (TypeError, ValueError):
        count, raised = 0, True
    if raised:
        return (
            ngettext(
                "%(actor)s raised %(object)s from %(old)s to %(new)s seat.",
                "%(actor)s raised %(object)s from %(old)s to %(new)s seats.",
                count,
            )
            % values
        )
    return (
        ngettext(
            "%(actor)s lowered %(object)s from %(old)s to %(new)s seat.",
            "%(actor)s lowered %(object)s from %(old)s to %(new)s seats.",
            count,
        )
        % values
    )


def _simple(message: str):
    def sentence(entry: Entry) -> str:
        return fill(_(message), {"actor": entry.actor, "object": entry.object})

    return sentence


def _cancelled(entry: Entry) -> str:
    if entry.get("reason") == "never_provisioned":
        return _("%(actor)s cancelled the order for %(object)s, which the vendor never set up.") % {
            "actor": entry.actor,
            "object": entry.object,
        }
    return _("%(actor)s ended %(object)s.") % {"actor": entry.actor, "object": entry.object}


def _renewal_setting(entry: Entry) -> str:
    values = {
        "actor": entry.actor,
        "object": entry.object,
        "option": choice_value(RenewalOption)(entry.get("renewal_option"), entry),
    }
    if "auto_renew" in entry.changes or "renewal_option" not in entry.changes:
        if entry.get("auto_renew"):
            return _("%(actor)s turned auto-renew on for %(object)s (%(option)s).") % values
        return _("%(actor)s turned auto-renew off for %(object)s.") % values
    return _("%(actor)s chose “%(option)s” for %(object)s.") % values


def _renewed(entry: Entry) -> str:
    return _("%(object)s renewed on %(day)s with %(seats)s.") % {
        "object": entry.object,
        "day": format_date(entry.get("from")),
        "seats": seats(entry.get("quantity")),
    }


def _expired(entry: Entry) -> str:
    return _("%(object)s ended on %(day)s.") % {
        "object": entry.object,
        "day": format_date(entry.get("ended")),
    }


def _retried(entry: Entry) -> str:
    return _("%(actor)s sent “%(operation)s” for %(object)s to the vendor again.") % {
        "actor": entry.actor,
        "operation": _kind_label(entry.get("kind")),
        "object": entry.object,
    }


def _fulfilled(entry: Entry) -> str:
    return _("%(actor)s carried out “%(operation)s” for %(object)s at the vendor.") % {
        "actor": entry.actor,
        "operation": _kind_label(entry.get("operation")),
        "object": entry.object,
    }


def _rejected(entry: Entry) -> str:
    values = {
        "actor": entry.actor,
        "operation": _kind_label(entry.get("operation")),
        "object": entry.object,
    }
    if entry.get("rolled_back"):
        return (
            _(
                "%(actor)s rejected “%(operation)s” for %(object)s; the subscription is back "
                "to what the vendor has."
            )
            % values
        )
    return _("%(actor)s rejected “%(operation)s” for %(object)s.") % values


def _withdrawn(entry: Entry) -> str:
    return _(
        "%(actor)s withdrew “%(operation)s” for %(object)s, which the vendor refused; the "
        "subscription is back to what the vendor has."
    ) % {
        "actor": entry.actor,
        "operation": _kind_label(entry.get("operation")),
        "object": entry.object,
    }


def _status(entry: Entry) -> str:
    if entry.get("cause") == "provisioned":
        return _("The vendor set up %(object)s: it is now active.") % {"object": entry.object}
    return _("%(object)s is now %(status)s.") % {
        "object": entry.object,
        "status": choice_value(Status)(entry.get("status"), entry).lower(),
    }


def _vendor_failed(entry: Entry) -> str:
    return _("The vendor refused “%(operation)s” for %(object)s: %(error)s") % {
        "operation": _kind_label(entry.get("operation")),
        "object": entry.object,
        "error": " ".join(
            str(part) for part in (entry.get("error_code"), entry.get("error_message")) if part
        ),
    }


def _vendor_done(entry: Entry) -> str:
    try:
        count = int(entry.get("attempts"))
    except (TypeError, ValueError):
        count = 0
    return ngettext(
        "The vendor carried out “%(operation)s” for %(object)s after %(n)s attempt.",
        "The vendor carried out “%(operation)s” for %(object)s after %(n)s attempts.",
        count,
    ) % {
        "operation": _kind_label(entry.get("operation")),
        "object": entry.object,
        "n": format_quantity(count),
    }


def _rights(entry: Entry) -> str:
    return _("%(actor)s changed what %(customer)s may do with its subscriptions.") % {
        "actor": entry.actor,
        "customer": entry.organisation,
    }


def _tenant_linked(entry: Entry) -> str:
    return _("%(actor)s linked %(customer)s to its tenant %(domain)s.") % {
        "actor": entry.actor,
        "customer": entry.organisation,
        "domain": entry.get("domain") or entry.object,
    }


ACTIONS = {
    "subscription.create": ActionWording(
        gettext_lazy("Subscription ordered"), _created, uses=frozenset({"offer", "quantity"})
    ),
    "subscription.quantity": ActionWording(
        gettext_lazy("Quantity changed"), _quantity, uses=frozenset({"quantity", "previous"})
    ),
    "subscription.suspend": ActionWording(
        gettext_lazy("Subscription suspended"),
        _simple(gettext_noop("%(actor)s suspended %(object)s.")),
        uses=frozenset({"status"}),
    ),
    "subscription.reactivate": ActionWording(
        gettext_lazy("Subscription reactivated"),
        _simple(gettext_noop("%(actor)s reactivated %(object)s.")),
        uses=frozenset({"status"}),
    ),
    "subscription.cancel": ActionWording(
        gettext_lazy("Subscription ended"), _cancelled, uses=frozenset({"status", "reason"})
    ),
    "subscription.auto_renew": ActionWording(
        gettext_lazy("Renewal settings changed"),
        _renewal_setting,
        uses=frozenset({"auto_renew", "renewal_option"}),
    ),
    "subscription.rename": ActionWording(
        gettext_lazy("Details edited"),
        _simple(gettext_noop("%(actor)s edited the details of %(object)s.")),
        uses=frozenset({"friendly_name", "po_number", "external_identifier"}),
    ),
    "subscription.schedule_renewal": ActionWording(
        gettext_lazy("Changes at renewal scheduled"),
        _simple(gettext_noop("%(actor)s scheduled changes at renewal for %(object)s.")),
        uses=frozenset({"renewal_quantity", "renewal_term", "renewal_billing_cycle"}),
    ),
    "subscription.renew": ActionWording(
        gettext_lazy("Subscription renewed"), _renewed, uses=frozenset({"from", "quantity"})
    ),
    "subscription.expire": ActionWording(
        gettext_lazy("Subscription expired"), _expired, uses=frozenset({"ended"})
    ),
    "subscription.status": ActionWording(
        gettext_lazy("Status changed"), _status, uses=frozenset({"status", "cause"})
    ),
    "subscription.vendor_failed": ActionWording(
        gettext_lazy("Refused by the vendor"),
        _vendor_failed,
        uses=frozenset({"operation", "sequence", "error_code", "error_message"}),
    ),
    "subscription.vendor_done": ActionWording(
        gettext_lazy("Carried out by the vendor after failing"),
        _vendor_done,
        uses=frozenset({"operation", "sequence", "attempts"}),
    ),
    "subscription.refresh": ActionWording(
        gettext_lazy("Vendor facts refreshed"),
        _simple(gettext_noop("%(actor)s updated %(object)s with what the vendor knows.")),
    ),
    "subscription.retry": ActionWording(
        gettext_lazy("Sent to the vendor again"),
        _retried,
        uses=frozenset({"kind", "operation"}),
    ),
    "subscription.fulfilled": ActionWording(
        gettext_lazy("Fulfilled by hand"), _fulfilled, uses=frozenset({"operation"})
    ),
    "subscription.rejected": ActionWording(
        gettext_lazy("Fulfilment rejected"),
        _rejected,
        uses=frozenset({"operation", "rolled_back"}),
    ),
    "subscription.withdrawn": ActionWording(
        gettext_lazy("Refused change withdrawn"),
        _withdrawn,
        uses=frozenset({"operation", "sequence"}),
    ),
    "subscription.rights": ActionWording(gettext_lazy("Customer rights changed"), _rights),
    "tenant.link": ActionWording(
        gettext_lazy("Tenant linked"), _tenant_linked, uses=frozenset({"domain"})
    ),
}


# --- fields -------------------------------------------------------------------------------------


def _term(raw: Any, entry: Entry) -> str:
    return choice_value(Term)(raw, entry)


def _cycle(raw: Any, entry: Entry) -> str:
    return choice_value(BillingCycle)(raw, entry)


def _seats(raw: Any, entry: Entry) -> str:
    return seats(raw)


def _next_term(raw: Any, entry: Entry) -> str:
    if not isinstance(raw, dict):
        return _("renews as it is")
    return _("%(seats)s, %(term)s") % {
        "seats": seats(raw.get("quantity")),
        "term": term_cycle_label(raw.get("term", ""), raw.get("billing_cycle", "")),
    }


def _unit_price(raw: Any, entry: Entry) -> str:
    money = stored_money(raw, entry.get("currency"))
    return format_unit_price(money) if money is not None else str(raw)


def _adjustment(raw: Any, entry: Entry) -> str:
    money = stored_money(raw, entry.get("currency"))
    if money is None:
        # "0" with no currency: nothing is due and nothing given back.
        return _("No charge") if str(raw).strip() in ("0", "0.00") else str(raw)
    return format_adjustment(money)


def _new_total(raw: Any, entry: Entry) -> str:
    money = stored_money(raw, entry.get("currency"))
    return format_money(money) if money is not None else str(raw)


def _reference(raw: Any, entry: Entry) -> str:
    return str(raw)


def _reason(raw: Any, entry: Entry) -> str:
    if raw == "never_provisioned":
        return _("the vendor never set up the order")
    return str(raw)


FIELDS = {
    "offer": FieldWording(gettext_lazy("offer")),
    "quantity": FieldWording(gettext_lazy("quantity"), _seats),
    "previous": FieldWording(gettext_lazy("previous quantity"), _seats),
    "subscription.quantity": FieldWording(gettext_lazy("quantity"), _seats),
    "term": FieldWording(gettext_lazy("term"), _term),
    "billing_cycle": FieldWording(gettext_lazy("billing cycle"), _cycle),
    "unit_price": FieldWording(gettext_lazy("unit price"), _unit_price),
    "adjustment": FieldWording(gettext_lazy("adjustment now"), _adjustment, bare=True),
    # Records written before amounts were stored as numbers call the cancellation's "refund".
    "refund": FieldWording(gettext_lazy("adjustment now"), _adjustment, bare=True),
    "new_total": FieldWording(gettext_lazy("new total per billing period"), _new_total),
    "start_date": FieldWording(gettext_lazy("start date"), lambda raw, entry: format_date(raw)),
    "order": FieldWording(gettext_lazy("order"), _reference),
    "subscription.parent": FieldWording(gettext_lazy("base subscription"), _reference),
    "subscription.status": FieldWording(gettext_lazy("status"), choice_value(Status)),
    "reason": FieldWording(gettext_lazy("reason"), _reason),
    "auto_renew": FieldWording(gettext_lazy("auto-renew")),
    "renewal_option": FieldWording(gettext_lazy("renewal"), choice_value(RenewalOption)),
    "renewal_quantity": FieldWording(gettext_lazy("quantity at renewal"), _seats),
    "renewal_term": FieldWording(gettext_lazy("term at renewal"), _term),
    "renewal_billing_cycle": FieldWording(gettext_lazy("billing cycle at renewal"), _cycle),
    "next_term": FieldWording(gettext_lazy("next term"), _next_term),
    "after_term_ends": FieldWording(
        gettext_lazy("once the vendor renewed the term ending"),
        lambda raw, entry: format_date(raw),
    ),
    "friendly_name": FieldWording(gettext_lazy("friendly name")),
    "po_number": FieldWording(gettext_lazy("PO number")),
    "external_identifier": FieldWording(gettext_lazy("external identifier")),
    "commitment_end_date": FieldWording(
        gettext_lazy("commitment end date"), lambda raw, entry: format_date(raw)
    ),
    "cancellation_allowed_until": FieldWording(
        gettext_lazy("cancellable until"), lambda raw, entry: format_datetime(raw)
    ),
    "from": FieldWording(gettext_lazy("from"), lambda raw, entry: format_date(raw)),
    "ended": FieldWording(gettext_lazy("ended"), lambda raw, entry: format_date(raw)),
    "vendor_reference": FieldWording(gettext_lazy("vendor reference")),
    "renewal_changes_cleared": FieldWording(
        gettext_lazy("changes at renewal dropped, as the vendor does")
    ),
    "trial_converted": FieldWording(gettext_lazy("trial converted to paid")),
    "tenant_id": FieldWording(gettext_lazy("tenant id")),
    "domain": FieldWording(gettext_lazy("primary domain")),
    # Customer rights: what each switch lets the customer's admins do.
    "can_order": FieldWording(gettext_lazy("order new subscriptions")),
    "can_increase": FieldWording(gettext_lazy("increase quantities")),
    "can_decrease": FieldWording(gettext_lazy("decrease quantities and cancel")),
    "monthly_only": FieldWording(gettext_lazy("monthly licences only")),
    "can_change_renewal": FieldWording(gettext_lazy("change renewal settings")),
}
