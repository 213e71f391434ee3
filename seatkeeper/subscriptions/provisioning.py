"""Carrying recorded operations out at the vendor, one subscription at a time, in order.

The worker claims the subscription's oldest open operation with a conditional UPDATE, calls the
provider, and writes the result back. A temporary failure (throttling, outage, "not ready yet")
is retried on a capped exponential schedule; a permanent one stops the queue of that
subscription (later operations wait behind it; other subscriptions carry on) until a person
retries it. A claim older than CLAIM_TIMEOUT belongs to a worker that died: the sweep hands the
operation to another worker, which sends it again with the same request key (MS-RequestId), so the
vendor answers with the order it already created instead of creating a second one.

Every claim carries a fresh token (a fencing token). A worker that was only stalled, not dead,
may wake up after its operation went to another worker: it checks its token before each vendor
write and records its result only where the token still matches (compare-and-set), so it changes
nothing on either side. A stale ETag (Partner Center 2055) on a claimed operation is never simply
sent again: the claim is checked, the subscription read again, and a change already there is done.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock, workers
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError, StaleVersion, Throttled, Unavailable
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions import attempts, transitions
from seatkeeper.subscriptions.models import (
    OPEN_STATES,
    AttemptOutcome,
    Operation,
    OperationKind,
    OperationState,
    Status,
    Subscription,
    SyncStatus,
)
from seatkeeper.subscriptions.operations import record_operation
from seatkeeper.subscriptions.transitions import transition

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
# How soon to look again when the vendor has not finished (order pending, subscription pending).
VENDOR_POLL = dt.timedelta(seconds=20)
# How soon to look again for a renewal Partner Center has not carried out yet (it may take a day).
RENEWAL_POLL = dt.timedelta(minutes=30)
# The longest the worker waits for a vendor's Retry-After (or the shared rate limiter) inside a
# task; a longer wait reschedules the operation, and the worker moves on to other customers.
THROTTLE_PATIENCE_SECONDS = 2.0
# When the vendor throttles without saying for how long.
THROTTLE_DEFAULT_WAIT = dt.timedelta(seconds=30)
# While an account's queue is paused by a vendor outage, how often one operation probes it.
OUTAGE_PROBE = dt.timedelta(minutes=2)

CYCLES = {
    "monthly": vendor.BillingCycle.MONTHLY,
    "annual": vendor.BillingCycle.ANNUAL,
    "triennial": vendor.BillingCycle.TRIENNIAL,
    "prepaid": vendor.BillingCycle.ONE_TIME,
    "none": vendor.BillingCycle.NONE,
}


class ClaimLost(Exception):
    """Another worker holds the operation now; this one must stop and change nothing."""


class WaitForVendor(Exception):
    """The vendor accepted the work but has not finished it; look again later."""

    def __init__(self, until: dt.datetime | None = None) -> None:
        super().__init__("waiting for the vendor")
        self.until = until


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(
        seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    )


ProviderFactory = Callable[..., vendor.Provider]


def next_operation(subscription_id: int) -> Operation | None:
    return (
        Operation.objects.filter(
            subscription_id=subscription_id,
            state__in=[OperationState.PENDING, OperationState.RUNNING, OperationState.FAILED],
        )
        .order_by("sequence")
        .first()
    )


def _abandoned(now: dt.datetime) -> Q:
    """Running operations whose worker is dead (its lease lapsed or its process is gone), or
    whose claim is older than CLAIM_TIMEOUT (claims made outside a registered worker)."""
    return Q(state=OperationState.RUNNING) & (
        Q(claimed_at__lt=now - CLAIM_TIMEOUT) | workers.claimed_by_the_dead(now)
    )


def _claim(operation: Operation, now: dt.datetime) -> uuid.UUID | None:
    """Claim the operation for this worker; returns the claim's fencing token (None: lost)."""
    claimable = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | _abandoned(now)
    token = uuid.uuid4()
    won = Operation.objects.filter(claimable, pk=operation.pk).update(
        state=OperationState.RUNNING,
        claimed_at=now,
        claimed_by=workers.current_worker_id(),
        claim_token=token,
        attempts=F("attempts") + 1,
    )
    return token if won == 1 else None


def _held(operation: Operation):
    """The operation's row, only while this worker's claim on it holds."""
    return Operation.objects.filter(
        pk=operation.pk, state=OperationState.RUNNING, claim_token=operation.claim_token
    )


def check_claim(operation: Operation) -> None:
    """Raise ClaimLost unless this worker still holds the operation (before each vendor write)."""
    if not _held(operation).exists():
        raise ClaimLost(f"operation {operation.pk} was handed to another worker")


def provision_subscription(
    subscription_id: int, *, provider_factory: ProviderFactory | None = None
) -> str:
    """Run the subscription's due operations in order; returns why it stopped (logs, tests)."""
    while True:
        operation = next_operation(subscription_id)
        if operation is None:
            _settle(subscription_id)
            return "done"
        if operation.state == OperationState.FAILED:
            return "held"
        now = clock.now()
        token = _claim(operation, now)
        if token is None:
            return "busy"
        operation.refresh_from_db()
        if operation.claim_token != token:
            return "busy"
        try:
            _execute(operation, provider_factory)
            _vendor_answered(operation)
        except ClaimLost:
            # Stalled past the claim: the operation is another worker's now. Leave it alone.
            logger.warning("operation %s: claim lost, its result is not recorded", operation.pk)
            return "superseded"
        except WaitForVendor as waiting:
            _reschedule(operation, waiting.until or now + VENDOR_POLL, counts=False)
            _vendor_answered(operation)
            return "waiting"
        except Throttled as error:
            _throttled(operation, error)
            return "throttled"
        except Unavailable as error:
            if _vendor_unavailable(operation, error):
                return "paused"
            _failed(operation, error)
            return "retrying" if operation.attempts < MAX_ATTEMPTS else "failed"
        except ProviderError as error:
            if error.http_status and error.http_status < 500:
                _vendor_answered(operation)  # a refusal is an answer
            _failed(operation, error)
            return "retrying" if error.retryable and operation.attempts < MAX_ATTEMPTS else "failed"
        except Exception as error:  # a bug or an unexpected outage must not lose the operation
            logger.exception("operation %s failed unexpectedly", operation.pk)
            _failed(
                operation, ProviderError(str(error) or error.__class__.__name__, retryable=True)
            )
            return "retrying"


def _provider(
    subscription: Subscription, provider_factory: ProviderFactory | None
) -> vendor.Provider:
    # Looked up at call time so tests can hand the worker a connector with an injected clock.
    if provider_factory is not None:
        return provider_factory(subscription.tenant.account)
    return get_provider(subscription.tenant.account, throttle_patience=THROTTLE_PATIENCE_SECONDS)


def _execute(operation: Operation, provider_factory: ProviderFactory | None) -> None:
    subscription = Subscription.objects.select_related(
        "tenant", "tenant__account", "offer", "parent"
    ).get(pk=operation.subscription_id)
    if subscription.tenant is None:
        raise ProviderError("no tenant to provision to", retryable=False)
    provider = _provider(subscription, provider_factory)
    try:
        _send(operation, subscription, provider)
    finally:
        close = getattr(provider, "close", None)
        if close is not None:
            close()  # the connection pool of this call


def _send(operation: Operation, subscription: Subscription, provider: vendor.Provider) -> None:
    customer_id = subscription.tenant.vendor_customer_id
    kind = operation.kind
    if kind == OperationKind.CREATE:
        facts = _create(operation, subscription, provider, customer_id)
    else:
        if not subscription.vendor_subscription_id:
            raise ProviderError("the subscription has no vendor id yet", retryable=True)
        target = subscription.vendor_subscription_id
        payload = operation.payload
        update = partial(_update, operation, provider, customer_id, target)
        if kind == OperationKind.QUANTITY:
            facts = update(vendor.SubscriptionUpdate(quantity=int(payload["quantity"])))
        elif kind == OperationKind.SUSPEND:
            facts = update(vendor.SubscriptionUpdate(status=vendor.SubscriptionStatus.SUSPENDED))
        elif kind == OperationKind.REACTIVATE:
            facts = update(vendor.SubscriptionUpdate(status=vendor.SubscriptionStatus.ACTIVE))
        elif kind == OperationKind.CANCEL:
            # New-commerce cancellation is the subscription PATCHed to status "deleted".
            facts = update(vendor.SubscriptionUpdate(status=vendor.SubscriptionStatus.DELETED))
        elif kind == OperationKind.AUTO_RENEW:
            if payload.get("after_term_ends"):
                _wait_for_renewal(
                    provider, customer_id, target, payload["after_term_ends"], operation
                )
            change = vendor.SubscriptionUpdate(
                auto_renew=bool(payload["auto_renew"]),
                **(_next_term_change(payload["next_term"]) if "next_term" in payload else {}),
            )
            facts = update(change)
        elif kind == OperationKind.SCHEDULE_RENEWAL:
            change = vendor.SubscriptionUpdate(**_next_term_change(payload.get("next_term")))
            facts = update(change)
        elif kind == OperationKind.RENAME:
            change = vendor.SubscriptionUpdate(friendly_name=payload["friendly_name"])
            facts = update(change)
        else:
            raise ProviderError(f"nothing to send for {kind}", retryable=False)
    _succeeded(operation, facts)


# Rounds of "read, check the claim, write" before a stale ETag reaches the operation as a failure.
STALE_ROUNDS = 2


def _update(
    operation: Operation,
    provider: vendor.Provider,
    customer_id: str,
    target: str,
    change: vendor.SubscriptionUpdate,
) -> vendor.Subscription:
    """A fenced update: the claim is checked between the fresh read and each write. After a
    stale ETag the claim is checked again and the subscription read again; a change already
    there (another worker's, or ours whose answer was lost) is done, not sent a second time."""
    fence = partial(check_claim, operation)
    for round_number in range(STALE_ROUNDS):
        try:
            return provider.update_subscription(
                customer_id=customer_id,
                subscription_id=target,
                change=change,
                stale_retries=0,
                before_write=fence,
            )
        except StaleVersion:
            fence()
            current = provider.get_subscription(customer_id=customer_id, subscription_id=target)
            if _already_applied(current, change):
                return current
            if round_number == STALE_ROUNDS - 1:
                raise
    raise AssertionError("unreachable")


def _already_applied(facts: vendor.Subscription, change: vendor.SubscriptionUpdate) -> bool:
    wanted = {
        "quantity": change.quantity,
        "friendly_name": change.friendly_name,
        "auto_renew": change.auto_renew,
        "status": change.status,
    }
    if change.next_term is not None and facts.next_term != change.next_term:
        return False
    if change.clear_next_term and facts.next_term is not None:
        return False
    return all(value is None or getattr(facts, name) == value for name, value in wanted.items())


def _next_term_change(next_term: dict | None) -> dict:
    """The SubscriptionUpdate fields for a next term recorded by the services (None: renew as
    is, so remove whatever the vendor has scheduled)."""
    if not next_term:
        return {"clear_next_term": True}
    return {
        "next_term": vendor.NextTerm(
            quantity=int(next_term["quantity"]),
            term_duration=next_term["term"],
            billing_cycle=CYCLES.get(next_term["billing_cycle"], vendor.BillingCycle.MONTHLY),
        )
    }


RENEWAL_NOT_SEEN = "renewal_not_seen"


def renewal_wait() -> dt.timedelta:
    """How long a change meant for the new term waits for the vendor's renewal
    (`SEATKEEPER_RENEWAL_WAIT_HOURS`, 72 by default: Partner Center's 24 hours, twice over)."""
    return dt.timedelta(hours=settings.SEATKEEPER_RENEWAL_WAIT_HOURS)


def _wait_for_renewal(
    provider: vendor.Provider,
    customer_id: str,
    subscription_id: str,
    old_end: str,
    operation: Operation,
) -> None:
    """Partner Center renews from 00:00 UTC the day after the term ends and may take up to 24
    hours. A change meant for the new term (turning auto-renew off after "renew once") waits
    until the vendor shows it, or it would stop that very renewal. Not forever: a vendor that
    expired the subscription instead never shows a new term, so after `renewal_wait()` from the
    renewal day (or from a person's retry) the operation fails and the people are told."""
    facts = provider.get_subscription(customer_id=customer_id, subscription_id=subscription_id)
    end = dt.date.fromisoformat(old_end)
    if facts.commitment_end is not None and facts.commitment_end > end:
        return
    started = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    retried = (
        operation.attempt_log.filter(outcome=AttemptOutcome.RETRY_ASKED)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    limit = max(started, retried or started) + renewal_wait()
    now = clock.now()
    if now >= limit:
        raise ProviderError(
            f"the vendor showed no new term after the one ending {old_end} within "
            f"{int(renewal_wait().total_seconds() // 3600)} hours (vendor status: {facts.status})",
            code=RENEWAL_NOT_SEEN,
            retryable=False,
        )
    raise WaitForVendor(min(now + RENEWAL_POLL, limit))


def _create(
    operation: Operation, subscription: Subscription, provider: vendor.Provider, customer_id: str
) -> vendor.Subscription:
    today = clock.today()
    if subscription.start_date > today:
        # A future start: order on the day, not before.
        raise WaitForVendor(dt.datetime.combine(subscription.start_date, dt.time(), tzinfo=dt.UTC))
    order_id = operation.result.get("vendor_order_id")
    if not order_id:
        line = vendor.OrderLine(
            catalog_item_id=subscription.offer.catalog_item_id or subscription.offer.external_id,
            quantity=subscription.quantity,
            term_duration=subscription.term,
            billing_cycle=CYCLES.get(subscription.billing_cycle, vendor.BillingCycle.MONTHLY),
            friendly_name=subscription.friendly_name,
        )
        check_claim(operation)
        orders = provider.create_order(
            customer_id=customer_id, lines=[line], request_key=str(operation.request_key)
        )
        order_id = orders[0].id
        # Kept at once, in its own commit: whatever happens next, we poll this order rather than
        # ever placing another one. (A worker whose claim moved records nothing: the new holder
        # sends the same request key and learns the same order.)
        with transaction.atomic():
            if not _held(operation).update(
                result={**operation.result, "vendor_order_id": order_id}
            ):
                raise ClaimLost(f"operation {operation.pk} was handed to another worker")
            Subscription.objects.filter(pk=subscription.pk).update(vendor_order_id=order_id)
        operation.result = {**operation.result, "vendor_order_id": order_id}
    order = provider.get_order(customer_id=customer_id, order_id=order_id)
    vendor_id = next((line.subscription_id for line in order.lines if line.subscription_id), None)
    if order.status in (vendor.OrderStatus.CANCELLED, vendor.OrderStatus.FAILED):
        raise ProviderError(
            f"the vendor {order.status} order {order_id}", code=str(order.status), retryable=False
        )
    if not vendor_id:
        raise WaitForVendor()
    facts = provider.get_subscription(customer_id=customer_id, subscription_id=vendor_id)
    if facts.status == vendor.SubscriptionStatus.PENDING:
        Subscription.objects.filter(pk=subscription.pk).update(vendor_subscription_id=vendor_id)
        raise WaitForVendor()
    return facts


@transaction.atomic
def _succeeded(operation: Operation, facts: vendor.Subscription) -> None:
    now = clock.now()
    subscription = Subscription.objects.select_for_update().get(pk=operation.subscription_id)
    recorded = _held(operation).update(
        state=OperationState.DONE,
        done_at=now,
        error_code="",
        error_message="",
        result={
            **operation.result,
            "vendor_subscription_id": facts.id,
            "vendor_status": str(facts.status),
        },
    )
    if not recorded:  # compare-and-set: only the claim's holder records the result
        raise ClaimLost(f"operation {operation.pk} was handed to another worker")
    _record_success(operation, subscription, facts)
    dates = apply_vendor_facts(subscription, facts)
    if operation.kind == OperationKind.CREATE and subscription.status == Status.PENDING:
        # The vendor set it up: the status row carries the dates it sent with it.
        transition(
            subscription, Status.ACTIVE, actor=None, cause=transitions.PROVISIONED, changes=dates
        )
    else:
        record_vendor_dates(subscription, dates)
    if not Operation.objects.filter(
        subscription_id=subscription.pk, state__in=OPEN_STATES
    ).exists():
        # The last open operation: synchronized in the same commit, so a worker dying right
        # after it cannot leave the subscription "pending" with nothing left to do.
        subscription.sync_status = SyncStatus.SYNCHRONIZED
        subscription.sync_error_code = ""
        subscription.sync_error_message = ""
        subscription.synced_at = now
    subscription.save()


def _record_success(
    operation: Operation, subscription: Subscription, facts: vendor.Subscription
) -> None:
    """The try that worked, and in the activity log when it ends a run of failures (a retry's
    success completes the story its failure started)."""
    recovered = attempts.failed_before(operation)
    attempts.record_attempt(
        operation,
        AttemptOutcome.DONE,
        started_at=operation.claimed_at,
        vendor_status=str(facts.status),
    )
    if recovered:
        activity_record(
            actor=None,
            organisation=subscription.customer,
            obj=subscription,
            operation="subscription.vendor_done",
            details={
                "operation": operation.kind,
                "sequence": operation.sequence,
                "attempts": attempts.vendor_tries(operation),
            },
        )


VENDOR_DATES = ("commitment_end_date", "cancellation_allowed_until")


def apply_vendor_facts(subscription: Subscription, facts: vendor.Subscription) -> dict[str, list]:
    """Copy what only the vendor knows. Desired fields (quantity, names, renewal changes) are the
    people's and are never overwritten by a sync. Returns the dates it moved, as
    `{field: [old, new]}` in ISO text, for the caller to record (`record_vendor_dates`)."""
    subscription.vendor_subscription_id = facts.id or subscription.vendor_subscription_id
    if facts.order_id:
        subscription.vendor_order_id = facts.order_id
    # The end-of-term job renews here from midnight, while Partner Center may take up to 24
    # hours to renew. Facts read in between describe the term that ended: taking its dates would
    # end the new term again, and the job would renew it twice.
    if (
        facts.commitment_end
        and subscription.commitment_end_date
        and facts.commitment_end < subscription.commitment_end_date
    ):
        return {}
    before = {field: getattr(subscription, field) for field in VENDOR_DATES}
    if facts.commitment_end:
        subscription.commitment_end_date = facts.commitment_end
    if facts.cancellation_allowed_until:
        subscription.cancellation_allowed_until = facts.cancellation_allowed_until
    return {
        field: [_iso(before[field]), _iso(getattr(subscription, field))]
        for field in VENDOR_DATES
        if getattr(subscription, field) != before[field]
    }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_vendor_dates(subscription: Subscription, dates: dict[str, list]) -> None:
    """Dates the vendor moved, in the history and the activity log (a "vendor facts refreshed"
    operation, done at once). Nothing moved, nothing recorded."""
    if not dates:
        return
    record_operation(
        subscription,
        OperationKind.REFRESH,
        actor=None,
        payload={field: new for field, (_old, new) in dates.items()},
        changes=dates,
        local=True,
    )


def _settle(subscription_id: int) -> None:
    """No open operation left: the vendor matches what the people asked for."""
    Subscription.objects.filter(pk=subscription_id).exclude(
        sync_status=SyncStatus.SYNCHRONIZED
    ).update(
        sync_status=SyncStatus.SYNCHRONIZED,
        sync_error_code="",
        sync_error_message="",
        synced_at=clock.now(),
    )


def _reschedule(operation: Operation, when: dt.datetime, *, counts: bool) -> None:
    _held(operation).update(
        state=OperationState.PENDING,
        next_attempt_at=when,
        claimed_at=None,
        attempts=F("attempts") if counts else F("attempts") - 1,
    )


def _account_id(operation: Operation) -> int | None:
    return (
        Subscription.objects.filter(pk=operation.subscription_id)
        .values_list("tenant__account_id", flat=True)
        .first()
    )


def _vendor_unavailable(operation: Operation, error: Unavailable) -> bool:
    """No answer from the vendor, after the connector's own retries. Once several operations in
    a row met it, it is an outage, not this operation's failure: the account's queue pauses (one
    notice), and the operation waits for the vendor without spending an attempt."""
    from seatkeeper.providers import services as provider_services

    account_id = _account_id(operation)
    if account_id is None:
        return False
    if not provider_services.account_vendor_unavailable(account_id=account_id, error=str(error)):
        return False
    code = error.code or (str(error.http_status) if error.http_status else "unavailable")
    with transaction.atomic():
        waits = _held(operation).update(
            state=OperationState.PENDING,
            next_attempt_at=clock.now() + OUTAGE_PROBE,
            claimed_at=None,
            attempts=F("attempts") - 1,
            error_code=code[:40],
            error_message=error.message,
        )
        if waits:
            Subscription.objects.filter(pk=operation.subscription_id).update(
                sync_status=SyncStatus.PENDING,
                sync_error_code=code[:40],
                sync_error_message=error.message,
            )
    return True


def _vendor_answered(operation: Operation) -> None:
    """An answer ends an outage; a paused queue resumes at once."""
    from seatkeeper.providers import services as provider_services

    account_id = _account_id(operation)
    if account_id is not None and provider_services.account_vendor_answered(account_id=account_id):
        from seatkeeper.subscriptions import tasks

        transaction.on_commit(tasks.provisioning_sweep.enqueue)


@transaction.atomic
def _throttled(operation: Operation, error: Throttled) -> None:
    """The vendor asked us to wait: try again when it said, and not as a failed attempt."""
    wait = (
        dt.timedelta(seconds=float(error.retry_after))
        if error.retry_after
        else THROTTLE_DEFAULT_WAIT
    )
    code = error.code or "429"
    rescheduled = _held(operation).update(
        state=OperationState.PENDING,
        next_attempt_at=clock.now() + wait,
        claimed_at=None,
        attempts=F("attempts") - 1,
        error_code=code[:40],
        error_message=error.message,
    )
    if rescheduled:
        Subscription.objects.filter(pk=operation.subscription_id).update(
            sync_status=SyncStatus.PENDING,
            sync_error_code=code[:40],
            sync_error_message=error.message,
        )


@transaction.atomic
def _failed(operation: Operation, error: ProviderError) -> None:
    subscription = Subscription.objects.select_for_update().get(pk=operation.subscription_id)
    code = error.code or (str(error.http_status) if error.http_status else "error")
    permanent = not error.retryable or operation.attempts >= MAX_ATTEMPTS
    if permanent:
        recorded = _held(operation).update(
            state=OperationState.FAILED,
            error_code=code[:40],
            error_message=error.message,
            claimed_at=None,
        )
        subscription.sync_status = SyncStatus.FAILED
    else:
        wait = backoff(operation.attempts)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            wait = max(wait, dt.timedelta(seconds=float(retry_after)))
        recorded = _held(operation).update(
            state=OperationState.PENDING,
            next_attempt_at=clock.now() + wait,
            claimed_at=None,
            error_code=code[:40],
            error_message=error.message,
        )
        subscription.sync_status = SyncStatus.PENDING
    if not recorded:
        return  # the operation is another worker's now; its outcome is theirs to record
    subscription.sync_error_code = code[:40]
    subscription.sync_error_message = error.message
    subscription.save(update_fields=["sync_status", "sync_error_code", "sync_error_message"])
    attempts.record_attempt(
        operation,
        AttemptOutcome.FAILED if permanent else AttemptOutcome.RETRYING,
        started_at=operation.claimed_at,
        error_code=code,
        error_message=error.message,
    )
    if permanent:
        activity_record(
            actor=None,
            organisation=subscription.customer,
            obj=subscription,
            operation="subscription.vendor_failed",
            details={
                "operation": operation.kind,
                "sequence": operation.sequence,
                "error_code": code[:40],
                "error_message": error.message,
            },
        )
        from seatkeeper.subscriptions import notifications

        transaction.on_commit(partial(notifications.provisioning_failed, operation_id=operation.pk))


def due_subscription_ids(now: dt.datetime, limit: int = 500) -> list[int]:
    """Subscriptions with an operation due now, or one abandoned by a worker that died. Of an
    account paused by a vendor outage only one, the probe that finds out when it answers again."""
    due = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | _abandoned(now)
    paused = list(
        ProviderAccount.objects.filter(outage_paused_at__isnull=False).values_list("pk", flat=True)
    )
    ids = list(
        Operation.objects.filter(due)
        .exclude(subscription__tenant__account_id__in=paused)
        .order_by()
        .values_list("subscription_id", flat=True)
        .distinct()[:limit]
    )
    for account_id in paused:
        probe = (
            Operation.objects.filter(due, subscription__tenant__account_id=account_id)
            .order_by("next_attempt_at", "pk")
            .values_list("subscription_id", flat=True)
            .first()
        )
        if probe is not None:
            ids.append(probe)
    return ids
