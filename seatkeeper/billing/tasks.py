"""Background work of billing: the vendor's invoices, imported daily, and their line imports.

Tasks take ids and call the services. A line import that waits for the vendor's export never
sleeps here: the invoice records when to look again and the one-minute sweep comes back then.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.tasks import task

from seatkeeper.providers.errors import ProviderError

logger = logging.getLogger(__name__)

SWEEP_BATCH = 50
# Currencies of the open period asked for: those of the account's recent invoices.
RECENT_INVOICES = 12


@task()
def invoices_daily() -> int:
    """One import per active Microsoft provider account, so one failure stops no other."""
    from seatkeeper.providers.models import ProviderAccount, ProviderKind

    ids = list(
        ProviderAccount.objects.filter(is_active=True, kind=ProviderKind.MICROSOFT).values_list(
            "pk", flat=True
        )
    )
    for account_id in ids:
        transaction.on_commit(partial(invoices_import_account.enqueue, account_id=account_id))
    return len(ids)


@task()
def invoices_import_account(account_id: int, actor_id: int | None = None) -> dict[str, int]:
    """Import one account's invoices, then ask for its open period in each of its currencies.
    `actor_id`: who pressed the button (their rights are checked again by the service)."""
    from seatkeeper.accounts.models import User
    from seatkeeper.billing import invoices
    from seatkeeper.billing.models import DocumentType, ProviderInvoice
    from seatkeeper.providers.models import ProviderAccount

    account = ProviderAccount.objects.select_related("organisation").get(pk=account_id)
    if not account.is_active:
        return {}
    actor = User.objects.get(pk=actor_id) if actor_id else None
    try:
        counts = invoices.invoices_import(account=account, actor=actor)
    except ProviderError as error:
        logger.warning("invoice import of account %s failed: %s", account_id, error)
        return {"failed": 1}
    recent = (
        ProviderInvoice.objects.filter(account=account)
        .exclude(document_type=DocumentType.UNBILLED)
        .order_by("-period_start")
        .values_list("currency", flat=True)[:RECENT_INVOICES]
    )
    currencies = sorted(set(recent)) or [account.organisation.default_currency]
    for currency in currencies:
        invoices.invoice_unbilled_import(account=account, currency=currency, actor=actor)
    return {"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged}


@task()
def invoice_lines_sweep() -> int:
    """Line imports that are due: new invoices, and exports the vendor said to look at now."""
    from seatkeeper.billing.invoices import due_line_imports

    ids = due_line_imports(limit=SWEEP_BATCH)
    for invoice_id in ids:
        invoice_lines_import_task.enqueue(invoice_id=invoice_id)
    return len(ids)


@task()
def invoice_lines_import_task(invoice_id: int) -> str:
    """One step of one invoice's line import (start the export, look at it, or read it)."""
    from seatkeeper.billing.invoices import invoice_lines_step
    from seatkeeper.billing.models import ProviderInvoice
    from seatkeeper.providers.registry import get_provider

    invoice = ProviderInvoice.objects.select_related("account", "partner").get(pk=invoice_id)
    if not invoice.account.is_active:
        return "account deactivated"
    with get_provider(invoice.account) as provider:
        progress = invoice_lines_step(invoice=invoice, provider=provider)
    return progress.state


@task()
def reconcile_daily() -> int:
    """Compare every recent period not marked reconciled with our charges again."""
    from seatkeeper.billing import reconciliation
    from seatkeeper.core import clock

    return reconciliation.reconcile_recent(clock.today())
