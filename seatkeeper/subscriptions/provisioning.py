"""Carrying recorded operations out at the vendor, one subscription at a time, in order.

The worker claims the subscription's oldest open operation with a conditional UPDATE, calls the
provider, and writes the result back. A temporary failure (throttling, outage, "not ready yet")
is retried on a capped exponential schedule; a permanent one stops the queue of that
subscription (later operations wait behind it; other subscriptions carry on) until a person
retries it. A claim older than CLAIM_TIMEOUT belongs to a worker that died: the sweep hands the
operation to another worker, which sends it again with the same request key (MS-RequestId), so the
vendor answers with the order it already created instead of creating a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions import attempts, transitions
from seatkeeper.subscriptions.models import (
    AttemptOutcome,
    Operation,
    OperationKind,
    OperationState,
    Status,
    Subscription,
    SyncStatus,
)
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

CYCLES = {
    "monthly": vendor.BillingCycle.MONTHLY,
    "annual": vendor.BillingCycle.ANNUAL,
    "triennial": vendor.BillingCycle.TRIENNIAL,
    "prepaid": vendor.BillingCycle.ONE_TIME,
    "none": vendor.BillingCycle.NONE,
}


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


def _claim(operation: Operation, now: dt.datetime) -> bool:
    claimable = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    won = Operation.objects.filter(claimable, pk=operation.pk).update(
        state=OperationState.RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    return won == 1


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
        if not _claim(operation, now):
            return "busy"
        operation.refresh_from_db()
        try:
            _execute(operation, provider_factory)
        except WaitForVendor as waiting:
            _reschedule(operation, waiting.until or now + VENDOR_POLL, counts=False)
            return "waiting"
        except ProviderError as error:
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
    return (provider_factory or get_provider)(subscription.tenant.account)


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
        if kind == OperationKind.QUANTITY:
            change = vendor.SubscriptionUpdate(quantity=int(payload["quantity"]))
            facts = provider.update_subscription(
                customer_id=customer_id, subscription_id=target, change=change
            )
        elif kind == OperationKind.SUSPEND:
            facts = provider.suspend_subscription(customer_id=customer_id, subscription_id=target)
        elif kind == OperationKind.REACTIVATE:
            facts = provider.reactivate_subscription(
                customer_id=customer_id, subscription_id=target
            )
        elif kind == OperationKind.CANCEL:
            facts = provider.cancel_subscription(customer_id=customer_id, subscription_id=target)
        elif kind == OperationKind.AUTO_RENEW:
            if payload.get("after_term_ends"):
                _wait_for_renewal(
                    provider, customer_id, target, payload["after_term_ends"], operation
                )
            change = vendor.SubscriptionUpdate(
                auto_renew=bool(payload["auto_renew"]),
                **(_next_term_change(payload["next_term"]) if "next_term" in payload else {}),
            )
            facts = provider.update_subscription(
                customer_id=customer_id, subscription_id=target, change=change
            )
        elif kind == OperationKind.SCHEDULE_RENEWAL:
            change = vendor.SubscriptionUpdate(**_next_term_change(payload.get("next_term")))
            facts = provider.update_subscription(
                customer_id=customer_id, subscription_id=target, change=change
            )
        elif kind == OperationKind.RENAME:
            change = vendor.SubscriptionUpdate(friendly_name=payload["friendly_name"])
            facts = provider.update_subscription(
                customer_id=customer_id, subscription_id=target, change=change
            )
        else:
            raise ProviderError(f"nothing to send for {kind}", retryable=False)
    _succeeded(operation, facts)


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
        orders = provider.create_order(
            customer_id=customer_id, lines=[line], request_key=str(operation.request_key)
        )
        order_id = orders[0].id
        # Kept at once, in its own commit: whatever happens next, we poll this order rather than
        # ever placing another one.
        with transaction.atomic():
            Operation.objects.filter(pk=operation.pk).update(
                result={**operation.result, "vendor_order_id": order_id}
            )
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
    Operation.objects.filter(pk=operation.pk).update(
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
    _record_success(operation, subscription, facts)
    dates = apply_vendor_facts(subscription, facts)
    if operation.kind == OperationKind.CREATE and subscription.status == Status.PENDING:
        # The vendor set it up: the status row carries the dates it sent with it.
        transition(
            subscription, Status.ACTIVE, actor=None, cause=transitions.PROVISIONED, changes=dates
        )
    else:
        record_vendor_dates(subscription, dates)
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
    from seatkeeper.subscriptions.services import record_operation

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
    Operation.objects.filter(pk=operation.pk).update(
        state=OperationState.PENDING,
        next_attempt_at=when,
        claimed_at=None,
        attempts=F("attempts") if counts else F("attempts") - 1,
    )


@transaction.atomic
def _failed(operation: Operation, error: ProviderError) -> None:
    subscription = Subscription.objects.select_for_update().get(pk=operation.subscription_id)
    code = error.code or (str(error.http_status) if error.http_status else "error")
    permanent = not error.retryable or operation.attempts >= MAX_ATTEMPTS
    if permanent:
        Operation.objects.filter(pk=operation.pk).update(
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
        Operation.objects.filter(pk=operation.pk).update(
            state=OperationState.PENDING,
            next_attempt_at=clock.now() + wait,
            claimed_at=None,
            error_code=code[:40],
            error_message=error.message,
        )
        subscription.sync_status = SyncStatus.PENDING
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
    """Subscriptions with an operation due now, or one abandoned by a worker that died."""
    due = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    return list(
        Operation.objects.filter(due)
        .order_by()
        .values_list("subscription_id", flat=True)
        .distinct()[:limit]
    )
