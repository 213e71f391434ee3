"""Importing the vendor's invoices: the list with its amendments, the PDF statements, and each
invoice's reconciliation lines.

Who may: the partner's cloud admins (and the system: the daily job, discovery). Everything else
only reads, through `invoice_selectors`.

Lines come two ways, chosen per invoice:
- Microsoft Graph's reconciliation export (API v2) for New Commerce invoices of billing periods
  from February 2024 (`settings.BILLING_RECON_V2_FROM`), and for the open period: an export is
  started, its operation polled when the vendor says (never by sleeping in a task: the invoice
  records when to look again and the one-minute sweep comes back), then its files are streamed
  into the database;
- Partner Center's line-item API (v1, 2,000 per page, seek paging) for older invoices.
Legacy licence-based invoices (Office/Azure detail only) have no New Commerce lines: they are
recorded as such. An export the vendor answers with "No data available" means the document has no
lines (a credit note, say), not a failure.

`invoices_import` is what discovery calls per provider account; `invoice_lines_step` advances one
invoice's line import by one step (start, poll, or read), `invoice_lines_import` runs the steps
until done for callers that may wait (the command line, the benchmark).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import User
from seatkeeper.activity.services import activity_record, diff
from seatkeeper.billing import permissions
from seatkeeper.billing.invoice_lines import LineWriter, WrittenLines
from seatkeeper.billing.models import (
    LINES_TRANSITIONS,
    DocumentType,
    ImportStatus,
    InvoiceCustomerTotal,
    InvoiceImportRun,
    InvoiceLineItem,
    LinesSource,
    LinesState,
    ProviderInvoice,
    ProviderInvoiceDocument,
)
from seatkeeper.catalog.models import add_months
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import AuthFailed, NotFound, ProviderError
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider

logger = logging.getLogger(__name__)

# Microsoft: billed reconciliation for billing periods from February 2024 comes from the v2
# export; the v1 line-item API is for the periods before.
V2_FROM = dt.date(2024, 2, 1)
# How long one worker may hold an invoice's line import before another may take it over.
LEASE = dt.timedelta(minutes=30)
# Transient failures (throttling, outages) of one invoice's import before it is marked failed.
MAX_ATTEMPTS = 8
RETRY_DELAYS = (60, 300, 900, 1800, 3600)
# The vendor's "No data available" for a document without lines.
NO_DATA_CODE = "5000"
KNOWN_DOCUMENT_TYPES = set(DocumentType.values) - {DocumentType.UNBILLED}


def v2_from() -> dt.date:
    return getattr(settings, "BILLING_RECON_V2_FROM", V2_FROM)


@dataclass
class InvoiceImportCounts:
    """What an import found: documents new, changed and unchanged (amendments included)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # records the connector could not read
    documents: int = 0  # PDF statements fetched
    run_id: int | None = None
    pending_line_imports: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LinesProgress:
    """Where an invoice's line import stands after a step; `wait` says when to step again."""

    state: str
    wait: float | None = None
    message: str = ""

    @property
    def done(self) -> bool:
        return self.state not in (LinesState.PENDING, LinesState.EXPORTING)


def _require_import_rights(actor: User | None, account: ProviderAccount) -> None:
    if actor is not None and not permissions.can_import_invoices(actor, account.organisation):
        raise PermissionRefused(_("Only the partner's cloud admins import the vendor's invoices."))


# --- the invoice list ---------------------------------------------------------------------------


def _document_type(data: i.Invoice) -> str:
    return data.document_type if data.document_type in KNOWN_DOCUMENT_TYPES else "other"


def _fingerprint(data: i.Invoice) -> str:
    facts = [
        data.id,
        data.invoice_date.isoformat() if data.invoice_date else "",
        str(data.period_start or ""),
        str(data.period_end or ""),
        str(data.total_charges.amount),
        data.total_charges.currency,
        str(data.paid_amount.amount),
        data.document_type,
        data.invoice_type,
        data.amends_id or "",
        ",".join(data.line_item_providers),
    ]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()


def _has_new_commerce_lines(data: i.Invoice) -> bool:
    # Documents that list only legacy providers (office, azure) have no New Commerce lines;
    # documents that list none are asked for anyway.
    providers = set(data.line_item_providers)
    return not providers or bool(providers & {"one_time", "onetime"})


def _values(data: i.Invoice, parent: ProviderInvoice | None) -> dict[str, Any]:
    return {
        "document_type": _document_type(data),
        "invoice_type": data.invoice_type[:32],
        "amends": parent,
        "invoice_date": data.invoice_date,
        "period_start": data.period_start or (parent.period_start if parent else None),
        "period_end": data.period_end or (parent.period_end if parent else None),
        "currency": data.total_charges.currency,
        "total": data.total_charges.amount,
        "paid": data.paid_amount.amount,
        "line_item_providers": ",".join(data.line_item_providers)[:100],
        "vendor_fingerprint": _fingerprint(data),
    }


@transaction.atomic
def _invoice_upsert(
    *, account: ProviderAccount, data: i.Invoice, parent: ProviderInvoice | None, actor: User | None
) -> tuple[ProviderInvoice, str]:
    """Create, change or leave one vendor document; returns it and "created", "updated" or
    "unchanged"."""
    now = clock.now()
    values = _values(data, parent)
    invoice = (
        ProviderInvoice.objects.select_for_update()
        .filter(account=account, vendor_invoice_id=data.id)
        .first()
    )
    if invoice is None:
        invoice = ProviderInvoice(
            account=account,
            partner=account.organisation,
            vendor_invoice_id=data.id,
            last_seen_at=now,
            lines_state=(
                LinesState.PENDING if _has_new_commerce_lines(data) else LinesState.NOT_AVAILABLE
            ),
            **values,
        )
        invoice.full_clean()
        invoice.save()
        activity_record(
            actor=actor,
            organisation=account.organisation,
            obj=invoice,
            operation="vendor_invoice.imported",
            details={
                "document_type": invoice.document_type,
                "total": str(invoice.total),
                "currency": invoice.currency,
                "amends": parent.vendor_invoice_id if parent else None,
            },
        )
        return invoice, "created"
    if invoice.vendor_fingerprint == values["vendor_fingerprint"]:
        ProviderInvoice.objects.filter(pk=invoice.pk).update(last_seen_at=now)
        return invoice, "unchanged"
    changes = diff(invoice, {k: v for k, v in values.items() if k != "vendor_fingerprint"})
    for name, value in values.items():
        setattr(invoice, name, value)
    invoice.last_seen_at = now
    invoice.updated_at = now
    invoice.full_clean()
    invoice.save(update_fields=[*values, "last_seen_at", "updated_at"])
    activity_record(
        actor=actor,
        organisation=account.organisation,
        obj=invoice,
        operation="vendor_invoice.changed",
        changes=changes,
    )
    if "total" in changes and invoice.lines_state in (LinesState.IMPORTED, LinesState.FAILED):
        # The vendor changed the invoice: its lines are read again.
        lines_transition(
            invoice, LinesState.PENDING, actor=actor, reason="the vendor changed the invoice"
        )
    return invoice, "updated"


def invoices_import(
    *,
    account: ProviderAccount,
    provider: i.Provider | None = None,
    since: dt.date | None = None,
    actor: User | None = None,
    documents: bool = True,
) -> InvoiceImportCounts:
    """Import `account`'s invoices and their credit and adjustment notes (those dated before
    `since` are left alone), fetch the PDF statements not stored yet, and queue the line imports.
    Safe to run again: documents are matched by the vendor's number. A vendor failure is recorded
    on the import run and raised."""
    _require_import_rights(actor, account)
    if not account.is_active:
        raise ServiceError(_("This provider account is deactivated."), field="account")
    run = InvoiceImportRun.objects.create(
        account=account,
        partner=account.organisation,
        started_by=actor if actor is not None else None,
        started_at=clock.now(),
    )
    counts = InvoiceImportCounts(run_id=run.pk)
    connector = provider or get_provider(account)
    try:
        listing = connector.list_invoices()
        for data in listing:
            moment = data.invoice_date.date() if data.invoice_date else data.period_end
            if since is not None and moment is not None and moment < since:
                continue
            invoice, outcome = _invoice_upsert(account=account, data=data, parent=None, actor=actor)
            _count(counts, outcome, invoice)
            for amendment in data.amendments:
                note, outcome = _invoice_upsert(
                    account=account, data=amendment, parent=invoice, actor=actor
                )
                _count(counts, outcome, note)
        counts.skipped = listing.skipped
        if documents:
            counts.documents = _fetch_documents(account=account, provider=connector, actor=actor)
    except ProviderError as error:
        _finish_run(run, counts, status=ImportStatus.FAILED, error=str(error), actor=actor)
        raise
    finally:
        if provider is None:
            connector.close()
    _finish_run(run, counts, status=ImportStatus.COMPLETED, error="", actor=actor)
    return counts


def _count(counts: InvoiceImportCounts, outcome: str, invoice: ProviderInvoice) -> None:
    setattr(counts, outcome, getattr(counts, outcome) + 1)
    if invoice.lines_state == LinesState.PENDING:
        counts.pending_line_imports.append(invoice.pk)


@transaction.atomic
def _finish_run(
    run: InvoiceImportRun,
    counts: InvoiceImportCounts,
    *,
    status: str,
    error: str,
    actor: User | None,
) -> None:
    run.status = status
    run.error = error
    run.finished_at = clock.now()
    run.created_count = counts.created
    run.updated_count = counts.updated
    run.unchanged_count = counts.unchanged
    run.skipped_count = counts.skipped
    run.documents_count = counts.documents
    run.save()
    activity_record(
        actor=actor,
        organisation=run.partner,
        obj=run.account,
        operation="vendor_invoices.import",
        details={
            "status": status,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "skipped": counts.skipped,
            "documents": counts.documents,
            "error": error,
        },
    )
    if counts.pending_line_imports:
        from seatkeeper.billing import tasks

        for invoice_id in counts.pending_line_imports:
            transaction.on_commit(
                partial(tasks.invoice_lines_import_task.enqueue, invoice_id=invoice_id)
            )


def _fetch_documents(*, account: ProviderAccount, provider: i.Provider, actor: User | None) -> int:
    """The PDF statements of the account's documents that have none yet. One that cannot be
    fetched is logged and tried again by the next import."""
    missing = ProviderInvoice.objects.filter(account=account, document__isnull=True).exclude(
        document_type=DocumentType.UNBILLED
    )
    fetched = 0
    for invoice in missing.iterator():
        try:
            content = provider.invoice_document(invoice_id=invoice.vendor_invoice_id)
        except ProviderError as error:
            if not error.retryable and not isinstance(error, NotFound):
                raise
            logger.warning("statement of invoice %s not fetched: %s", invoice, error)
            continue
        invoice_document_store(invoice=invoice, content=content, actor=actor)
        fetched += 1
    return fetched


@transaction.atomic
def invoice_document_store(
    *, invoice: ProviderInvoice, content: bytes, actor: User | None
) -> ProviderInvoiceDocument:
    """Keep the vendor's PDF statement of `invoice` (replacing an earlier copy)."""
    if not content.startswith(b"%PDF-"):
        raise ServiceError(_("The vendor's statement is not a PDF."))
    document, _created = ProviderInvoiceDocument.objects.update_or_create(
        invoice=invoice,
        defaults={
            "content": content,
            "content_type": "application/pdf",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "fetched_at": clock.now(),
        },
    )
    activity_record(
        actor=actor,
        organisation=invoice.partner,
        obj=invoice,
        operation="vendor_invoice.statement_stored",
        details={"size": len(content)},
    )
    return document


# --- the open period ----------------------------------------------------------------------------


def unbilled_id(month: dt.date, currency: str) -> str:
    return f"UNBILLED-{month:%Y-%m}-{currency.upper()}"


@transaction.atomic
def invoice_unbilled_import(
    *, account: ProviderAccount, currency: str, actor: User | None = None
) -> ProviderInvoice:
    """Ask for the open period's lines in `currency` (the vendor's unbilled reconciliation):
    the period appears as a document "not invoiced yet", read again each time this is called.
    Earlier open periods' documents are dropped: their month has an invoice now."""
    _require_import_rights(actor, account)
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ServiceError(_("Use the three-letter ISO currency code, e.g. EUR."), field="currency")
    month = clock.today().replace(day=1)
    vendor_id = unbilled_id(month, currency)
    stale = ProviderInvoice.objects.filter(
        account=account, document_type=DocumentType.UNBILLED, currency=currency
    ).exclude(vendor_invoice_id=vendor_id)
    for old in stale:
        activity_record(
            actor=actor,
            organisation=account.organisation,
            obj=old,
            operation="vendor_unbilled.dropped",
        )
        old.delete()
    invoice, created = ProviderInvoice.objects.select_for_update().get_or_create(
        account=account,
        vendor_invoice_id=vendor_id,
        defaults={
            "partner": account.organisation,
            "document_type": DocumentType.UNBILLED,
            "period_start": month,
            "period_end": add_months(month, 1) - dt.timedelta(days=1),
            "currency": currency,
            "total": Decimal(0),
            "vendor_fingerprint": vendor_id,
            "last_seen_at": clock.now(),
            "lines_state": LinesState.PENDING,
        },
    )
    if created:
        activity_record(
            actor=actor,
            organisation=account.organisation,
            obj=invoice,
            operation="vendor_unbilled.imported",
            details={"currency": currency},
        )
    elif invoice.lines_state in (LinesState.IMPORTED, LinesState.FAILED, LinesState.NOT_AVAILABLE):
        lines_transition(invoice, LinesState.PENDING, actor=actor, reason="refresh")
    return invoice


# --- the lines of one invoice ---------------------------------------------------------------------


def lines_transition(
    invoice: ProviderInvoice,
    to: str,
    *,
    actor: User | None,
    reason: str = "",
    **values: Any,
) -> ProviderInvoice:
    """The one way an invoice's line state changes: checked against LINES_TRANSITIONS, written
    with `UPDATE … WHERE lines_state = <what we read>` (so two workers never both move it), and
    recorded. Extra `values` are saved with it."""
    old = invoice.lines_state
    if to not in LINES_TRANSITIONS[old]:
        raise Conflict(
            _("The line items cannot go from %(old)s to %(new)s.")
            % {"old": LinesState(old).label, "new": LinesState(to).label}
        )
    with transaction.atomic():
        updated = ProviderInvoice.objects.filter(pk=invoice.pk, lines_state=old).update(
            lines_state=to, updated_at=clock.now(), **values
        )
        if updated != 1:
            raise Conflict(_("Another worker changed these line items; try again."))
        if to != old:
            activity_record(
                actor=actor,
                organisation=invoice.partner,
                obj=invoice,
                operation="vendor_invoice.lines",
                changes={"lines_state": [old, to]},
                details={"reason": reason} if reason else None,
            )
    invoice.lines_state = to
    for name, value in values.items():
        setattr(invoice, name, value)
    return invoice


def invoice_lines_reimport(*, invoice: ProviderInvoice, actor: User | None) -> ProviderInvoice:
    """Read an invoice's lines again (a person's button): they are replaced when the new ones
    are in, never left half-way."""
    _require_import_rights(actor, invoice.account)
    if invoice.lines_state in (LinesState.PENDING, LinesState.EXPORTING):
        raise Conflict(_("The line items are already being imported."))
    lines_transition(
        invoice,
        LinesState.PENDING,
        actor=actor,
        reason="asked again",
        export_location="",
        next_attempt_at=None,
        lines_attempts=0,
        lines_error="",
    )
    from seatkeeper.billing import tasks

    transaction.on_commit(partial(tasks.invoice_lines_import_task.enqueue, invoice_id=invoice.pk))
    return invoice


def uses_graph_export(invoice: ProviderInvoice) -> bool:
    if invoice.document_type == DocumentType.UNBILLED:
        return True
    return invoice.period_start is None or invoice.period_start >= v2_from()


def _claim(invoice: ProviderInvoice) -> bool:
    now = clock.now()
    claimed = (
        ProviderInvoice.objects.filter(
            pk=invoice.pk, lines_state__in=[LinesState.PENDING, LinesState.EXPORTING]
        )
        .filter(Q(lines_claimed_until__isnull=True) | Q(lines_claimed_until__lt=now))
        .update(lines_claimed_until=now + LEASE)
    )
    return claimed == 1


def _release(invoice: ProviderInvoice) -> None:
    ProviderInvoice.objects.filter(pk=invoice.pk).update(lines_claimed_until=None)


def invoice_lines_step(
    *, invoice: ProviderInvoice, provider: i.Provider, actor: User | None = None
) -> LinesProgress:
    """Move `invoice`'s line import one step: read the lines (v1), or start the vendor's export,
    look at it, or read its files (v2). Returns at once when another worker holds it."""
    invoice.refresh_from_db()
    if invoice.lines_state not in (LinesState.PENDING, LinesState.EXPORTING):
        return LinesProgress(invoice.lines_state)
    if not _claim(invoice):
        return LinesProgress(invoice.lines_state, wait=60, message="busy")
    try:
        if uses_graph_export(invoice):
            return _graph_step(invoice, provider, actor)
        return _v1_step(invoice, provider, actor)
    except ProviderError as error:
        return _failed_attempt(invoice, error, actor)
    except ServiceError as error:  # nothing the vendor can change: say so, stop asking
        lines_transition(
            invoice,
            LinesState.FAILED,
            actor=actor,
            reason=error.message,
            lines_error=error.message,
            export_location="",
            next_attempt_at=None,
        )
        return LinesProgress(LinesState.FAILED, message=error.message)
    finally:
        _release(invoice)


def _v1_step(invoice: ProviderInvoice, provider: i.Provider, actor: User | None) -> LinesProgress:
    lines = provider.list_invoice_line_items(invoice_id=invoice.vendor_invoice_id)
    try:
        return _store_lines(invoice, lines, source=LinesSource.V1_API, actor=actor)
    except NotFound:
        return _no_lines(invoice, actor, LinesSource.V1_API)


def _graph_step(
    invoice: ProviderInvoice, provider: i.Provider, actor: User | None
) -> LinesProgress:
    now = clock.now()
    if not invoice.export_location:
        operation = _start_export(invoice, provider)
        wait = operation.retry_after or 5.0
        lines_transition(
            invoice,
            LinesState.EXPORTING,
            actor=actor,
            reason="export started",
            export_location=operation.location,
            next_attempt_at=now + dt.timedelta(seconds=wait),
        )
        return LinesProgress(LinesState.EXPORTING, wait=wait)
    operation = provider.export_operation(location=invoice.export_location)
    if not operation.is_done:
        wait = operation.retry_after or 10.0
        ProviderInvoice.objects.filter(pk=invoice.pk).update(
            next_attempt_at=now + dt.timedelta(seconds=wait)
        )
        return LinesProgress(LinesState.EXPORTING, wait=wait)
    if operation.status is i.ExportStatus.FAILED:
        if operation.error_code == NO_DATA_CODE:
            return _no_lines(invoice, actor, LinesSource.GRAPH_EXPORT)
        message = f"{operation.error_code} {operation.error_message}".strip()
        lines_transition(
            invoice,
            LinesState.FAILED,
            actor=actor,
            reason=message,
            lines_error=message,
            export_location="",
            next_attempt_at=None,
        )
        return LinesProgress(LinesState.FAILED, message=message)
    manifest = provider.export_manifest(location=operation.manifest_location or "")
    try:
        return _store_lines(
            invoice,
            _manifest_lines(provider, manifest, invoice),
            source=LinesSource.GRAPH_EXPORT,
            actor=actor,
            etag=manifest.etag,
        )
    except AuthFailed as error:
        # The files' signed link expired while we read: ask for a fresh export.
        logger.warning("export of %s: %s; starting it again", invoice, error)
        lines_transition(
            invoice,
            LinesState.PENDING,
            actor=actor,
            reason="file link expired",
            export_location="",
            next_attempt_at=now,
        )
        return LinesProgress(LinesState.PENDING, wait=0)


def _start_export(invoice: ProviderInvoice, provider: i.Provider) -> i.ExportOperation:
    if invoice.document_type != DocumentType.UNBILLED:
        return provider.start_billed_export(invoice_id=invoice.vendor_invoice_id)
    this_month = clock.today().replace(day=1)
    if invoice.period_start == this_month:
        period = i.BillingPeriod.CURRENT
    elif invoice.period_start == add_months(this_month, -1):
        period = i.BillingPeriod.LAST
    else:
        raise ServiceError(_("This period is closed: its lines are on its invoice."))
    return provider.start_unbilled_export(billing_period=period, currency=invoice.currency)


def _manifest_lines(
    provider: i.Provider, manifest: i.ExportManifest, invoice: ProviderInvoice
) -> Iterator[i.InvoiceLineItem]:
    invoice_id = "" if invoice.document_type == DocumentType.UNBILLED else invoice.vendor_invoice_id
    for blob in manifest.blobs:
        yield from provider.export_blob_lines(manifest=manifest, blob=blob, invoice_id=invoice_id)


def _store_lines(
    invoice: ProviderInvoice,
    lines: Any,
    *,
    source: str,
    actor: User | None,
    etag: str = "",
) -> LinesProgress:
    """Write the lines as a new generation, then switch the invoice to it in one transaction."""
    generation = invoice.lines_generation + 1
    # Rows of an earlier attempt that died before switching: never visible, now dropped.
    InvoiceLineItem.objects.filter(invoice=invoice, generation__gte=generation).delete()
    writer = LineWriter(invoice_pk=invoice.pk, generation=generation, period=invoice.period_start)
    with writer:
        written = writer.write(lines)
    skipped = getattr(lines, "skipped", 0)
    _switch(invoice, written, generation=generation, source=source, etag=etag, actor=actor)
    # The previous generation is no longer visible: drop it, outside the switch's transaction.
    InvoiceLineItem.objects.filter(invoice=invoice, generation__lt=generation).delete()
    message = _("%(count)s line items") % {"count": written.count}
    if skipped:
        message += " · " + _("%(count)s unreadable, left out") % {"count": skipped}
    return LinesProgress(LinesState.IMPORTED, message=message)


def _switch(
    invoice: ProviderInvoice,
    written: WrittenLines,
    *,
    generation: int,
    source: str,
    etag: str,
    actor: User | None,
) -> None:
    tenants = _tenant_customers(invoice.account)
    lines_total = written.total_in(invoice.currency)
    with transaction.atomic():
        InvoiceCustomerTotal.objects.filter(invoice=invoice).delete()
        InvoiceCustomerTotal.objects.bulk_create(
            [
                InvoiceCustomerTotal(
                    invoice=invoice,
                    customer_tenant_id=tenant[:64],
                    customer_name=sums.name[:255],
                    customer_domain=sums.domain[:255],
                    customer_id=tenants.get(tenant.lower()),
                    currency=currency,
                    line_count=sums.count,
                    subtotal=sums.subtotal,
                    tax_total=sums.tax_total,
                    total=sums.total,
                )
                for (tenant, currency), sums in written.customers.items()
            ],
            batch_size=1000,
        )
        values: dict[str, Any] = {
            "lines_generation": generation,
            "lines_source": source,
            "lines_count": written.count,
            "lines_total": lines_total,
            "lines_imported_at": clock.now(),
            "lines_error": "",
            "lines_attempts": 0,
            "export_location": "",
            "next_attempt_at": None,
            "manifest_etag": etag,
        }
        if invoice.document_type == DocumentType.UNBILLED:
            values["total"] = lines_total  # the open period's total is what has been charged
        lines_transition(
            invoice,
            LinesState.IMPORTED,
            actor=actor,
            reason=f"{written.count} lines",
            **values,
        )


def _tenant_customers(account: ProviderAccount) -> dict[str, int]:
    from seatkeeper.subscriptions.models import Tenant

    return {
        vendor_id.lower(): customer_id
        for vendor_id, customer_id in Tenant.objects.filter(account=account).values_list(
            "vendor_customer_id", "customer_id"
        )
    }


def _no_lines(invoice: ProviderInvoice, actor: User | None, source: str) -> LinesProgress:
    """The vendor has no lines for this document: recorded as such, not as a failure."""
    with transaction.atomic():
        InvoiceCustomerTotal.objects.filter(invoice=invoice).delete()
        values: dict[str, Any] = {
            "lines_source": source,
            "lines_count": 0,
            "lines_total": Decimal(0),
            "export_location": "",
            "next_attempt_at": None,
            "lines_error": "",
            "lines_generation": invoice.lines_generation + 1,
        }
        lines_transition(
            invoice,
            LinesState.IMPORTED,
            actor=actor,
            reason="no data available at the vendor",
            **values,
        )
    InvoiceLineItem.objects.filter(invoice=invoice).delete()
    return LinesProgress(LinesState.IMPORTED, message=_("No line items at the vendor."))


def _failed_attempt(
    invoice: ProviderInvoice, error: ProviderError, actor: User | None
) -> LinesProgress:
    """A transient failure is retried later (bounded); a final one marks the import failed."""
    attempts = invoice.lines_attempts + 1
    message = str(error)[:2000]
    if error.retryable and attempts < MAX_ATTEMPTS:
        wait = max(
            float(getattr(error, "retry_after", None) or 0),
            RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1],
        )
        ProviderInvoice.objects.filter(pk=invoice.pk).update(
            lines_attempts=attempts,
            lines_error=message,
            next_attempt_at=clock.now() + dt.timedelta(seconds=wait),
        )
        return LinesProgress(invoice.lines_state, wait=wait, message=message)
    lines_transition(
        invoice,
        LinesState.FAILED,
        actor=actor,
        reason=message,
        lines_error=message,
        lines_attempts=attempts,
        export_location="",
        next_attempt_at=None,
    )
    return LinesProgress(LinesState.FAILED, message=message)


def invoice_lines_import(
    *,
    invoice: ProviderInvoice,
    provider: i.Provider,
    actor: User | None = None,
    max_wait: float = 3600.0,
) -> LinesProgress:
    """Run the steps until the lines are in (or failed), waiting between polls as the vendor
    asks. For callers that may wait (the command line, the benchmark), never for a task."""
    waited = 0.0
    while True:
        progress = invoice_lines_step(invoice=invoice, provider=provider, actor=actor)
        if progress.done:
            return progress
        wait = progress.wait or 1.0
        if waited + wait > max_wait:
            return progress
        clock.sleep(wait)
        waited += wait


def due_line_imports(*, limit: int = 50) -> list[int]:
    """Invoices whose line import should take a step now."""
    now = clock.now()
    return list(
        ProviderInvoice.objects.filter(
            lines_state__in=[LinesState.PENDING, LinesState.EXPORTING],
            account__is_active=True,
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(lines_claimed_until__isnull=True) | Q(lines_claimed_until__lt=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def invoices_import_request(*, actor: User, partner: Any) -> int:
    """A person asks for an import now: one background import per active account of the
    partner (the page does not wait for the vendor). Returns how many were asked for."""
    from seatkeeper.billing import tasks
    from seatkeeper.providers.models import ProviderKind

    if not permissions.can_import_invoices(actor, partner):
        raise PermissionRefused(_("Only the partner's cloud admins import the vendor's invoices."))
    account_ids = list(
        ProviderAccount.objects.filter(
            organisation=partner, is_active=True, kind=ProviderKind.MICROSOFT
        ).values_list("pk", flat=True)
    )
    if not account_ids:
        raise ServiceError(_("This partner has no active provider account to import from."))
    activity_record(
        actor=actor,
        organisation=partner,
        obj=partner,
        operation="vendor_invoices.import_requested",
        details={"accounts": account_ids},
    )
    for account_id in account_ids:
        transaction.on_commit(
            partial(tasks.invoices_import_account.enqueue, account_id=account_id, actor_id=actor.pk)
        )
    return len(account_ids)
