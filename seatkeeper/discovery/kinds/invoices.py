"""The vendor's invoices, with their credit and adjustment notes, imported through billing's
service (`billing.invoices.invoices_import`), which matches them by the vendor's number, so a
second run finds them unchanged. Partner Center keeps invoices per partner, not per customer:
this kind runs once per run (`SCOPE = "partner"`). A full run reads every invoice; an
incremental one those dated since the day the run's changes are read from. Billing's daily job
(`billing.invoices_daily`) picks up new invoices between runs.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from seatkeeper.billing import invoices
from seatkeeper.discovery.kinds import PARTNER, PartnerContext

NAME = "invoices"
LABEL = _("Invoices")
SCOPE = PARTNER


def import_partner(context: PartnerContext) -> None:
    since = context.run.since.date() if context.run.since else None
    counts = invoices.invoices_import(
        account=context.account, provider=context.provider, since=since
    )
    context.count(NAME, "created", counts.created)
    context.count(NAME, "updated", counts.updated)
    context.count(NAME, "unchanged", counts.unchanged)
    if counts.skipped:
        context.skip(NAME, "", f"{counts.skipped} invoice records could not be read")
