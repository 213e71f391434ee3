"""Discovery runs: start, stop, resume, and the work itself (every write audited).

A run first reads the vendor's customer list page by page, writing one `RunCustomer` per
customer (the checkpoint), then imports each customer on its own: the kinds of `kinds.KINDS` in
one transaction, so a stopped or crashed run never leaves a customer half imported. The work is
fanned out a few customers a task over the task queue (tasks.py), every worker going through the
connector and its per-partner rate limiter; `run_inline` does the same work in the calling
process (the `discover` command, `./dev run`).

An error for one customer (the vendor refused one read) is recorded with the vendor's answer and
the run goes on. An error that makes going on pointless, the partner's credentials or consent
refused (consent revoked, partner tenant unknown), ends the run in Error with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import User
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.discovery import kinds, permissions
from seatkeeper.discovery.models import (
    CustomerState,
    DiscoveryRun,
    RunCustomer,
    RunMode,
    RunState,
    Schedule,
    Trigger,
)
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import AuthFailed, NotFound, ProviderError
from seatkeeper.providers.models import ConsentStatus, ProviderAccount
from seatkeeper.providers.registry import get_provider

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
# Audit records and our clock may disagree by a little: read a few minutes before `since`.
# Partner Center's `GET /v1/auditrecords` takes a startDate and an optional endDate (without
# them: the last 30 days; a startDate more than 90 days back is refused with a 400), so records
# are asked for by day and the margin applies to each record's `operationDate`. No endDate: a
# change made while the run reads is in the window of this run and of the next one (read
# twice rather than missed). Relied on: learn.microsoft.com/partner-center/developer/audit and
# get-a-record-of-partner-center-activity-by-user.
AUDIT_MARGIN = dt.timedelta(minutes=10)


# --- starting, stopping, resuming -----------------------------------------------------------


def _require(actor: User | None, account: ProviderAccount) -> None:
    if actor is not None and not permissions.can_run_discovery(actor, account.organisation):
        raise PermissionRefused(_("Only the partner's staff run discovery."))


def _enqueue_listing(run: DiscoveryRun) -> None:
    from seatkeeper.discovery import tasks

    transaction.on_commit(partial(tasks.discovery_list.enqueue, run_id=run.pk))


def _enqueue_customers(run: DiscoveryRun, vendor_ids: list[str]) -> None:
    from seatkeeper.discovery import tasks

    transaction.on_commit(partial(tasks.enqueue_customers, run.pk, vendor_ids))


@transaction.atomic
def run_start(
    *,
    actor: User | None,
    account: ProviderAccount,
    trigger: str = Trigger.PERSON,
    enqueue: bool = True,
    incremental: bool = False,
    preview: bool = False,
) -> DiscoveryRun:
    """Start a run of `account` (one at a time per account). `enqueue=False` leaves the work to
    the caller (`run_inline`). An incremental run reads only the customers that Partner
    Center's audit records show changed since the last run began; with no run before it, the
    run is a full one. A preview is a full run that writes nothing but its report of what
    applying it would create, update and assign (`run_confirm` applies it)."""
    _require(actor, account)
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    if not account.is_active:
        raise ServiceError(_("This provider account is switched off."))
    if account.consent_status != ConsentStatus.GRANTED:
        raise ServiceError(_("The partner's consent is needed first: sign in with Microsoft."))
    if account.discovery_runs.filter(state=RunState.IN_PROGRESS).exists():
        raise Conflict(_("A discovery of this account is already in progress."))
    since = None
    if incremental and not preview:
        last = (
            account.discovery_runs.filter(state=RunState.COMPLETED, preview=False)
            .order_by("-started_at")
            .first()
        )
        since = last.started_at if last else None
    run = DiscoveryRun.objects.create(
        account=account,
        trigger=trigger,
        started_by=actor,
        state=RunState.IN_PROGRESS,
        started_at=clock.now(),
        mode=RunMode.INCREMENTAL if since else RunMode.FULL,
        since=since,
        preview=preview,
    )
    details = {"account": account.name, "trigger": trigger, "mode": run.mode}
    if preview:
        details["preview"] = True
    activity_record(
        actor=actor,
        organisation=account.organisation,
        obj=run,
        operation="discovery.start",
        details=details,
    )
    if enqueue:
        _enqueue_listing(run)
    return run


@transaction.atomic
def run_stop(*, actor: User | None, run: DiscoveryRun) -> DiscoveryRun:
    """Stop a run: the customer being imported is finished (its own transaction), no other is
    taken. Resume continues with the customers not done."""
    _require(actor, run.account)
    run = DiscoveryRun.objects.select_for_update().get(pk=run.pk)
    if run.state != RunState.IN_PROGRESS:
        raise Conflict(_("Only a discovery in progress can be stopped."))
    run.state = RunState.STOPPED
    run.stop_requested = True
    run.finished_at = clock.now()
    run.save(update_fields=["state", "stop_requested", "finished_at", "updated_at"])
    activity_record(
        actor=actor,
        organisation=run.account.organisation,
        obj=run,
        operation="discovery.stop",
        details={"account": run.account.name},
    )
    return run


@transaction.atomic
def run_resume(*, actor: User | None, run: DiscoveryRun, enqueue: bool = True) -> DiscoveryRun:
    """Continue a stopped (or failed) run from its checkpoint: the customers not yet done."""
    _require(actor, run.account)
    run = DiscoveryRun.objects.select_for_update().get(pk=run.pk)
    if run.state not in (RunState.STOPPED, RunState.ERROR):
        raise Conflict(_("Only a stopped or failed discovery can be resumed."))
    if run.account.discovery_runs.filter(state=RunState.IN_PROGRESS).exists():
        raise Conflict(_("A discovery of this account is already in progress."))
    run.state = RunState.IN_PROGRESS
    run.stop_requested = False
    run.finished_at = None
    run.error_code = ""
    run.error_message = ""
    run.save(
        update_fields=[
            "state",
            "stop_requested",
            "finished_at",
            "error_code",
            "error_message",
            "updated_at",
        ]
    )
    activity_record(
        actor=actor,
        organisation=run.account.organisation,
        obj=run,
        operation="discovery.resume",
        details={"account": run.account.name},
    )
    if enqueue:
        if run.listed:
            _enqueue_customers(run, _open_customer_ids(run))
        if not run.listed or not run.partner_done:
            _enqueue_listing(run)  # listed already: only the partner-level kinds are left
        transaction.on_commit(partial(complete_if_done, run.pk))
    return run


@transaction.atomic
def run_confirm(*, actor: User, run: DiscoveryRun, enqueue: bool = True) -> DiscoveryRun:
    """A person confirms a completed preview: the run that applies it starts (it reads the
    vendor again, so what it writes is the vendor's state now, which the preview showed
    unless the vendor changed since). Returns that run."""
    _require(actor, run.account)
    run = DiscoveryRun.objects.select_for_update().get(pk=run.pk)
    if not run.preview:
        raise Conflict(_("Only a preview is confirmed; this discovery applied its changes."))
    if run.state != RunState.COMPLETED:
        raise Conflict(_("Only a completed preview can be confirmed."))
    if run.confirmed_run_id is not None:
        raise Conflict(_("This preview was confirmed already."))
    applied = run_start(actor=actor, account=run.account, trigger=Trigger.PERSON, enqueue=enqueue)
    run.confirmed_run = applied
    run.save(update_fields=["confirmed_run", "updated_at"])
    activity_record(
        actor=actor,
        organisation=run.account.organisation,
        obj=run,
        operation="discovery.confirm",
        details={"account": run.account.name, "applied_by": applied.pk},
    )
    return applied


def _open_customer_ids(run: DiscoveryRun) -> list[str]:
    return list(
        run.customers.exclude(state=CustomerState.DONE)
        .order_by("pk")
        .values_list("vendor_customer_id", flat=True)
    )


# --- the work ---------------------------------------------------------------------------------


@transaction.atomic
def _fail(run_id: int, error: ProviderError) -> None:
    """End the run in Error with the vendor's reason (only a run still in progress)."""
    moved = DiscoveryRun.objects.filter(pk=run_id, state=RunState.IN_PROGRESS).update(
        state=RunState.ERROR,
        finished_at=clock.now(),
        error_code=(error.code or (str(error.http_status) if error.http_status else "error"))[:40],
        error_message=error.message,
        updated_at=clock.now(),
    )
    if moved:
        run = DiscoveryRun.objects.select_related("account__organisation").get(pk=run_id)
        activity_record(
            actor=None,
            organisation=run.account.organisation,
            obj=run,
            operation="discovery.error",
            details={"account": run.account.name, "reason": error.message},
        )


def _in_progress(run_id: int) -> bool:
    return DiscoveryRun.objects.filter(pk=run_id, state=RunState.IN_PROGRESS).exists()


def list_customers(
    run_id: int, *, provider: vendor.Provider | None = None, partner: bool = True
) -> list[str]:
    """Read the vendor's customer list into the run's checkpoint, page by page; returns the ids
    of the customers to import (none when the list was read already). Stops between pages
    when the run is stopped. Then the partner-level kinds, unless `partner` is False: the task
    queue runs them on their own (`partner_step`) beside the customers, so that the customers
    are not held back by the partner's invoices."""
    run = DiscoveryRun.objects.select_related("account").get(pk=run_id)
    if run.listed and (run.partner_done or not partner):
        return []  # whoever listed it (or resumed it) handed its customers out already
    if run.listed:
        # Listed, but stopped before the partner-level kinds: only those are left here.
        partner_step(run_id, provider=provider)
        return []
    owned = provider is None
    provider = provider or get_provider(run.account)
    before = provider.calls_made
    cursor = run.listing_cursor or None
    try:
        if run.mode == RunMode.INCREMENTAL:
            _list_changed_customers(run, provider)
            DiscoveryRun.objects.filter(pk=run_id).update(
                listed=True, listing_calls=run.listing_calls + provider.calls_made - before
            )
        while run.mode == RunMode.FULL and _in_progress(run_id):
            try:
                page = provider.customers_page(cursor=cursor, page_size=PAGE_SIZE)
            except ProviderError as error:
                if cursor is not None and not isinstance(error, AuthFailed):
                    # A continuation kept across a stop may have expired: read from the start
                    # (customers already listed are not listed twice).
                    cursor = None
                    continue
                raise
            RunCustomer.objects.bulk_create(
                [
                    RunCustomer(
                        run=run,
                        vendor_customer_id=customer.id,
                        company_name=customer.company_name[:300],
                        domain=customer.domain[:255],
                        vendor_reseller_id=(customer.associated_partner_id or "")[:64],
                    )
                    for customer in page.items
                ],
                ignore_conflicts=True,
            )
            cursor = page.next_cursor
            DiscoveryRun.objects.filter(pk=run_id).update(
                listing_cursor=cursor or "",
                listed=cursor is None,
                listing_calls=run.listing_calls + provider.calls_made - before,
            )
            if cursor is None:
                break
        if partner:
            import_partner(run_id, provider=provider)
    except AuthFailed as error:
        _fail(run_id, error)
        return []
    except ProviderError as error:
        _fail(run_id, error)
        return []
    finally:
        if owned:
            provider.close()
    run.refresh_from_db()
    if not run.listed or run.state != RunState.IN_PROGRESS:
        return []
    return _open_customer_ids(run)


def partner_step(run_id: int, *, provider: vendor.Provider | None = None) -> None:
    """The partner-level kinds of a listed run (`import_partner`), with a connector of its own
    unless one is given; a refused sign-in ends the run in Error."""
    run = DiscoveryRun.objects.select_related("account").get(pk=run_id)
    if run.partner_done or not run.listed or run.state != RunState.IN_PROGRESS:
        return
    owned = provider is None
    provider = provider or get_provider(run.account)
    try:
        import_partner(run_id, provider=provider)
    except AuthFailed as error:
        _fail(run_id, error)
    finally:
        if owned:
            provider.close()


def import_partner(run_id: int, *, provider: vendor.Provider) -> None:
    """The partner-level kinds (`kinds.partner_kinds`), once the customer list is read: each on
    its own, a vendor's refusal of one recorded as the run's problem and the run going on.
    Marked done (with its counts) once, so a repeat after a crash adds no count twice."""
    run = DiscoveryRun.objects.select_related("account").get(pk=run_id)
    if run.partner_done or not run.listed or run.state != RunState.IN_PROGRESS:
        return
    before = provider.calls_made
    context = kinds.PartnerContext(run=run, account=run.account, provider=provider)

    def work() -> None:
        if run.mode == RunMode.FULL:
            from seatkeeper.discovery.kinds import customers

            # The whole list is read: customers it no longer holds are gone from the vendor.
            customers.mark_gone(context, run.customers.values("vendor_customer_id"))
        for module in kinds.partner_kinds():
            try:
                module.import_partner(context)
            except AuthFailed:
                raise
            except (ProviderError, ServiceError) as error:
                code, message = _error_text(error)
                context.skip(module.NAME, code, message)
                logger.warning("discovery %s: %s failed: %s", run_id, module.NAME, error)

    if run.preview:
        _rolled_back(work)
    else:
        work()
    DiscoveryRun.objects.filter(pk=run_id, partner_done=False).update(
        partner_done=True,
        partner_counts=context.plain_counts(),
        partner_problems=context.problems[:100],
        listing_calls=F("listing_calls") + provider.calls_made - before,
        updated_at=clock.now(),
    )


def _list_changed_customers(run: DiscoveryRun, provider: vendor.Provider) -> None:
    """The customers Partner Center's audit records name since the run's `since`, less
    `AUDIT_MARGIN`, once each (the records are asked for by day, from the day the margin starts
    in: a run begun at 00:05 also reads the previous day's last minutes; what happened earlier
    that day is left out here)."""
    from seatkeeper.subscriptions.models import Tenant

    window_start = run.since - AUDIT_MARGIN
    changed: dict[str, str] = {}
    changed_by: dict[str, dict[str, tuple]] = {}
    for record in provider.list_audit_records(since=window_start.date()):
        if record.customer_id and record.operation_date >= window_start:
            changed.setdefault(record.customer_id, record.customer_name)
            subscription_id = _audited_subscription(record)
            if subscription_id and record.user_principal_name:
                known = changed_by.setdefault(record.customer_id, {}).get(subscription_id)
                if known is None or known[0] <= record.operation_date:
                    changed_by[record.customer_id][subscription_id] = (
                        record.operation_date,
                        record.user_principal_name[:255],
                    )
    known = {
        tenant.vendor_customer_id: tenant
        for tenant in Tenant.objects.filter(
            account=run.account, vendor_customer_id__in=list(changed)
        ).select_related("customer")
    }
    rows = []
    for customer_id, name in changed.items():
        tenant = known.get(customer_id)
        if tenant is not None:
            rows.append(
                RunCustomer(
                    run=run,
                    vendor_customer_id=customer_id,
                    company_name=(name or tenant.customer.name)[:300],
                    domain=tenant.domain,
                    changed_by=_users_of(changed_by.get(customer_id)),
                )
            )
            continue
        try:
            facts = provider.get_customer(customer_id=customer_id)
        except NotFound:
            continue  # a tenant that is no longer the partner's customer
        rows.append(
            RunCustomer(
                run=run,
                vendor_customer_id=facts.id,
                company_name=facts.company_name[:300],
                domain=facts.domain[:255],
                vendor_reseller_id=(facts.associated_partner_id or "")[:64],
                changed_by=_users_of(changed_by.get(customer_id)),
            )
        )
    RunCustomer.objects.bulk_create(rows, ignore_conflicts=True)


def _users_of(changes: dict[str, tuple] | None) -> dict[str, str]:
    return {subscription_id: upn for subscription_id, (_day, upn) in (changes or {}).items()}


def _audited_subscription(record: vendor.AuditRecord) -> str:
    """The subscription an audit record is about: `customizedData`'s SubscriptionId, else the
    id in the new value the record carries."""
    if record.resource_type.lower() != "subscription":
        return ""
    found = record.details.get("SubscriptionId") or ""
    if not found and record.resource_new_value:
        try:
            value = json.loads(record.resource_new_value)
        except ValueError:
            value = None
        if isinstance(value, dict):
            found = str(value.get("Id") or value.get("id") or "")
    return found.lower()


@dataclass
class _Begun:
    """A customer of a run whose import has begun: its checkpoint row and context, and what
    its reads at the vendor came to (`_read`)."""

    row: RunCustomer
    context: kinds.CustomerContext
    modules: list
    calls: int = 0
    error: Exception | None = None


def import_customer(
    run_id: int, vendor_customer_id: str, *, provider: vendor.Provider | None = None
) -> str:
    """Import one customer of a run with every kind; returns what became of it.

    Every kind reads the vendor first, outside any transaction; then the customer's checkpoint
    row is locked for the writes and marked done in the same transaction, so two workers handed
    the same customer (a resume racing a late task) never import it twice: the second waits,
    then finds it done."""
    if provider is None:
        account = _account_of(run_id)
        if account is None:
            return "done"  # the run is gone
    owned = provider is None
    provider = provider or get_provider(account)
    try:
        begun = _begin(run_id, vendor_customer_id, provider)
        if isinstance(begun, str):
            return begun
        _read(begun, provider)
        return _finish(begun)
    finally:
        if owned:
            provider.close()


def import_customers(
    run_id: int, vendor_customer_ids: list[str], *, provider: vendor.Provider | None = None
) -> list[str]:
    """Import several customers of a run, as `import_customer` does each, with one customer's
    writes overlapping the next one's reads: a thread reads the vendor while this one writes,
    so the worker always has a request at the vendor, and never more than one. Returns what
    became of each customer.

    The reading thread only talks to the vendor (kinds read the database in `prepare`, here);
    its connector's rate limiter may use a database connection of its own, closed at the end.
    A worker's way (tasks.py) when scaled out. One thread does it all in the inline run; on one
    machine, where the rate limiter's buckets are rows of the same SQLite database, whose one
    write lock the reads would queue for; and for a caller inside a transaction (a test),
    whose writes another thread's connection would not see."""
    if provider is None:
        account = _account_of(run_id)
        if account is None:
            return ["done"] * len(vendor_customer_ids)  # the run is gone
    owned = provider is None
    provider = provider or get_provider(account)
    outcomes: dict[str, str] = {}
    try:
        if transaction.get_connection().in_atomic_block or not settings.REDIS_URL:
            return [import_customer(run_id, one, provider=provider) for one in vendor_customer_ids]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="discovery-read") as reader:
            try:
                reading = None  # (begun, future) of the customer being read
                for vendor_customer_id in [*vendor_customer_ids, None]:
                    following = None
                    if vendor_customer_id is not None:
                        begun = _begin(run_id, vendor_customer_id, provider)
                        if isinstance(begun, str):
                            outcomes[vendor_customer_id] = begun
                        else:
                            following = (begun, reader.submit(_read, begun, provider))
                    if reading is not None:
                        begun, future = reading
                        future.result()  # _read keeps its errors on `begun`
                        outcomes[begun.row.vendor_customer_id] = _finish(begun)
                    reading = following
            finally:
                reader.submit(connections.close_all).result()
    finally:
        if owned:
            provider.close()
    return [outcomes[vendor_customer_id] for vendor_customer_id in vendor_customer_ids]


def _account_of(run_id: int) -> ProviderAccount | None:
    return ProviderAccount.objects.filter(discovery_runs__pk=run_id).first()


def _begin(run_id: int, vendor_customer_id: str, provider: vendor.Provider) -> _Begun | str:
    """The customer's checkpoint and context, with what its kinds read from the database
    before the vendor is asked (`prepare`); or what became of it when there is nothing to do."""
    row = (
        RunCustomer.objects.select_related("run__account__organisation")
        .filter(run_id=run_id, vendor_customer_id=vendor_customer_id)
        .first()
    )
    if row is None or row.state == CustomerState.DONE:
        return "done"
    if not _in_progress(run_id):
        return "stopped"
    run = row.run
    facts = vendor.Customer(
        id=row.vendor_customer_id,
        domain=row.domain,
        company_name=row.company_name,
        associated_partner_id=row.vendor_reseller_id or None,
    )
    context = kinds.CustomerContext(
        run=run,
        account=run.account,
        provider=provider,
        facts=facts,
        changed_by=row.changed_by or {},
    )
    modules = kinds.customer_kinds()
    for module in modules:
        prepare = getattr(module, "prepare", None)
        if prepare is not None:
            prepare(context)
    return _Begun(row=row, context=context, modules=modules)


def _read(begun: _Begun, provider: vendor.Provider) -> None:
    """Every kind's reads at the vendor (no database: see `import_customers`); an error is kept
    on `begun` for `_finish`."""
    before = provider.calls_made
    try:
        for module in begun.modules:
            module.fetch(begun.context)
    except Exception as error:  # handled by _finish, like an error while writing
        begun.error = error
    begun.calls = provider.calls_made - before


def _finish(begun: _Begun) -> str:
    """Write what was read, in one transaction with the checkpoint; or record the error."""
    row, context, run = begun.row, begun.context, begun.row.run
    run_id, vendor_customer_id = run.pk, row.vendor_customer_id
    try:
        if begun.error is not None:
            raise begun.error
        with transaction.atomic():
            locked = RunCustomer.objects.select_for_update().get(pk=row.pk)
            if locked.state == CustomerState.DONE:
                return "done"
            report = {}
            if run.preview:
                report = _rolled_back(partial(_preview_customer, context, begun.modules))
            else:
                for module in begun.modules:
                    module.import_customer(context)
            RunCustomer.objects.filter(pk=row.pk).update(
                state=CustomerState.DONE,
                report=report,
                counts=context.plain_counts(),
                problems=context.problems[:100],
                # The reads' calls. (A kind may still call while it writes, when its tenant
                # went since `prepare`: rare, and not told apart from the next customer's reads.)
                calls=locked.calls + begun.calls,
                error_code="",
                error_message="",
                finished_at=clock.now(),
            )
    except AuthFailed as error:
        _fail(run_id, error)
        RunCustomer.objects.filter(pk=row.pk).exclude(state=CustomerState.DONE).update(
            calls=row.calls + begun.calls
        )
        return "error"
    except Exception as error:  # one customer's failure, whatever it is, never stops the run
        if not isinstance(error, ProviderError | IntegrityError | ServiceError):
            logger.exception("discovery %s: customer %s failed", run_id, vendor_customer_id)
        code, message = _error_text(error)
        RunCustomer.objects.filter(pk=row.pk).exclude(state=CustomerState.DONE).update(
            state=CustomerState.ERROR,
            error_code=code,
            error_message=message,
            calls=row.calls + begun.calls,
            finished_at=clock.now(),
        )
        logger.warning("discovery %s: customer %s failed: %s", run_id, vendor_customer_id, error)
        return "error"
    return "done"


class _Undo(Exception):
    """Raised to roll a preview's work back, carrying what it found."""

    def __init__(self, result) -> None:
        super().__init__("preview")
        self.result = result


def _rolled_back(work):
    """Do `work` in a savepoint and roll everything it wrote back (its activity records and
    queued tasks too); returns what `work` returned. A preview's way to know exactly what
    applying would do, through the same code, while writing nothing."""
    try:
        with transaction.atomic():
            raise _Undo(work())
    except _Undo as undo:
        return undo.result


def _preview_customer(context: kinds.CustomerContext, modules) -> dict:
    from seatkeeper.discovery.models import Assignment

    for module in modules:
        module.import_customer(context)
    counts = context.plain_counts().get("customers", {})
    if counts.get("created"):
        outcome = "create"
    elif counts.get("updated"):
        outcome = "update"
    else:
        outcome = "unchanged"
    assignment = (
        Assignment.objects.filter(customer=context.customer, assigned_at__isnull=True)
        .select_related("proposed_reseller")
        .first()
        if context.customer is not None
        else None
    )
    reseller = assignment.proposed_reseller if assignment else None
    return {"customer": outcome, "reseller": reseller.name if reseller else ""}


def _error_text(error: Exception) -> tuple[str, str]:
    if isinstance(error, ProviderError):
        code = error.code or (str(error.http_status) if error.http_status else "error")
        return code[:40], error.message
    if isinstance(error, ServiceError):
        return error.code[:40], error.message
    return error.__class__.__name__[:40], str(error)


@transaction.atomic
def complete_if_done(run_id: int) -> bool:
    """A run in progress whose list is read and whose customers are all handled is complete."""
    if RunCustomer.objects.filter(run_id=run_id, state=CustomerState.PENDING).exists():
        return False
    moved = DiscoveryRun.objects.filter(
        pk=run_id, state=RunState.IN_PROGRESS, listed=True, partner_done=True
    ).update(state=RunState.COMPLETED, finished_at=clock.now(), updated_at=clock.now())
    if moved:
        run = DiscoveryRun.objects.select_related("account__organisation").get(pk=run_id)
        figures = run_figures(run)
        activity_record(
            actor=None,
            organisation=run.account.organisation,
            obj=run,
            operation="discovery.complete",
            details={
                "account": run.account.name,
                "customers": figures.customers_total,
                "errors": figures.errors,
                "calls": figures.calls,
            },
        )
    return bool(moved)


def run_inline(run: DiscoveryRun, *, provider: vendor.Provider | None = None) -> DiscoveryRun:
    """Do a started run's whole work in this process (one customer after another)."""
    owned = provider is None
    provider = provider or get_provider(run.account)
    try:
        list_customers(run.pk, provider=provider)
        run.refresh_from_db()
        for vendor_customer_id in _open_customer_ids(run):
            import_customer(run.pk, vendor_customer_id, provider=provider)
    finally:
        if owned:
            provider.close()
    complete_if_done(run.pk)
    run.refresh_from_db()
    return run


# --- figures ----------------------------------------------------------------------------------


class Figures:
    """A run's progress and results, summed over its customers."""

    def __init__(self, run: DiscoveryRun) -> None:
        rows = list(run.customers.values_list("state", "counts", "calls").order_by())
        self.customers_total = len(rows)
        states = [row[0] for row in rows]
        self.customers_done = sum(1 for state in states if state != CustomerState.PENDING)
        # Customers in error, and partner-level kinds the vendor refused.
        self.errors = sum(1 for state in states if state == CustomerState.ERROR) + len(
            run.partner_problems or []
        )
        self.calls = run.listing_calls + sum(row[2] for row in rows)
        totals: dict[str, Counter] = {}
        for counts in [*(row[1] for row in rows), run.partner_counts]:
            for kind, outcomes in (counts or {}).items():
                totals.setdefault(kind, Counter()).update(outcomes)
        self.counts = {
            kind: {
                outcome: totals.get(kind, Counter()).get(outcome, 0) for outcome in kinds.OUTCOMES
            }
            for kind in {*kinds.kind_labels(), *totals}
        }
        self.listed = run.listed
        duration = run.duration
        self.seconds = duration.total_seconds() if duration is not None else 0.0
        self.rate = self.customers_done / self.seconds * 60 if self.seconds > 0 else None
        remaining = self.customers_total - self.customers_done
        self.seconds_left = (
            remaining / self.customers_done * self.seconds
            if run.state == RunState.IN_PROGRESS and self.listed and self.customers_done
            else None
        )

    def imported(self, kind: str) -> int:
        counts = self.counts.get(kind, {})
        return counts.get("created", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)


def run_figures(run: DiscoveryRun) -> Figures:
    return Figures(run)


# --- the schedule -------------------------------------------------------------------------------


def schedule_for(account: ProviderAccount) -> Schedule:
    schedule = Schedule.objects.filter(account=account).first()
    if schedule is None:
        schedule, _created = Schedule.objects.get_or_create(
            account=account,
            defaults={"next_run_at": clock.now() + dt.timedelta(hours=Schedule().every_hours)},
        )
    return schedule


@transaction.atomic
def schedule_set(
    *, actor: User, account: ProviderAccount, enabled: bool, every_hours: int
) -> Schedule:
    _require(actor, account)
    if not 1 <= every_hours <= 168:
        raise ServiceError(_("Run it every 1 to 168 hours."), field="every_hours")
    schedule = schedule_for(account)
    schedule.enabled = enabled
    schedule.every_hours = every_hours
    schedule.next_run_at = clock.now() + dt.timedelta(hours=every_hours)
    schedule.updated_at = clock.now()
    schedule.save()
    activity_record(
        actor=actor,
        organisation=account.organisation,
        obj=schedule,
        operation="discovery.schedule",
        details={"enabled": enabled, "every_hours": every_hours},
    )
    return schedule


def start_scheduled(now: dt.datetime | None = None) -> list[DiscoveryRun]:
    """Start the runs whose schedule is due: incremental, or full when the last full run is
    older than the schedule says. Each slot is claimed by a conditional update, so two
    schedulers never start the same run."""
    now = now or clock.now()
    started = []
    accounts = ProviderAccount.objects.filter(
        is_active=True,
        discovery_runs__state=RunState.COMPLETED,
        discovery_runs__preview=False,
    ).distinct()
    for account in accounts:
        schedule = schedule_for(account)
        if not schedule.enabled or schedule.next_run_at > now:
            continue
        claimed = Schedule.objects.filter(pk=schedule.pk, next_run_at__lte=now).update(
            next_run_at=now + dt.timedelta(hours=schedule.every_hours)
        )
        if not claimed or account.consent_status != ConsentStatus.GRANTED:
            continue
        last_full = (
            account.discovery_runs.filter(
                state=RunState.COMPLETED, mode=RunMode.FULL, preview=False
            )
            .order_by("-started_at")
            .first()
        )
        full_due = last_full is None or last_full.started_at <= now - dt.timedelta(
            days=schedule.full_every_days
        )
        try:
            started.append(
                run_start(
                    actor=None,
                    account=account,
                    trigger=Trigger.SCHEDULE,
                    incremental=not full_due,
                )
            )
        except ServiceError as error:
            logger.info("scheduled discovery of %s not started: %s", account.pk, error.message)
    return started
