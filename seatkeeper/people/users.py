"""Users of a customer's tenant created, edited, deleted, restored or given a new password here,
and the customer's default licence.

Every check that can be made here is made in the request: the user name is on one of the
tenant's domains and not taken, the password meets the policy (`password_problems`, the one
function the form, the API and the live check share), a deleted user is still within
Microsoft's 30 days. The change shows at once, the user marked pending (a sync leaves it alone);
the vendor call is the worker's (`run_user_change`), retried on the subscriptions' schedule, a
user's changes in the order they were made. A change the vendor refuses for good is undone here
and the vendor's answer kept on the change.

Passwords are never shown nor mailed: a password to send waits encrypted on its change and is
erased once the vendor answered; a generated one reaches its user through a one-time link
(`services.credential_issue`) mailed once the vendor accepted it.

The default licence (seed 002's star) is one subscription per customer whose licence every new
user gets, created here (once the vendor made the user) or found by a sync, while seats remain;
when it cannot be given the person who created the user is told on the change (`notice`), and a
user found by a sync has it written in the activity log.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import string
from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.accounts.permissions import can_read
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock, crypto
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.people.licences import OPEN, PEOPLE_ROLES, settle_user
from seatkeeper.people.models import (
    DELETED_USER_KEPT,
    DefaultLicence,
    DirectoryUser,
    LicenceChange,
    LicenceSku,
    UserAction,
    UserChange,
    UserLicence,
    UserStatus,
)
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions.models import OperationState, Subscription, SyncStatus, Tenant
from seatkeeper.subscriptions.provisioning import CLAIM_TIMEOUT, MAX_ATTEMPTS, backoff

logger = logging.getLogger(__name__)

ProviderFactory = Callable[[ProviderAccount], vendor.Provider]
# Microsoft keeps a deleted user this long, then deletes it for good.
RESTORE_WINDOW = DELETED_USER_KEPT
PASSWORD_MIN = 8
PASSWORD_MAX = 256
# Non-word characters Entra accepts in a password.
SYMBOLS = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> "
GENERATED_SYMBOLS = "@#$%^&*-_!+=?"
# The parts of a name a password must not contain (Windows' complexity rule: delimiters split a
# name into parts; parts shorter than three characters are ignored).
NAME_DELIMITERS = re.compile(r"[\s,.\-_#@'\t]+")
ALIAS_RE = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
EDITABLE = ("display_name", "first_name", "last_name", "user_principal_name", "usage_location")


# --- who may --------------------------------------------------------------------------------


def can_manage_users(actor: User | None, customer: Organisation) -> bool:
    """Partner staff, the reseller's admins and the customer's own admins; `actor` None is
    Seatkeeper itself."""
    return actor is None or (
        actor.is_authenticated and can_read(actor, customer) and actor.role in PEOPLE_ROLES
    )


def _check(actor: User | None, customer: Organisation) -> None:
    if not can_manage_users(actor, customer):
        raise PermissionRefused(_("You may not change this customer's users."))


def _actor_name(actor: User | None) -> str:
    return (actor.get_full_name() or actor.get_username()) if actor else "Seatkeeper"


# --- the policy -----------------------------------------------------------------------------


def _name_parts(*names: str) -> set[str]:
    parts: set[str] = set()
    for name in names:
        name = (name or "").strip().lower()
        if not name:
            continue
        for part in NAME_DELIMITERS.split(name):
            if len(part) >= 3:
                parts.add(part)
    return parts


def password_problems(
    password: str,
    *,
    user_name: str = "",
    display_name: str = "",
    first_name: str = "",
    last_name: str = "",
) -> list[str]:
    """Why `password` is refused, each reason a sentence (empty: it is good). The policy of seed
    001: at least 8 characters, upper and lower case letters, digits and non-word characters,
    and no part of the user name or of the full name (parts of three characters or more)."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN:
        problems.append(
            _("At least %(n)s characters (%(count)s so far).")
            % {"n": PASSWORD_MIN, "count": len(password)}
        )
    elif len(password) > PASSWORD_MAX:
        problems.append(_("At most %(n)s characters.") % {"n": PASSWORD_MAX})
    if any(ord(char) > 127 or not char.isprintable() for char in password):
        problems.append(_("Only unaccented letters, digits and the usual symbols."))
    if not any(char in string.ascii_uppercase for char in password):
        problems.append(_("Add an upper case letter."))
    if not any(char in string.ascii_lowercase for char in password):
        problems.append(_("Add a lower case letter."))
    if not any(char in string.digits for char in password):
        problems.append(_("Add a digit."))
    if not any(char in SYMBOLS for char in password):
        problems.append(_("Add a symbol such as ! # $ or &."))
    alias = user_name.partition("@")[0] if "@" in user_name else user_name
    lowered = password.lower()
    for part in sorted(_name_parts(alias, display_name, first_name, last_name)):
        if part in lowered:
            problems.append(
                _("It must not contain “%(part)s”, part of the user's name.") % {"part": part}
            )
            break
    return problems


def generate_password(
    *, user_name: str = "", display_name: str = "", first_name: str = "", last_name: str = ""
) -> str:
    """A random 16-character password that meets `password_problems`."""
    alphabet = string.ascii_letters + string.digits + GENERATED_SYMBOLS
    while True:
        chars = [
            secrets.choice(string.ascii_uppercase),
            secrets.choice(string.ascii_lowercase),
            secrets.choice(string.digits),
            secrets.choice(GENERATED_SYMBOLS),
            *(secrets.choice(alphabet) for _ in range(12)),
        ]
        secrets.SystemRandom().shuffle(chars)
        password = "".join(chars)
        if not password_problems(
            password,
            user_name=user_name,
            display_name=display_name,
            first_name=first_name,
            last_name=last_name,
        ):
            return password


def tenant_of(customer: Organisation) -> Tenant:
    """The customer's tenant its users live in (the first linked); ServiceError without one."""
    tenant = (
        Tenant.objects.select_related("account").filter(customer=customer).order_by("pk").first()
    )
    if tenant is None:
        raise ServiceError(
            _("%(customer)s has no tenant at the vendor yet: create or link its tenant first.")
            % {"customer": customer.name}
        )
    return tenant


def tenant_domains(tenant: Tenant) -> list[str]:
    """The domains users of `tenant` may be named on: its initial domain and every domain its
    users already have (the vendor verified them)."""
    domains = {tenant.domain.lower()} if tenant.domain else set()
    for upn in DirectoryUser.objects.filter(tenant=tenant).values_list(
        "user_principal_name", flat=True
    ):
        _alias, at, domain = upn.rpartition("@")
        if at and domain:
            domains.add(domain.lower())
    return sorted(domains)


def _user_name(tenant: Tenant, text: str, domains: list[str] | None = None) -> str:
    value = (text or "").strip()
    alias, at, domain = value.rpartition("@")
    if not at or not alias or not domain:
        raise ServiceError(
            _("The user name is an alias and one of the tenant's domains: alias@domain."),
            field="user_name",
        )
    if not ALIAS_RE.match(alias) or alias.startswith(".") or alias.endswith("."):
        raise ServiceError(
            _(
                "The part before @ may hold letters, digits and ' . - _ ! # ^ ~, and neither "
                "starts nor ends with a dot."
            ),
            field="user_name",
        )
    if len(alias) > 64 or len(value) > 113:
        raise ServiceError(
            _("The user name is too long: 64 characters before @, 113 in all."),
            field="user_name",
        )
    domains = tenant_domains(tenant) if domains is None else domains
    if domain.lower() not in domains:
        raise ServiceError(
            _("%(domain)s is not a domain of this tenant: use %(domains)s.")
            % {"domain": domain, "domains": ", ".join(domains)},
            field="user_name",
        )
    return f"{alias}@{domain.lower()}"


def _usage_location(text: str) -> str:
    value = (text or "").strip().upper()
    if value and not COUNTRY_RE.match(value):
        raise ServiceError(
            _("The usage location is a two-letter country code, such as FR or GB."),
            field="usage_location",
        )
    return value


def _names(display_name: str, first_name: str, last_name: str) -> dict[str, str]:
    values = {
        "display_name": (display_name or "").strip(),
        "first_name": (first_name or "").strip(),
        "last_name": (last_name or "").strip(),
    }
    if not values["display_name"]:
        raise ServiceError(_("Give the user's display name."), field="display_name")
    if len(values["display_name"]) > 256:
        raise ServiceError(_("At most %(n)s characters.") % {"n": 256}, field="display_name")
    for name in ("first_name", "last_name"):
        if len(values[name]) > 64:
            raise ServiceError(_("At most %(n)s characters.") % {"n": 64}, field=name)
    return values


def _check_password(password: str, *, user_name: str, names: dict[str, str]) -> None:
    problems = password_problems(password, user_name=user_name, **names)
    if problems:
        raise ServiceError(" ".join(problems), field="password", code="password_policy")


def _check_recipient(recipient: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    value = (recipient or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        raise ServiceError(
            _("Give the e-mail address the one-time password link goes to."),
            field="send_password_to",
        ) from None
    return value


def _taken(tenant: Tenant, user_name: str, *, other_than: int | None = None) -> None:
    users = DirectoryUser.objects.filter(tenant=tenant, user_principal_name__iexact=user_name)
    if other_than is not None:
        users = users.exclude(pk=other_than)
    if users.exists():
        raise Conflict(
            _("%(user)s is already a user of this tenant (deleted users keep their name).")
            % {"user": user_name},
            code="user_name_taken",
        )


def _ready(user: DirectoryUser) -> None:
    if not user.vendor_user_id:
        raise Conflict(
            _("%(user)s is still being created at the vendor: try again in a moment.")
            % {"user": user.user_principal_name},
            code="not_created_yet",
        )


def purge_date(user: DirectoryUser) -> dt.datetime | None:
    """When the vendor deletes a deleted user for good (None: the user is not deleted)."""
    return user.purge_at


# --- the default licence --------------------------------------------------------------------


def default_subscription(customer: Organisation) -> Subscription | None:
    """The customer's default licence subscription, if one is marked."""
    row = (
        DefaultLicence.objects.select_related("subscription__offer")
        .filter(customer=customer)
        .first()
    )
    return row.subscription if row else None


def default_licence_set(*, actor: User | None, subscription: Subscription) -> DefaultLicence:
    """Mark `subscription` as its customer's default licence (replacing any other): new users
    get its licence from now on."""
    from seatkeeper.people.selectors import SEAT_HOLDING

    customer = subscription.customer
    _check(actor, customer)
    if subscription.status not in SEAT_HOLDING:
        raise ServiceError(
            _("%(subscription)s is not active: it cannot be the default licence.")
            % {"subscription": subscription.friendly_name}
        )
    if subscription.tenant_id is None:
        raise ServiceError(
            _("%(subscription)s has no licences to give: it is not in a tenant.")
            % {"subscription": subscription.friendly_name}
        )
    with transaction.atomic():
        row, _created = DefaultLicence.objects.update_or_create(
            customer=customer,
            defaults={
                "subscription": subscription,
                "set_by_name": _actor_name(actor),
                "set_at": clock.now(),
            },
        )
        activity_record(
            actor=actor,
            organisation=customer,
            obj=subscription,
            operation="licence.default_set",
            details={"subscription": subscription.friendly_name},
        )
    return row


def default_licence_unset(*, actor: User | None, customer: Organisation) -> None:
    """No default licence any more for `customer`: new users get none."""
    _check(actor, customer)
    with transaction.atomic():
        row = DefaultLicence.objects.select_related("subscription").filter(customer=customer)
        row = row.select_for_update().first()
        if row is None:
            raise ServiceError(_("%(customer)s has no default licence.") % {"customer": customer})
        subscription = row.subscription
        row.delete()
        activity_record(
            actor=actor,
            organisation=customer,
            obj=subscription,
            operation="licence.default_unset",
            details={"subscription": subscription.friendly_name},
        )


def _default_outlook(customer: Organisation, usage_location: str) -> str:
    """What the person creating a user must know about the default licence ("" : it will be
    given, or there is none)."""
    from seatkeeper.people.selectors import SEAT_HOLDING

    subscription = default_subscription(customer)
    if subscription is None:
        return ""
    if not usage_location:
        return _(
            "The default licence %(subscription)s will not be given: the user has no usage "
            "location."
        ) % {"subscription": subscription.friendly_name}
    sku = LicenceSku.objects.filter(
        tenant_id=subscription.tenant_id, product_key=subscription.offer.external_id
    ).first()
    if sku is None:
        return ""  # the worker says so if it is still unknown then
    seats = sum(
        Subscription.objects.filter(
            tenant_id=subscription.tenant_id,
            offer__external_id=subscription.offer.external_id,
            status__in=SEAT_HOLDING,
        ).values_list("quantity", flat=True)
    )
    held = UserLicence.objects.filter(sku=sku, user__status=UserStatus.ACTIVE).count()
    if held >= seats:
        return _(
            "No seat left in %(subscription)s, the default licence: the user will have no "
            "licence until you add seats or take one back."
        ) % {"subscription": subscription.friendly_name}
    return ""


def default_licence_give(user: DirectoryUser) -> str:
    """Give new user `user` the customer's default licence, queued to the vendor; returns why
    it was not given ("" when given, or when there is no default). Never raises a refusal."""
    from seatkeeper.people.licences import licence_assign

    subscription = default_subscription(user.customer)
    if subscription is None or user.status != UserStatus.ACTIVE:
        return ""
    key = subscription.offer.external_id
    if UserLicence.objects.filter(user=user, sku__product_key=key).exists():
        return ""
    try:
        licence_assign(actor=None, user=user, subscription=subscription)
    except ServiceError as error:
        return _("The default licence %(subscription)s was not given: %(reason)s") % {
            "subscription": subscription.friendly_name,
            "reason": error.message,
        }
    return ""


def default_licence_for_found(user: DirectoryUser) -> None:
    """A user a sync found: give it the default licence, or write in the activity log why not."""
    with transaction.atomic():
        reason = default_licence_give(user)
        if reason:
            activity_record(
                actor=None,
                organisation=user.customer,
                obj=user,
                operation="licence.default_missing",
                details={"user_name": user.user_principal_name, "reason": reason},
            )


# --- the services ---------------------------------------------------------------------------


def _record(
    *,
    actor: User | None,
    user: DirectoryUser,
    action: str,
    fields: dict,
    password: str = "",
    recipient: str = "",
    notice: str = "",
    details: dict | None = None,
) -> UserChange:
    """Record the change and its activity, mark the user pending, queue the vendor call; inside
    the caller's transaction."""
    change = UserChange.objects.create(
        customer=user.customer,
        user=user,
        user_principal_name=user.user_principal_name,
        action=action,
        fields=fields,
        secret=crypto.encrypt(password) if password else "",
        credential_recipient=recipient,
        notice=notice,
        requested_by=actor,
        requested_by_name=_actor_name(actor),
    )
    DirectoryUser.objects.filter(pk=user.pk).update(sync_status=SyncStatus.PENDING)
    user.sync_status = SyncStatus.PENDING
    activity_record(
        actor=actor,
        organisation=user.customer,
        obj=user,
        operation=f"user.{action}",
        details={"user_name": user.user_principal_name, **(details or {})},
    )
    from seatkeeper.people.tasks import user_change

    transaction.on_commit(partial(user_change.enqueue, change_id=change.pk))
    return change


def user_create(
    *,
    actor: User | None,
    customer: Organisation,
    display_name: str,
    first_name: str = "",
    last_name: str = "",
    user_name: str,
    usage_location: str = "",
    password: str | None = None,
    send_password_to: str = "",
    send_typed_password: bool = False,
    licences_chosen: bool = False,
) -> UserChange:
    """Create a user in `customer`'s tenant: `user_name` is alias@domain on one of the tenant's
    domains (`tenant_domains`). With `password` None a password is generated and its one-time
    link mailed to `send_password_to` once the vendor made the user; a typed `password` must meet
    `password_problems` (and with `send_typed_password` goes through the same link when an
    address is given). The user shows at once, pending; the change's `notice` says when the
    default licence will not be given. `licences_chosen`: the caller gives the user its licences
    (a bulk file's licences column), so the default licence is not added to them.
    ServiceError (400), Conflict (409: name taken), PermissionRefused (403)."""
    _check(actor, customer)
    tenant = tenant_of(customer)
    names = _names(display_name, first_name, last_name)
    upn = _user_name(tenant, user_name)
    location = _usage_location(usage_location)
    recipient = ""
    if password is None or password == "":
        recipient = _check_recipient(send_password_to)
        password = generate_password(user_name=upn, **names)
    else:
        _check_password(password, user_name=upn, names=names)
        if send_typed_password and (send_password_to or "").strip():
            recipient = _check_recipient(send_password_to)
    fields = {**names, "user_principal_name": upn, "usage_location": location}
    if licences_chosen:
        fields["licences_chosen"] = True
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # one creation at a time
        _taken(tenant, upn)
        user = DirectoryUser.objects.create(
            tenant=tenant,
            customer=customer,
            vendor_user_id="",
            user_principal_name=upn,
            usage_location=location,
            status=UserStatus.ACTIVE,
            sync_status=SyncStatus.PENDING,
            **names,
        )
        change = _record(
            actor=actor,
            user=user,
            action=UserAction.CREATE,
            fields=fields,
            password=password,
            recipient=recipient,
            notice="" if licences_chosen else _default_outlook(customer, location),
        )
    return change


def user_update(
    *,
    actor: User | None,
    user: DirectoryUser,
    display_name: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    user_name: str | None = None,
    usage_location: str | None = None,
) -> UserChange:
    """Edit `user`'s names, user name or usage location (None: left as it is). Shown at once;
    put back if the vendor refuses for good. ServiceError with code "unchanged" when nothing
    differs; Conflict when the user is deleted, not yet created or the name is taken."""
    _check(actor, user.customer)
    if user.status != UserStatus.ACTIVE:
        raise Conflict(
            _("%(user)s is deleted: restore the user first.") % {"user": user.user_principal_name}
        )
    _ready(user)
    names = _names(
        user.display_name if display_name is None else display_name,
        user.first_name if first_name is None else first_name,
        user.last_name if last_name is None else last_name,
    )
    wanted = {
        **names,
        "user_principal_name": user.user_principal_name
        if user_name is None or user_name.strip().lower() == user.user_principal_name.lower()
        else _user_name(user.tenant, user_name),
        "usage_location": user.usage_location
        if usage_location is None
        else _usage_location(usage_location),
    }
    if user.usage_location and not wanted["usage_location"] and user.licences.exists():
        raise ServiceError(
            _("A user holding licences keeps a usage location."), field="usage_location"
        )
    with transaction.atomic():
        current = DirectoryUser.objects.select_for_update().get(pk=user.pk)
        before = {name: getattr(current, name) for name in EDITABLE}
        after = {name: value for name, value in wanted.items() if before[name] != value}
        if not after:
            raise ServiceError(_("Nothing to change."), code="unchanged")
        if "user_principal_name" in after:
            Tenant.objects.select_for_update().filter(pk=user.tenant_id).first()
            _taken(user.tenant, after["user_principal_name"], other_than=user.pk)
        for name, value in after.items():
            setattr(current, name, value)
        current.updated_at = clock.now()
        current.save(update_fields=[*after, "updated_at"])
        change = _record(
            actor=actor,
            user=current,
            action=UserAction.UPDATE,
            fields={"before": {name: before[name] for name in after}, "after": after},
            details={"changed": sorted(after)},
        )
    for name in EDITABLE:
        setattr(user, name, getattr(current, name))
    user.sync_status = current.sync_status
    return change


def user_delete(*, actor: User | None, user: DirectoryUser) -> UserChange:
    """Delete `user`: its licences are freed; Microsoft keeps it 30 days (`purge_date`) during
    which it can be restored. Conflict when already deleted or not yet created."""
    _check(actor, user.customer)
    _ready(user)
    with transaction.atomic():
        current = DirectoryUser.objects.select_for_update().get(pk=user.pk)
        if current.status == UserStatus.DELETED:
            raise Conflict(
                _("%(user)s is already deleted.") % {"user": current.user_principal_name}
            )
        held = list(UserLicence.objects.filter(user=current).values_list("sku_id", flat=True))
        UserLicence.objects.filter(user=current).delete()
        current.status, current.deleted_at = UserStatus.DELETED, clock.now()
        current.updated_at = current.deleted_at
        current.save(update_fields=["status", "deleted_at", "updated_at"])
        change = _record(
            actor=actor, user=current, action=UserAction.DELETE, fields={"licences": held}
        )
    user.status, user.deleted_at, user.sync_status = (
        current.status,
        current.deleted_at,
        current.sync_status,
    )
    return change


def user_restore(*, actor: User | None, user: DirectoryUser) -> UserChange:
    """Restore deleted `user` within Microsoft's 30 days; its licences come back as the vendor
    kept them. Conflict when active, or past the 30 days."""
    _check(actor, user.customer)
    _ready(user)
    with transaction.atomic():
        current = DirectoryUser.objects.select_for_update().get(pk=user.pk)
        if current.status != UserStatus.DELETED:
            raise Conflict(_("%(user)s is not deleted.") % {"user": current.user_principal_name})
        gone = purge_date(current)
        if gone is not None and gone <= clock.now():
            raise Conflict(
                _("%(user)s was deleted for good on %(date)s: it cannot be restored.")
                % {"user": current.user_principal_name, "date": gone.date().isoformat()},
                code="purged",
            )
        _taken(current.tenant, current.user_principal_name, other_than=current.pk)
        deleted_at = current.deleted_at
        current.status, current.deleted_at = UserStatus.ACTIVE, None
        current.updated_at = clock.now()
        current.save(update_fields=["status", "deleted_at", "updated_at"])
        change = _record(
            actor=actor,
            user=current,
            action=UserAction.RESTORE,
            fields={"deleted_at": deleted_at.isoformat() if deleted_at else None},
        )
    user.status, user.deleted_at, user.sync_status = (
        current.status,
        current.deleted_at,
        current.sync_status,
    )
    return change


def user_password_reset(
    *,
    actor: User | None,
    user: DirectoryUser,
    send_password_to: str = "",
    password: str | None = None,
) -> UserChange:
    """Give `user` a new password, which it must change at its next sign-in: generated and
    delivered through a one-time link mailed to `send_password_to` (once the vendor accepted it),
    or typed and checked against `password_problems`."""
    _check(actor, user.customer)
    if user.status != UserStatus.ACTIVE:
        raise Conflict(
            _("%(user)s is deleted: restore the user first.") % {"user": user.user_principal_name}
        )
    _ready(user)
    names = {name: getattr(user, name) for name in ("display_name", "first_name", "last_name")}
    recipient = ""
    if password is None or password == "":
        recipient = _check_recipient(send_password_to)
        password = generate_password(user_name=user.user_principal_name, **names)
    else:
        _check_password(password, user_name=user.user_principal_name, names=names)
    with transaction.atomic():
        change = _record(
            actor=actor,
            user=user,
            action=UserAction.PASSWORD,
            fields={},
            password=password,
            recipient=recipient,
            details={"sent_to": recipient} if recipient else None,
        )
    return change


# --- the worker -----------------------------------------------------------------------------


def _send(change: UserChange, user: DirectoryUser, provider: vendor.Provider) -> dict:
    """The vendor call of `change`; returns what the worker keeps of the answer."""
    customer_id = user.tenant.vendor_customer_id
    if change.action == UserAction.CREATE:
        fields = change.fields
        created = provider.create_user(
            customer_id=customer_id,
            user=vendor.NewTenantUser(
                user_principal_name=fields["user_principal_name"],
                display_name=fields["display_name"],
                first_name=fields["first_name"],
                last_name=fields["last_name"],
                usage_location=fields["usage_location"],
                password=crypto.decrypt(change.secret),
            ),
            request_key=str(change.request_key),
        )
        return {"vendor_user_id": created.id}
    if change.action == UserAction.UPDATE:
        provider.update_user(
            customer_id=customer_id,
            user_id=user.vendor_user_id,
            change=vendor.TenantUserUpdate(**change.fields["after"]),
        )
        return {}
    if change.action == UserAction.PASSWORD:
        provider.update_user(
            customer_id=customer_id,
            user_id=user.vendor_user_id,
            change=vendor.TenantUserUpdate(password=crypto.decrypt(change.secret)),
        )
        return {}
    if change.action == UserAction.DELETE:
        provider.delete_user(customer_id=customer_id, user_id=user.vendor_user_id)
        return {}
    provider.restore_user(customer_id=customer_id, user_id=user.vendor_user_id)
    held = provider.list_user_licences(customer_id=customer_id, user_id=user.vendor_user_id)
    return {"licences": sorted({licence.sku_id.lower() for licence in held})}


def run_user_change(change_id: int, *, provider_factory: ProviderFactory | None = None) -> str:
    """Send one user change to the vendor; returns done, retrying, failed, waiting (an earlier
    change of the user goes first) or busy."""
    now = clock.now()
    earlier = UserChange.objects.filter(
        user_id__in=UserChange.objects.filter(pk=change_id).values("user_id"),
        pk__lt=change_id,
        state__in=OPEN,
    )
    if earlier.exists():
        return "waiting"
    claimable = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    won = UserChange.objects.filter(claimable, pk=change_id, user__isnull=False).update(
        state=OperationState.RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not won:
        return "busy"
    change = UserChange.objects.select_related(
        "user__tenant__account", "user__customer", "customer"
    ).get(pk=change_id)
    user = change.user
    try:
        with (provider_factory or get_provider)(user.tenant.account) as provider:
            answer = _send(change, user, provider)
    except ProviderError as error:
        return _failed(change, error)
    except Exception as error:  # a bug or an outage must not lose the change
        logger.exception("user change %s failed unexpectedly", change_id)
        return _failed(change, ProviderError(str(error) or type(error).__name__, retryable=True))
    _done(change, user, answer)
    return "done"


def _done(change: UserChange, user: DirectoryUser, answer: dict) -> None:
    from seatkeeper.people.services import credential_issue

    with transaction.atomic():
        notice = change.notice
        if change.action == UserAction.CREATE:
            DirectoryUser.objects.filter(pk=user.pk).update(
                vendor_user_id=answer["vendor_user_id"], synced_at=clock.now()
            )
            user.vendor_user_id = answer["vendor_user_id"]
        if change.action == UserAction.RESTORE:
            skus = LicenceSku.objects.filter(
                tenant_id=user.tenant_id, sku_id__in=answer["licences"]
            )
            UserLicence.objects.filter(user=user).delete()
            UserLicence.objects.bulk_create(UserLicence(user=user, sku=sku) for sku in skus)
        if change.credential_recipient and change.secret:
            credential_issue(
                customer=user.customer,
                user_name=user.user_principal_name,
                password=crypto.decrypt(change.secret),
                recipient=change.credential_recipient,
            )
        UserChange.objects.filter(pk=change.pk).update(
            state=OperationState.DONE,
            done_at=clock.now(),
            claimed_at=None,
            secret="",
            error_code="",
            error_message="",
        )
        if change.action == UserAction.CREATE and not change.fields.get("licences_chosen"):
            reason = default_licence_give(user)
            if reason:
                notice = reason
                UserChange.objects.filter(pk=change.pk).update(notice=notice)
                activity_record(
                    actor=None,
                    organisation=user.customer,
                    obj=user,
                    operation="licence.default_missing",
                    details={
                        "user_name": user.user_principal_name,
                        "reason": reason,
                        "created_by": change.requested_by_name,
                    },
                )
        settle_user(user.pk, failed=False)
    from seatkeeper.people.tasks import user_change

    following = (
        UserChange.objects.filter(user_id=user.pk, state=OperationState.PENDING, pk__gt=change.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        user_change.enqueue(change_id=following)
    if change.action == UserAction.CREATE:
        # Licences given with the user waited for the vendor to make it.
        from seatkeeper.people.tasks import licence_change

        waiting = LicenceChange.objects.filter(user_id=user.pk, state=OperationState.PENDING)
        for change_id in waiting.order_by("pk").values_list("pk", flat=True):
            licence_change.enqueue(change_id=change_id)


def _undo(change: UserChange, user: DirectoryUser) -> None:
    """Put the user back as the vendor has it after a change it refused for good."""
    if change.action == UserAction.CREATE:
        # The vendor never made the user: nothing of it stays but this change.
        user.delete()
    elif change.action == UserAction.UPDATE:
        before = change.fields.get("before", {})
        DirectoryUser.objects.filter(pk=user.pk).update(**before, updated_at=clock.now())
    elif change.action == UserAction.DELETE:
        DirectoryUser.objects.filter(pk=user.pk).update(
            status=UserStatus.ACTIVE, deleted_at=None, updated_at=clock.now()
        )
        skus = LicenceSku.objects.filter(pk__in=change.fields.get("licences", []))
        UserLicence.objects.bulk_create(
            (UserLicence(user=user, sku=sku) for sku in skus), ignore_conflicts=True
        )
    elif change.action == UserAction.RESTORE:
        deleted_at = change.fields.get("deleted_at")
        DirectoryUser.objects.filter(pk=user.pk).update(
            status=UserStatus.DELETED,
            deleted_at=dt.datetime.fromisoformat(deleted_at) if deleted_at else clock.now(),
            updated_at=clock.now(),
        )


def _failed(change: UserChange, error: ProviderError) -> str:
    code = (error.code or (str(error.http_status) if error.http_status else "error"))[:40]
    permanent = not error.retryable or change.attempts >= MAX_ATTEMPTS
    values = {"error_code": code, "error_message": error.message, "claimed_at": None}
    user = change.user
    with transaction.atomic():
        if permanent:
            values.update(state=OperationState.FAILED, secret="")
            UserChange.objects.filter(pk=change.pk).update(**values)
            activity_record(
                actor=None,
                organisation=change.customer,
                obj=user,
                operation=f"user.{change.action}_failed",
                details={
                    "user_name": change.user_principal_name,
                    "error": error.message,
                    "requested_by": change.requested_by_name,
                },
            )
            _undo(change, user)
            if change.action != UserAction.CREATE:
                settle_user(user.pk, failed=True)
        else:
            wait = backoff(change.attempts)
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                wait = max(wait, dt.timedelta(seconds=float(retry_after)))
            values.update(state=OperationState.PENDING, next_attempt_at=clock.now() + wait)
            UserChange.objects.filter(pk=change.pk).update(**values)
    return "failed" if permanent else "retrying"


def due_user_change_ids(now: dt.datetime, limit: int = 200) -> list[int]:
    """Changes whose retry fell due, and those abandoned by a worker that died."""
    due = Q(state=OperationState.PENDING, next_attempt_at__lte=now) | Q(
        state=OperationState.RUNNING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    return list(UserChange.objects.filter(due).values_list("pk", flat=True)[:limit])
