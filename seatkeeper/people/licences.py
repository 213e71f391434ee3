"""Giving a user a licence from one of the customer's subscriptions, or taking it back.

Every check that can be made here is made in the request: the user is active, has a usage
location (Microsoft assigns no licence without one), does not hold the licence already, and the
subscription's licence pool has a seat left (the pool's subscriptions are locked while counting,
so two people cannot take the last seat at once). The licence shows at once, marked pending;
the vendor call (`licenseupdates`) is the worker's, retried on the subscriptions' schedule. If
the vendor refuses for good, the licence is put back as it was and the change shows failed.

A user created here together with its licences (a bulk file's new user) holds them at once too:
their changes wait for the vendor to make the user (`after_creation`), and the user's creation
sends them on (`users._done`); if the vendor refuses the user, its licences go with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Role, User
from seatkeeper.accounts.permissions import can_read
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.wording import fill
from seatkeeper.people.models import (
    DirectoryUser,
    LicenceAction,
    LicenceChange,
    LicenceSku,
    UserAction,
    UserChange,
    UserLicence,
    UserStatus,
)
from seatkeeper.people.selectors import SEAT_HOLDING, check_seat_left
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions.models import OperationState, Subscription, SyncStatus
from seatkeeper.subscriptions.provisioning import CLAIM_TIMEOUT, MAX_ATTEMPTS, backoff

logger = logging.getLogger(__name__)

ProviderFactory = Callable[[ProviderAccount], vendor.Provider]
# Who may change people and their licences (users.py asks the same).
PEOPLE_ROLES = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR, Role.RESELLER_ADMIN, Role.CUSTOMER_ADMIN}
OPEN = (OperationState.PENDING, OperationState.RUNNING)


def can_change_licences(actor: User | None, user: DirectoryUser) -> bool:
    return actor is None or (
        actor.is_authenticated and can_read(actor, user.customer) and actor.role in PEOPLE_ROLES
    )


def _check(actor: User | None, user: DirectoryUser, *, after_creation: bool = False) -> None:
    if not can_change_licences(actor, user):
        raise PermissionRefused(_("You may not change this user's licences."))
    if user.status != UserStatus.ACTIVE:
        raise ServiceError(_("%(user)s is deleted: restore the user first.") % {"user": user})
    being_created = UserChange.objects.filter(user=user, action=UserAction.CREATE, state__in=OPEN)
    if not user.vendor_user_id and not (after_creation and being_created.exists()):
        raise ServiceError(
            _("%(user)s is still being created at the vendor: try again in a moment.")
            % {"user": user.user_principal_name}
        )


def _queue(change: LicenceChange, actor: User | None, operation: str) -> None:
    user = change.user
    DirectoryUser.objects.filter(pk=user.pk).update(sync_status=SyncStatus.PENDING)
    user.sync_status = SyncStatus.PENDING
    activity_record(
        actor=actor,
        organisation=user.customer,
        obj=user,
        operation=operation,
        details={"licence": str(change.sku), "user_name": user.user_principal_name},
    )
    from seatkeeper.people.tasks import licence_change

    transaction.on_commit(partial(licence_change.enqueue, change_id=change.pk))


def _actor_name(actor: User | None) -> str:
    return actor.get_full_name() or actor.get_username() if actor else "Seatkeeper"


def licence_assign(
    *,
    actor: User | None,
    user: DirectoryUser,
    subscription: Subscription,
    after_creation: bool = False,
) -> LicenceChange:
    """Give `user` the licence of `subscription`'s pool, queued to the vendor. With
    `after_creation`, a user the vendor is still creating may be given it: the change waits for
    the creation."""
    _check(actor, user, after_creation=after_creation)
    if subscription.customer_id != user.customer_id or subscription.tenant_id != user.tenant_id:
        raise ServiceError(_("This subscription is not in the user's tenant."))
    if subscription.status not in SEAT_HOLDING:
        raise ServiceError(
            _("%(subscription)s is not active: it has no seat to give.")
            % {"subscription": subscription.friendly_name}
        )
    if not user.usage_location:
        raise ServiceError(
            _(
                "%(user)s has no usage location: Microsoft gives no licence without one. Set it "
                "first."
            )
            % {"user": user.display_name},
            field="usage_location",
        )
    key = subscription.offer.external_id
    sku = LicenceSku.objects.filter(tenant_id=user.tenant_id, product_key=key).first()
    if sku is None:
        raise ServiceError(
            fill(
                _(
                    "The vendor has not shown the licences of %(subscription)s yet: sync the "
                    "users, then try again."
                ),
                {"subscription": subscription.friendly_name},
            )
        )
    with transaction.atomic():
        pool = Subscription.objects.select_for_update().filter(
            tenant_id=user.tenant_id, offer__external_id=key, status__in=SEAT_HOLDING
        )
        seats = pool.aggregate(total=Sum("quantity"))["total"] or 0
        if UserLicence.objects.filter(user=user, sku=sku).exists():
            raise ServiceError(
                _("%(user)s already holds %(licence)s.")
                % {"user": user.display_name, "licence": sku}
            )
        held = UserLicence.objects.filter(sku=sku, user__status=UserStatus.ACTIVE).count()
        check_seat_left(subscription, held=held, seats=seats)
        UserLicence.objects.create(user=user, sku=sku, assigned_at=clock.now())
        change = LicenceChange.objects.create(
            user=user,
            sku=sku,
            subscription=subscription,
            action=LicenceAction.ASSIGN,
            requested_by=actor,
            requested_by_name=_actor_name(actor),
        )
        _queue(change, actor, "licence.assign")
    return change


def licence_remove(*, actor: User | None, licence: UserLicence) -> LicenceChange:
    user = licence.user
    _check(actor, user)
    with transaction.atomic():
        deleted, _rows = UserLicence.objects.filter(pk=licence.pk).delete()
        if not deleted:
            raise ServiceError(_("This licence was already taken back."))
        change = LicenceChange.objects.create(
            user=user,
            sku=licence.sku,
            action=LicenceAction.REMOVE,
            requested_by=actor,
            requested_by_name=_actor_name(actor),
        )
        _queue(change, actor, "licence.remove")
    return change


def overflow_withdraw(tenant_id: int) -> int:
    """After a sync: when the vendor's own assignments and our licences still on their way
    together hold more seats than a pool has, ours are the ones the vendor will refuse. Take
    them back now, newest first, as a refusal would, so no subscription shows more seats held
    than bought. Returns how many were taken back."""
    waiting_anywhere = LicenceChange.objects.filter(
        sku__tenant_id=tenant_id, action=LicenceAction.ASSIGN, state=OperationState.PENDING
    )
    if not waiting_anywhere.exists():
        return 0  # only licences of ours still waiting are taken back: none, nothing to count
    withdrawn = 0
    for sku in LicenceSku.objects.filter(tenant_id=tenant_id).exclude(product_key=""):
        seats = (
            Subscription.objects.filter(
                tenant_id=tenant_id, offer__external_id=sku.product_key, status__in=SEAT_HOLDING
            ).aggregate(total=Sum("quantity"))["total"]
            or 0
        )
        held = UserLicence.objects.filter(sku=sku, user__status=UserStatus.ACTIVE).count()
        if held <= seats:
            continue
        waiting = LicenceChange.objects.filter(
            sku=sku, action=LicenceAction.ASSIGN, state=OperationState.PENDING
        ).order_by("-pk")
        for change in waiting[: held - seats]:
            UserLicence.objects.filter(user_id=change.user_id, sku=sku).delete()
            LicenceChange.objects.filter(pk=change.pk).update(
                state=OperationState.FAILED,
                error_code="no_seat_left",
                error_message=_("The vendor's seats were taken by licences given there meanwhile."),
            )
            settle_user(change.user_id, failed=True)
            withdrawn += 1
    return withdrawn


# --- the worker ----------------------------------------------------------------------------------


def settle_user(user_id: int, *, failed: bool) -> None:
    """The user is in sync again once none of its changes (licences' or users') is open."""
    if LicenceChange.objects.filter(user_id=user_id, state__in=OPEN).exists():
        return
    if UserChange.objects.filter(user_id=user_id, state__in=OPEN).exists():
        return
    DirectoryUser.objects.filter(pk=user_id).update(
        sync_status=SyncStatus.FAILED if failed else SyncStatus.SYNCHRONIZED
    )


def run_change(change_id: int, *, provider_factory: ProviderFactory | None = None) -> str:
    """Send one licence change to the vendor; returns done, retrying, failed, waiting (its user
    is still being created at the vendor; the creation sends it on) or busy."""
    if LicenceChange.objects.filter(pk=change_id, user__vendor_user_id="").exists():
        return "waiting"
    now = clock.now()
    claimable = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    won = LicenceChange.objects.filter(claimable, pk=change_id).update(
        state=OperationState.RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not won:
        return "busy"
    change = LicenceChange.objects.select_related("user__tenant__account", "sku").get(pk=change_id)
    tenant = change.user.tenant
    assign = change.action == LicenceAction.ASSIGN
    try:
        with (provider_factory or get_provider)(tenant.account) as provider:
            provider.change_user_licences(
                customer_id=tenant.vendor_customer_id,
                user_id=change.user.vendor_user_id,
                assign=[change.sku.sku_id] if assign else (),
                remove=() if assign else [change.sku.sku_id],
            )
    except ProviderError as error:
        return _failed(change, error)
    except Exception as error:  # a bug or an outage must not lose the change
        logger.exception("licence change %s failed unexpectedly", change_id)
        return _failed(change, ProviderError(str(error) or type(error).__name__, retryable=True))
    with transaction.atomic():
        LicenceChange.objects.filter(pk=change.pk).update(
            state=OperationState.DONE, done_at=clock.now(), claimed_at=None
        )
        settle_user(change.user_id, failed=False)
    return "done"


def _failed(change: LicenceChange, error: ProviderError) -> str:
    code = (error.code or (str(error.http_status) if error.http_status else "error"))[:40]
    permanent = not error.retryable or change.attempts >= MAX_ATTEMPTS
    values = {"error_code": code, "error_message": error.message, "claimed_at": None}
    with transaction.atomic():
        if permanent:
            values["state"] = OperationState.FAILED
            # Put the licence back as the vendor has it.
            if change.action == LicenceAction.ASSIGN:
                UserLicence.objects.filter(user_id=change.user_id, sku_id=change.sku_id).delete()
            else:
                UserLicence.objects.get_or_create(user_id=change.user_id, sku_id=change.sku_id)
        else:
            wait = backoff(change.attempts)
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                wait = max(wait, dt.timedelta(seconds=float(retry_after)))
            values.update(state=OperationState.PENDING, next_attempt_at=clock.now() + wait)
        LicenceChange.objects.filter(pk=change.pk).update(**values)
        if permanent:
            settle_user(change.user_id, failed=True)
    return "failed" if permanent else "retrying"


def due_change_ids(now: dt.datetime, limit: int = 200) -> list[int]:
    due = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    # A change waiting for its user's creation is sent on by the creation.
    changes = LicenceChange.objects.filter(due).exclude(user__vendor_user_id="")
    return list(changes.values_list("pk", flat=True)[:limit])
