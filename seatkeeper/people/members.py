"""Members of a manual vendor (Rainbow): the people of a customer who use its service.

The vendor has no API, so its members live here and every change is done at once (there is
nothing to queue). A member holds at most one service (a plan: an offer of kind "service") and
any number of options; an option that names the plans it attaches to (`Offer.base_offers`) needs
one of them. Each service or option is one seat of one of the customer's subscriptions of that
vendor. Seats follow the same rule as Microsoft licences (`selectors.check_seat_left`): the
subscription is locked while its seats are counted, and no seat left is a refusal naming it.

`member_seats_set` is the one place that changes what a member holds: the single assign and
remove, the member pages, the API and bulk provisioning all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User
from seatkeeper.accounts.permissions import can_read
from seatkeeper.activity.services import activity_record
from seatkeeper.catalog.models import OfferKind, Vendor, VendorKind
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.people.models import Member, MemberSeat
from seatkeeper.people.selectors import SEAT_HOLDING, check_seat_left
from seatkeeper.subscriptions.models import Subscription

MEMBER_ROLES = {Role.CLOUD_ADMIN, Role.PARTNER_OPERATOR, Role.RESELLER_ADMIN, Role.CUSTOMER_ADMIN}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
USER_NAME_RE = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


def can_manage_members(actor: User | None, customer: Organisation) -> bool:
    return actor is None or (
        actor.is_authenticated and can_read(actor, customer) and actor.role in MEMBER_ROLES
    )


def _check(actor: User | None, customer: Organisation, vendor: Vendor) -> None:
    if not can_manage_members(actor, customer):
        raise PermissionRefused(_("You may not change this customer's members."))
    if customer.kind != OrganisationKind.CUSTOMER:
        raise ServiceError(_("Members belong to a customer."))
    if vendor.kind != VendorKind.MANUAL:
        raise ServiceError(
            _("%(vendor)s has its own directory: its users come from the vendor.")
            % {"vendor": vendor.name}
        )


def _actor_name(actor: User | None) -> str:
    return actor.get_full_name() or actor.get_username() if actor else "Seatkeeper"


# --- checks shared with bulk provisioning ------------------------------------------------------


def password_refusal(password: str, values: dict[str, str]) -> str:
    """Why a typed password is refused under the users' policy (`users.password_problems`),
    as one sentence; empty when it is good."""
    from seatkeeper.people.users import password_problems

    problems = password_problems(
        password,
        user_name=values.get("user_name", ""),
        display_name=values.get("display_name", ""),
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
    )
    return (
        (_("Password refused: %(problems)s") % {"problems": " ".join(problems)}) if problems else ""
    )


def member_field_problems(values: dict[str, str], *, creating: bool) -> dict[str, str]:
    """Each wrong field of a member, by name (empty when all are right)."""
    problems: dict[str, str] = {}
    user_name = values.get("user_name", "")
    if not USER_NAME_RE.match(user_name) or len(user_name) > 255:
        problems["user_name"] = _("The user name must be an address such as name@example.com.")
    for name, limit in (("display_name", 256), ("first_name", 64), ("last_name", 64)):
        value = values.get(name, "")
        if CONTROL.search(value) or len(value) > limit:
            problems[name] = _("At most %(n)s characters on one line.") % {"n": limit}
    if not values.get("display_name"):
        problems["display_name"] = _("Give the member's name.")
    email = values.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems["email"] = _("Enter a valid e-mail address.")
    elif creating:
        problems["email"] = _("Give the address the one-time password link is sent to.")
    return problems


def seat_problems(
    subscriptions: Iterable[Subscription], *, member_customer_id: int, vendor_id: int
):
    """Why this set of seats cannot be held together (empty when it can): all of the member's
    customer and vendor, active, at most one service, each option compatible with it."""
    subscriptions = list(subscriptions)
    problems = []
    for subscription in subscriptions:
        if (
            subscription.customer_id != member_customer_id
            or subscription.offer.vendor_id != vendor_id
        ):
            problems.append(
                _("%(subscription)s is not one of this customer's subscriptions of the vendor.")
                % {"subscription": subscription.friendly_name}
            )
        elif subscription.status not in SEAT_HOLDING:
            problems.append(
                _("%(subscription)s is not active: it has no seat to give.")
                % {"subscription": subscription.friendly_name}
            )
    services = [s for s in subscriptions if s.offer.kind == OfferKind.SERVICE]
    if len(services) > 1:
        problems.append(
            _("A member holds one service at most: %(services)s.")
            % {"services": ", ".join(s.friendly_name for s in services)}
        )
    service_offer = services[0].offer_id if len(services) == 1 else None
    for option in subscriptions:
        if option.offer.kind == OfferKind.SERVICE:
            continue
        bases = option.offer.base_offer_ids
        if bases and service_offer not in bases:
            problems.append(
                _("%(option)s needs one of the services it attaches to.")
                % {"option": option.friendly_name}
            )
    return problems


# --- writes ------------------------------------------------------------------------------------


def _set_seats(member: Member, subscriptions: list[Subscription], actor: User | None) -> bool:
    """Make `member` hold exactly `subscriptions`' seats (inside the caller's transaction)."""
    wanted = {s.pk: s for s in subscriptions}
    problems = seat_problems(
        subscriptions, member_customer_id=member.customer_id, vendor_id=member.vendor_id
    )
    if problems:
        raise ServiceError(" ".join(problems), field="subscriptions")
    held = {seat.subscription_id: seat for seat in MemberSeat.objects.filter(member=member)}
    new = sorted(pk for pk in wanted if pk not in held)
    gone = [seat.pk for pk, seat in held.items() if pk not in wanted]
    if gone:
        MemberSeat.objects.filter(pk__in=gone).delete()
    # Locked in id order, so two people filling the same subscriptions queue instead of
    # deadlocking; counted under the lock, so two cannot take the last seat at once.
    for subscription in Subscription.objects.select_for_update().filter(pk__in=new).order_by("pk"):
        held_now = MemberSeat.objects.filter(subscription=subscription).count()
        check_seat_left(subscription, held=held_now, seats=subscription.quantity)
        MemberSeat.objects.create(member=member, subscription=subscription, assigned_at=clock.now())
    if new or gone:
        activity_record(
            actor=actor,
            organisation=member.customer,
            obj=member,
            operation="member.seats",
            details={
                "user_name": member.user_name,
                "subscriptions": [wanted[pk].friendly_name for pk in sorted(wanted)],
            },
        )
    return bool(new or gone)


def member_seats_set(
    *, actor: User | None, member: Member, subscriptions: Iterable[Subscription]
) -> bool:
    """Give `member` exactly these seats (a service and options), all or nothing; True when
    something changed."""
    _check(actor, member.customer, member.vendor)
    with transaction.atomic():
        return _set_seats(member, list(subscriptions), actor)


def member_seat_assign(*, actor: User | None, member: Member, subscription: Subscription) -> None:
    current = [seat.subscription for seat in member.seats.select_related("subscription__offer")]
    if any(s.pk == subscription.pk for s in current):
        raise ServiceError(
            _("%(user)s already holds %(licence)s.")
            % {"user": member.display_name, "licence": subscription.friendly_name}
        )
    if subscription.offer.kind == OfferKind.SERVICE:
        # Changing plan: the service is replaced, the options stay if they still fit.
        current = [s for s in current if s.offer.kind != OfferKind.SERVICE]
    member_seats_set(actor=actor, member=member, subscriptions=[*current, subscription])


def member_seat_remove(*, actor: User | None, seat: MemberSeat) -> None:
    member = seat.member
    rest = [
        s.subscription
        for s in member.seats.select_related("subscription__offer").exclude(pk=seat.pk)
    ]
    if seat.subscription.offer.kind == OfferKind.SERVICE:
        # Options that need the service go with it.
        rest = [s for s in rest if not s.offer.base_offer_ids]
    member_seats_set(actor=actor, member=member, subscriptions=rest)


def _clean(values: dict) -> dict[str, str]:
    return {
        name: str(values.get(name) or "").strip()
        for name in ("user_name", "display_name", "first_name", "last_name", "email")
    }


def member_create(
    *,
    actor: User | None,
    customer: Organisation,
    vendor: Vendor,
    values: dict,
    password: str = "",
    subscriptions: Iterable[Subscription] = (),
) -> Member:
    """Create a member with its seats, all or nothing. Its password (typed and checked
    against the policy, or generated) reaches the address given through a one-time link,
    never in clear."""
    from seatkeeper.people.services import credential_issue
    from seatkeeper.people.users import generate_password

    _check(actor, customer, vendor)
    values = _clean(values)
    values["user_name"] = values["user_name"].lower()
    problems = member_field_problems(values, creating=True)
    if problems:
        field, message = next(iter(problems.items()))
        raise ServiceError(message, field=field)
    refusal = password_refusal(password, values) if password else ""
    if refusal:
        raise ServiceError(refusal, field="password")
    try:
        with transaction.atomic():
            member = Member.objects.create(customer=customer, vendor=vendor, **values)
            _set_seats(member, list(subscriptions), actor)
            credential_issue(
                customer=customer,
                user_name=member.user_name,
                password=password or generate_password(user_name=member.user_name),
                recipient=member.email,
            )
            activity_record(
                actor=actor,
                organisation=customer,
                obj=member,
                operation="member.created",
                details={"user_name": member.user_name, "vendor": vendor.name},
            )
    except IntegrityError:
        raise ServiceError(
            _("The user name %(name)s is taken.") % {"name": values["user_name"]},
            field="user_name",
            code="duplicate",
        ) from None
    return member


MEMBER_FIELDS = ("display_name", "first_name", "last_name", "email")


def member_update(
    *,
    actor: User | None,
    member: Member,
    values: dict,
    subscriptions: Iterable[Subscription] | None = None,
) -> bool:
    """Change a member's names and address (the user name stays), and its seats when given;
    all or nothing. True when something changed."""
    _check(actor, member.customer, member.vendor)
    cleaned = _clean({**values, "user_name": member.user_name})
    wanted = {name: cleaned[name] for name in MEMBER_FIELDS if name in values}
    problems = member_field_problems(
        {
            **{name: getattr(member, name) for name in MEMBER_FIELDS},
            **wanted,
            "user_name": member.user_name,
        },
        creating=False,
    )
    if problems:
        field, message = next(iter(problems.items()))
        raise ServiceError(message, field=field)
    changes = {
        name: [getattr(member, name), value]
        for name, value in wanted.items()
        if getattr(member, name) != value
    }
    with transaction.atomic():
        if changes:
            for name, (_old, new) in changes.items():
                setattr(member, name, new)
            member.save(update_fields=[*changes, "updated_at"])
            activity_record(
                actor=actor,
                organisation=member.customer,
                obj=member,
                operation="member.updated",
                changes=changes,
            )
        seats_changed = subscriptions is not None and _set_seats(member, list(subscriptions), actor)
    return bool(changes) or seats_changed


def member_delete(*, actor: User | None, member: Member) -> None:
    """Remove a member; its seats are free again at once."""
    _check(actor, member.customer, member.vendor)
    with transaction.atomic():
        activity_record(
            actor=actor,
            organisation=member.customer,
            obj=member,
            operation="member.deleted",
            details={"user_name": member.user_name, "vendor": member.vendor.name},
        )
        member.delete()
