"""How imports of the vendor's invoices read in the activity log. They are the partner's cost:
internal, never shown to customers."""

from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext

from seatkeeper.activity.wording import ActionWording, FieldWording, choice_value, said
from seatkeeper.billing.models import LinesState
from seatkeeper.core.formatting import format_date, format_quantity


def _date(value, entry) -> str:
    return format_date(value)


# The reasons billing/invoices.py gives when an invoice's lines move, stored as these English
# codes and translated when shown; any other reason is the vendor's own message, shown as is.
LINES_REASONS = {
    "the vendor changed the invoice": gettext_noop("the vendor changed the invoice"),
    "refresh": gettext_noop("refresh"),
    "asked again": gettext_noop("asked again"),
    "export started": gettext_noop("export started"),
    "file link expired": gettext_noop("file link expired"),
    "no data available at the vendor": gettext_noop("no data available at the vendor"),
}
_LINES_COUNT = re.compile(r"^(\d+) lines$")


def _reason(value, entry) -> str:
    text = str(value)
    if text in LINES_REASONS:
        return gettext(LINES_REASONS[text])
    if counted := _LINES_COUNT.match(text):
        n = int(counted.group(1))
        return ngettext("%(n)s line", "%(n)s lines", n) % {"n": format_quantity(n)}
    return text


ACTIONS = {
    "vendor_invoice.imported": ActionWording(
        gettext_lazy("Vendor invoice imported"),
        said(gettext_noop("%(actor)s imported the vendor's invoice %(object)s.")),
        internal=True,
    ),
    "vendor_invoice.changed": ActionWording(
        gettext_lazy("Vendor invoice changed"),
        said(gettext_noop("The vendor changed its invoice %(object)s.")),
        internal=True,
    ),
    "vendor_invoice.statement_stored": ActionWording(
        gettext_lazy("Invoice statement stored"),
        said(gettext_noop("%(actor)s stored the statement of the vendor's invoice %(object)s.")),
        internal=True,
    ),
    "vendor_invoice.lines": ActionWording(
        gettext_lazy("Vendor invoice line items"),
        said(gettext_noop("%(actor)s moved the line items of the vendor's invoice %(object)s.")),
        internal=True,
    ),
    "vendor_invoices.import": ActionWording(
        gettext_lazy("Vendor invoices imported"),
        said(gettext_noop("%(actor)s imported the vendor's invoices of %(object)s.")),
        internal=True,
    ),
    "vendor_invoices.import_requested": ActionWording(
        gettext_lazy("Import of vendor invoices asked for"),
        said(gettext_noop("%(actor)s asked for the vendor's invoices to be imported.")),
        internal=True,
    ),
    "vendor_unbilled.imported": ActionWording(
        gettext_lazy("Open period imported"),
        said(gettext_noop("%(actor)s asked for the vendor's open period %(object)s.")),
        internal=True,
    ),
    "vendor_unbilled.dropped": ActionWording(
        gettext_lazy("Open period dropped"),
        said(gettext_noop("%(actor)s dropped the vendor's closed open period %(object)s.")),
        internal=True,
    ),
    "reconciliation.computed": ActionWording(
        gettext_lazy("Period compared with the vendor"),
        said(gettext_noop("%(actor)s compared %(object)s with the vendor's invoice.")),
        internal=True,
    ),
    "reconciliation.row_accepted": ActionWording(
        gettext_lazy("Difference accepted"),
        said(gettext_noop("%(actor)s accepted a difference of %(object)s.")),
        internal=True,
    ),
    "reconciliation.row_explained": ActionWording(
        gettext_lazy("Difference explained"),
        said(gettext_noop("%(actor)s explained a difference of %(object)s.")),
        internal=True,
    ),
    "billing.run": ActionWording(
        gettext_lazy("Billing run"),
        said(
            gettext_noop("%(actor)s billed the cycle from %(start)s to %(end)s."),
            start="cycle_start",
            end="cycle_end",
        ),
        uses=frozenset({"cycle_start", "cycle_end"}),
        internal=True,
    ),
    "reconciliation.reconciled": ActionWording(
        gettext_lazy("Period reconciled"),
        said(gettext_noop("%(actor)s marked %(object)s reconciled.")),
        internal=True,
    ),
}

FIELDS = {
    "lines_state": FieldWording(gettext_lazy("line items"), internal=True),
    # An invoice's lines moving (invoices.lines_transition): states and reasons in words.
    "providerinvoice.lines_state": FieldWording(
        gettext_lazy("line items"), choice_value(LinesState), internal=True
    ),
    "providerinvoice.reason": FieldWording(gettext_lazy("reason"), _reason, internal=True),
    "document_type": FieldWording(gettext_lazy("document type"), internal=True),
    "amends": FieldWording(gettext_lazy("amends"), internal=True),
    "reason": FieldWording(gettext_lazy("reason"), internal=True),
    "created": FieldWording(gettext_lazy("new"), internal=True),
    "updated": FieldWording(gettext_lazy("changed"), internal=True),
    "unchanged": FieldWording(gettext_lazy("unchanged"), internal=True),
    "skipped": FieldWording(gettext_lazy("unreadable"), internal=True),
    "documents": FieldWording(gettext_lazy("statements fetched"), internal=True),
    "accounts": FieldWording(gettext_lazy("provider accounts"), internal=True),
    "size": FieldWording(gettext_lazy("size in bytes"), internal=True),
    "resolution": FieldWording(gettext_lazy("resolution"), internal=True),
    "note": FieldWording(gettext_lazy("note"), internal=True),
    "state": FieldWording(gettext_lazy("state"), internal=True),
    # A billing run's figures
    "cycle_start": FieldWording(gettext_lazy("cycle start"), _date, internal=True),
    "cycle_end": FieldWording(gettext_lazy("cycle end"), _date, internal=True),
    "subscriptions": FieldWording(gettext_lazy("subscriptions"), internal=True),
    "lines_created": FieldWording(gettext_lazy("lines created"), internal=True),
    "corrections": FieldWording(gettext_lazy("corrections"), internal=True),
    "problems": FieldWording(gettext_lazy("problems"), internal=True),
}
