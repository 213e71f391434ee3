"""Bulk work on people: a licence given to (or taken from) many users at once, the users and
members exports, and bulk provisioning of a manual vendor's members from a CSV or XLSX file.

Bulk provisioning (seed 002) has two steps. The preview reads the file line by line (never the
whole file at once: a CSV through a text reader, an XLSX through openpyxl's read-only sheet)
and stores each line with what it will do, create, update, delete or nothing, or why it cannot
(unknown subscription, no seat left, bad password, duplicate user name...); the seats the
earlier lines take or free are counted as the file goes, so the preview says what the apply
will meet. The apply goes through the stored lines in order, plans each line again against the
database as it is then, and applies it in its own transaction through `members` (so a line is
done completely or not at all, and a refused line leaves nothing behind). The result lists each
line's outcome. A line asks for a state, not for a change, so the same file applied twice
changes nothing the second time: a password in the file is only used to create a member.

File columns: user_name, display_name, first_name, last_name, email, password, service,
options (separated by "|"), action ("delete", or empty to create or update). A service or an
option names one of the customer's subscriptions of the vendor by its name or its item code.

The users of a customer's Microsoft tenant (seed 001) are imported the same way, with a second
planner (`DirectoryPlanner`, an import of kind "users") and the users' own services: columns
user_name, display_name, first_name, last_name, usage_location, licences (SKU names, part
numbers or subscription ids, separated by ";"), status and last_sync (written by the export,
read only to leave a deleted user alone), password, send_password_to, action ("create",
"update", "delete", or empty to create or update). The users export writes these columns, so
importing it changes nothing. An empty name or usage location keeps what the user has; a file
without the licences column leaves licences alone, with it a line says every licence the user
holds. A password (or, without one, a generated password) is only used to create a user and
reaches `send_password_to` through a one-time link once the vendor made the user; a new user's
licences wait for that creation.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.catalog.models import OfferKind, Vendor
from seatkeeper.core import clock, crypto
from seatkeeper.core.errors import Conflict, ServiceError
from seatkeeper.core.spreadsheet import safe_cell, safe_workbook_cell
from seatkeeper.people import licences, members
from seatkeeper.people import users as user_services
from seatkeeper.people.models import (
    DirectoryUser,
    ImportAction,
    ImportKind,
    LicenceSku,
    Member,
    MemberImport,
    MemberImportLine,
    MemberSeat,
    UserLicence,
    UserStatus,
)
from seatkeeper.people.selectors import SEAT_HOLDING
from seatkeeper.subscriptions.models import Subscription

MEMBER_COLUMNS = (
    "user_name",
    "display_name",
    "first_name",
    "last_name",
    "email",
    "password",
    "service",
    "options",
    "action",
)
USER_COLUMNS = (
    "user_name",
    "display_name",
    "first_name",
    "last_name",
    "usage_location",
    "licences",
    "status",
    "last_sync",
    "password",
    "send_password_to",
    "action",
)
USER_ACTIONS = ("", "create", "update", "delete")
LICENCE_SEPARATOR = ";"
REQUIRED_COLUMNS = {"user_name"}
MAX_CELL = 1000
MAX_LINES = 50_000
BATCH = 500


# --- reading a file, line by line -----------------------------------------------------------


def _xlsx_rows(stream: IO[bytes]) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise ServiceError(_("This file is not an XLSX workbook."), field="file") from None
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield ["" if cell is None else str(cell) for cell in row]
    finally:
        workbook.close()


def _csv_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    # Decoded as it is read: a line at a time, quoted line breaks kept.
    reader = csv.reader(codecs.iterdecode(stream, "utf-8-sig"))
    try:
        yield from reader
    except UnicodeDecodeError:
        raise ServiceError(_("The file is not UTF-8 text."), field="file") from None
    except csv.Error as error:
        raise ServiceError(
            _("Line %(number)s cannot be read: %(error)s")
            % {"number": reader.line_num, "error": error},
            field="file",
        ) from None


def file_lines(file_name: str, stream: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, values by column) of a CSV or XLSX bulk file, one line at a time."""
    is_xlsx = file_name.lower().endswith(".xlsx")
    rows = _xlsx_rows(stream) if is_xlsx else _csv_rows(stream)
    header = next(rows, None)
    if header is None:
        raise ServiceError(_("The file is empty."), field="file")
    names = [str(name).strip().lower() for name in header]
    missing = REQUIRED_COLUMNS - set(names)
    if missing:
        raise ServiceError(
            _("The file needs the columns: %(columns)s.") % {"columns": ", ".join(sorted(missing))},
            field="file",
        )
    for number, row in enumerate(rows, start=2):
        if not any(str(cell).strip() for cell in row):
            continue
        if number > MAX_LINES + 1:
            raise ServiceError(
                _("The file has more than %(n)s lines: split it.") % {"n": MAX_LINES},
                field="file",
            )
        values = {name: str(value).strip() for name, value in zip(names, row, strict=False) if name}
        if any("\x00" in value for value in values.values()):
            # No database keeps a NUL in text: refused here rather than failing later.
            raise ServiceError(
                _("Line %(number)s holds a NUL character: save the file as text.")
                % {"number": number},
                field="file",
            )
        yield number, values


# --- planning one line -------------------------------------------------------------------------


@dataclass
class Plan:
    action: str
    message: str = ""
    values: dict[str, str] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    # Refused only for want of a seat: worth planning again once later lines freed some.
    waits_for_seat: bool = False
    # Directory users: the user the line changes, and the licences (pks) it takes back.
    user: DirectoryUser | None = None
    remove: list[int] = field(default_factory=list)


class Planner:
    """Plans lines against the database, counting the seats earlier lines take and free."""

    def __init__(self, customer: Organisation, vendor: Vendor) -> None:
        self.customer, self.vendor = customer, vendor
        subscriptions = list(
            Subscription.objects.filter(
                customer=customer,
                offer__vendor=vendor,
                tenant__isnull=True,
                status__in=SEAT_HOLDING,
            )
            .select_related("offer")
            .prefetch_related("offer__base_offers")
            .order_by("start_date", "pk")
        )
        self.by_pk = {s.pk: s for s in subscriptions}
        self.by_reference: dict[str, list[Subscription]] = {}
        for subscription in subscriptions:
            for reference in {
                subscription.friendly_name.strip().lower(),
                subscription.offer.item_code.strip().lower(),
            }:
                if reference:
                    self.by_reference.setdefault(reference, []).append(subscription)
        self.held = dict(
            MemberSeat.objects.filter(subscription_id__in=self.by_pk)
            .values("subscription_id")
            .annotate(n=Count("pk"))
            .values_list("subscription_id", "n")
        )
        self.seen: set[str] = set()

    def _pick(self, reference: str, current: set[int]) -> Subscription | None:
        found = self.by_reference.get(reference.strip().lower(), [])
        for subscription in found:
            if subscription.pk in current:
                return subscription
        for subscription in found:
            if self.held.get(subscription.pk, 0) < subscription.quantity:
                return subscription
        return found[0] if found else None

    def plan(self, values: dict[str, str], password: str, *, again: bool = False) -> Plan:
        user_name = values.get("user_name", "").lower()
        action = values.get("action", "").lower()
        if user_name in self.seen and not again:
            return Plan(
                ImportAction.ERROR,
                _("The user name %(name)s is already on an earlier line.") % {"name": user_name},
            )
        self.seen.add(user_name)
        if action not in ("", "delete"):
            return Plan(ImportAction.ERROR, _('action must be empty or "delete".'))
        member = (
            Member.objects.filter(vendor=self.vendor, user_name=user_name)
            .prefetch_related("seats")
            .first()
        )
        if member is not None and member.customer_id != self.customer.pk:
            return Plan(
                ImportAction.ERROR,
                _("The user name %(name)s is taken.") % {"name": user_name},
            )
        current = {seat.subscription_id for seat in member.seats.all()} if member else set()
        if action == "delete":
            if member is None:
                return Plan(ImportAction.NONE, _("No such member: nothing to delete."))
            for pk in current:
                self.held[pk] = self.held.get(pk, 0) - 1
            return Plan(ImportAction.DELETE)
        return self._plan_upsert(user_name, values, password, member, current)

    def _plan_upsert(self, user_name, values, password, member, current) -> Plan:
        fields = {
            "user_name": user_name,
            **{name: values.get(name, "") for name in ("first_name", "last_name", "email")},
        }
        fields["display_name"] = (
            values.get("display_name")
            or f"{fields['first_name']} {fields['last_name']}".strip()
            or (member.display_name if member else "")
        )
        if member is not None:
            # An empty cell keeps what the member has.
            for name in members.MEMBER_FIELDS:
                fields[name] = fields[name] or getattr(member, name)
        problems = members.member_field_problems(fields, creating=member is None)
        errors = list(problems.values())
        if member is None and password:
            refusal = members.password_refusal(password, fields)
            if refusal:
                errors.append(refusal)
        wanted: list[Subscription] = []
        references = [values.get("service", ""), *values.get("options", "").split("|")]
        for reference in filter(None, (r.strip() for r in references)):
            subscription = self._pick(reference, current)
            if subscription is None:
                errors.append(_("Unknown subscription: %(name)s.") % {"name": reference})
            elif subscription not in wanted:
                wanted.append(subscription)
        service = values.get("service", "").strip()
        if service and wanted and wanted[0].offer.kind != OfferKind.SERVICE:
            errors.append(_("%(name)s is not a service.") % {"name": service})
        if not errors:
            errors += members.seat_problems(
                wanted, member_customer_id=self.customer.pk, vendor_id=self.vendor.pk
            )
        new = [s for s in wanted if s.pk not in current]
        if errors:
            return Plan(ImportAction.ERROR, " ".join(errors))
        for subscription in new:
            held = self.held.get(subscription.pk, 0)
            if held >= subscription.quantity:
                message = _(
                    "No seat left in %(subscription)s: %(held)s of %(seats)s are assigned."
                ) % {
                    "subscription": subscription.friendly_name,
                    "held": held,
                    "seats": subscription.quantity,
                }
                return Plan(ImportAction.ERROR, message, waits_for_seat=True)
        wanted_pks = {s.pk for s in wanted}
        for subscription in new:
            self.held[subscription.pk] = self.held.get(subscription.pk, 0) + 1
        for pk in current - wanted_pks:
            self.held[pk] = self.held.get(pk, 0) - 1
        names = ", ".join(s.friendly_name for s in wanted) or _("no service")
        if member is None:
            return Plan(ImportAction.CREATE, names, fields, wanted)
        changed = [name for name in members.MEMBER_FIELDS if getattr(member, name) != fields[name]]
        if not changed and wanted_pks == current:
            return Plan(ImportAction.NONE, "", fields, wanted)
        return Plan(ImportAction.UPDATE, names, fields, wanted)


def _sku_references(sku: LicenceSku) -> set[str]:
    return {ref.strip().lower() for ref in (sku.name, sku.part_number, sku.sku_id) if ref.strip()}


class DirectoryPlanner:
    """Plans the lines of a users file against the customer's tenant, counting the seats of
    each licence pool (a SKU, shared by the customer's subscriptions of its product) that
    earlier lines take and free."""

    NAMES = ("display_name", "first_name", "last_name", "usage_location")

    def __init__(self, customer: Organisation) -> None:
        self.customer = customer
        self.tenant = user_services.tenant_of(customer)
        self.domains = user_services.tenant_domains(self.tenant)
        skus = list(LicenceSku.objects.filter(tenant=self.tenant).order_by("pk"))
        by_product = {sku.product_key: sku for sku in reversed(skus) if sku.product_key}
        # A reference in the licences column: the SKU, and the subscription it names (if any).
        self.by_reference: dict[str, tuple[LicenceSku, Subscription | None]] = {}
        for sku in skus:
            for reference in _sku_references(sku):
                self.by_reference.setdefault(reference, (sku, None))
        self.seats: dict[int, int] = {}
        # The subscription a licence of each pool is given from: the oldest.
        self.giver: dict[int, Subscription] = {}
        subscriptions = (
            Subscription.objects.filter(
                customer=customer, tenant=self.tenant, status__in=SEAT_HOLDING
            )
            .select_related("offer")
            .order_by("start_date", "pk")
        )
        for subscription in subscriptions:
            sku = by_product.get(subscription.offer.external_id)
            if sku is None:
                continue
            self.seats[sku.pk] = self.seats.get(sku.pk, 0) + subscription.quantity
            self.giver.setdefault(sku.pk, subscription)
            for reference in (str(subscription.pk), subscription.vendor_subscription_id):
                if reference.strip():
                    self.by_reference.setdefault(reference.strip().lower(), (sku, subscription))
        self.held = dict(
            UserLicence.objects.filter(sku__tenant=self.tenant, user__status=UserStatus.ACTIVE)
            .values("sku_id")
            .annotate(n=Count("pk"))
            .values_list("sku_id", "n")
        )
        self.seen: set[str] = set()

    def plan(self, values: dict[str, str], password: str, *, again: bool = False) -> Plan:
        user_name = values.get("user_name", "").strip()
        key = user_name.lower()
        action = values.get("action", "").strip().lower()
        if key in self.seen and not again:
            return Plan(
                ImportAction.ERROR,
                _("The user name %(name)s is already on an earlier line.") % {"name": user_name},
            )
        self.seen.add(key)
        if action not in USER_ACTIONS:
            return Plan(
                ImportAction.ERROR, _('action must be empty, "create", "update" or "delete".')
            )
        user = (
            DirectoryUser.objects.filter(tenant=self.tenant, user_principal_name__iexact=user_name)
            .prefetch_related("licences__sku")
            .order_by("status", "pk")  # active before deleted
            .first()
            if user_name
            else None
        )
        if action == "delete":
            if user is None or user.status == UserStatus.DELETED:
                return Plan(ImportAction.NONE, _("No such user: nothing to delete."))
            if not user.vendor_user_id:
                return Plan(ImportAction.ERROR, _being_created(user))
            for licence in user.licences.all():
                self.held[licence.sku_id] = self.held.get(licence.sku_id, 0) - 1
            return Plan(ImportAction.DELETE, user=user)
        if user is not None and user.status == UserStatus.DELETED:
            if values.get("status", "").strip().lower() == UserStatus.DELETED:
                return Plan(ImportAction.NONE, _("Deleted: restore the user from its page."))
            return Plan(
                ImportAction.ERROR,
                _("%(user)s is deleted: restore the user first.")
                % {"user": user.user_principal_name},
            )
        if user is None and action == "update":
            return Plan(ImportAction.ERROR, _("No such user: %(name)s.") % {"name": user_name})
        return self._plan_upsert(user_name, action, values, password, user)

    def _fields(self, user_name, values, password, user, errors: list[str]) -> dict[str, str]:
        """The user's fields the line asks for (an empty cell keeps what the user has)."""
        first = values.get("first_name", "") or (user.first_name if user else "")
        last = values.get("last_name", "") or (user.last_name if user else "")
        display = values.get("display_name", "") or (
            user.display_name if user else f"{first} {last}".strip()
        )
        fields = {"display_name": display, "first_name": first, "last_name": last}
        try:
            fields = user_services._names(display, first, last)
        except ServiceError as error:
            errors.append(error.message)
        try:
            location = user_services._usage_location(values.get("usage_location", ""))
        except ServiceError as error:
            errors.append(error.message)
            location = ""
        fields["usage_location"] = location or (user.usage_location if user else "")
        fields["send_password_to"] = values.get("send_password_to", "")
        if user is not None:
            fields["user_name"] = user.user_principal_name
            return fields
        try:
            fields["user_name"] = user_services._user_name(self.tenant, user_name, self.domains)
        except ServiceError as error:
            errors.append(error.message)
            fields["user_name"] = user_name
        if password:
            refusal = members.password_refusal(password, fields)
            if refusal:
                errors.append(refusal)
        if not password or fields["send_password_to"]:
            try:
                user_services._check_recipient(fields["send_password_to"])
            except ServiceError as error:
                errors.append(error.message)
        return fields

    def _licences(self, values, user, errors: list[str]):
        """(licences to give as (SKU pk, subscription), licences to take back)."""
        current = {licence.sku_id: licence for licence in user.licences.all()} if user else {}
        if "licences" not in values:
            return [], []
        wanted: dict[int, Subscription | None] = {}
        references = values["licences"].split(LICENCE_SEPARATOR)
        for reference in filter(None, (r.strip() for r in references)):
            lowered = reference.lower()
            held = next(
                (pk for pk, licence in current.items() if lowered in _sku_references(licence.sku)),
                None,
            )
            found = self.by_reference.get(lowered)
            if held is None and found is not None and found[0].pk in current:
                held = found[0].pk
            if held is not None:
                wanted[held] = None
                continue
            if found is None:
                errors.append(_("Unknown licence: %(name)s.") % {"name": reference})
                continue
            sku, subscription = found
            subscription = subscription or self.giver.get(sku.pk)
            if subscription is None:
                errors.append(
                    _("No active subscription of this customer gives %(licence)s.")
                    % {"licence": sku}
                )
                continue
            wanted.setdefault(sku.pk, subscription)
        give = [(pk, subscription) for pk, subscription in wanted.items() if pk not in current]
        take_back = [licence for pk, licence in current.items() if pk not in wanted]
        return give, take_back

    def _plan_upsert(self, user_name, action, values, password, user) -> Plan:
        errors: list[str] = []
        fields = self._fields(user_name, values, password, user, errors)
        give, take_back = self._licences(values, user, errors)
        if give and not fields["usage_location"]:
            errors.append(
                _(
                    "%(user)s has no usage location: Microsoft gives no licence without one. "
                    "Set it first."
                )
                % {"user": fields["display_name"] or user_name}
            )
        if errors:
            return Plan(ImportAction.ERROR, " ".join(errors))
        changed = (
            [name for name in self.NAMES if getattr(user, name) != fields[name]] if user else []
        )
        if user is not None:
            if not changed and not give and not take_back:
                return Plan(ImportAction.NONE, "", fields, user=user)
            if action == "create":
                return Plan(
                    ImportAction.ERROR,
                    _("%(user)s is already a user of this tenant (deleted users keep their name).")
                    % {"user": user.user_principal_name},
                )
            if not user.vendor_user_id:
                return Plan(ImportAction.ERROR, _being_created(user))
        for pk, subscription in give:
            held, seats = self.held.get(pk, 0), self.seats.get(pk, 0)
            if held >= seats:
                message = _(
                    "No seat left in %(subscription)s: %(held)s of %(seats)s are assigned."
                ) % {"subscription": subscription.friendly_name, "held": held, "seats": seats}
                return Plan(ImportAction.ERROR, message, waits_for_seat=True)
        for pk, _subscription in give:
            self.held[pk] = self.held.get(pk, 0) + 1
        for licence in take_back:
            self.held[licence.sku_id] = self.held.get(licence.sku_id, 0) - 1
        given = [subscription for _pk, subscription in give]
        removed = [licence.pk for licence in take_back]
        parts = [str(DirectoryUser._meta.get_field(name).verbose_name) for name in changed]
        parts += [f"+ {subscription.friendly_name}" for subscription in given]
        parts += [f"− {licence.sku}" for licence in take_back]
        if user is None:
            message = ", ".join(parts) or _("no licence")
            return Plan(ImportAction.CREATE, message, fields, given)
        return Plan(ImportAction.UPDATE, ", ".join(parts), fields, given, user=user, remove=removed)


def _being_created(user: DirectoryUser) -> str:
    return _("%(user)s is still being created at the vendor: try again in a moment.") % {
        "user": user.user_principal_name
    }


# --- preview and apply ---------------------------------------------------------------------------


def _check(actor: User | None, customer: Organisation, vendor: Vendor) -> None:
    members._check(actor, customer, vendor)


def _check_import(actor: User | None, member_import: MemberImport) -> None:
    if member_import.kind == ImportKind.USERS:
        user_services._check(actor, member_import.customer)
    else:
        _check(actor, member_import.customer, member_import.vendor)


def _planner(member_import: MemberImport) -> Planner | DirectoryPlanner:
    if member_import.kind == ImportKind.USERS:
        return DirectoryPlanner(member_import.customer)
    return Planner(member_import.customer, member_import.vendor)


def member_import_preview(
    *,
    actor: User | None,
    customer: Organisation,
    vendor: Vendor,
    file_name: str,
    stream: IO[bytes],
) -> MemberImport:
    """Read a bulk file and record what each line will do; change no member."""
    _check(actor, customer, vendor)
    return _preview(
        MemberImport(customer=customer, vendor=vendor, kind=ImportKind.MEMBERS),
        Planner(customer, vendor),
        MEMBER_COLUMNS,
        actor=actor,
        file_name=file_name,
        stream=stream,
    )


def users_import_preview(
    *, actor: User | None, customer: Organisation, file_name: str, stream: IO[bytes]
) -> MemberImport:
    """Read a users file of `customer`'s tenant and record what each line will do; change no
    user. ServiceError when the customer has no tenant or the file cannot be read."""
    user_services._check(actor, customer)
    return _preview(
        MemberImport(customer=customer, kind=ImportKind.USERS),
        DirectoryPlanner(customer),
        USER_COLUMNS,
        actor=actor,
        file_name=file_name,
        stream=stream,
    )


def _preview(
    member_import: MemberImport,
    planner: Planner | DirectoryPlanner,
    columns: tuple[str, ...],
    *,
    actor: User | None,
    file_name: str,
    stream: IO[bytes],
) -> MemberImport:
    counts: dict[str, int] = {}
    with transaction.atomic():
        member_import.file_name = file_name[:255]
        member_import.requested_by = actor if actor is not None and actor.is_authenticated else None
        member_import.requested_by_name = members._actor_name(actor)
        member_import.save()
        batch: list[MemberImportLine] = []
        for number, read in file_lines(file_name, stream):
            password = read.pop("password", "")
            values = {k: v[:MAX_CELL] for k, v in read.items() if k in columns}
            plan = planner.plan(values, password)
            counts[plan.action] = counts.get(plan.action, 0) + 1
            batch.append(
                MemberImportLine(
                    member_import=member_import,
                    number=number,
                    user_name=values.get("user_name", "")[:255],
                    values=values,
                    secret=crypto.encrypt(password) if password else "",
                    action=plan.action,
                    message=plan.message,
                    waits_for_seat=plan.waits_for_seat,
                )
            )
            if len(batch) >= BATCH:
                MemberImportLine.objects.bulk_create(batch)
                batch = []
        MemberImportLine.objects.bulk_create(batch)
        if not counts:
            raise ServiceError(_("The file has no lines."), field="file")
        for line in _seat_waiters(member_import, planner, counts):
            line.save(update_fields=["action", "message", "waits_for_seat"])
        member_import.counts = counts
        member_import.save(update_fields=["counts", "updated_at"])
    return member_import


def _seat_waiters(member_import, planner: Planner | DirectoryPlanner, counts: dict[str, int]):
    """Plan again the lines that only lacked a seat, while later lines keep freeing some: the
    file says what each member should hold, whatever the order of its lines (and so the same
    file applied twice changes nothing the second time). Yields each line that now passes."""
    progress = True
    while progress:
        progress = False
        waiting = MemberImportLine.objects.filter(
            member_import=member_import, waits_for_seat=True
        ).order_by("number")
        for line in waiting.iterator(chunk_size=BATCH):
            password = crypto.decrypt(line.secret) if line.secret else ""
            plan = planner.plan(line.values, password, again=True)
            if plan.waits_for_seat:
                continue
            counts[ImportAction.ERROR] -= 1
            if not counts[ImportAction.ERROR]:
                del counts[ImportAction.ERROR]
            counts[plan.action] = counts.get(plan.action, 0) + 1
            line.action, line.message, line.waits_for_seat = plan.action, plan.message, False
            progress = True
            yield line


def _apply_line(actor, line: MemberImportLine, plan: Plan, password: str) -> str:
    member_import = line.member_import
    if member_import.kind == ImportKind.USERS:
        return _apply_user_line(actor, line, plan, password)
    customer, vendor = member_import.customer, member_import.vendor
    if plan.action == ImportAction.CREATE:
        members.member_create(
            actor=actor,
            customer=customer,
            vendor=vendor,
            values=plan.values,
            password=password,
            subscriptions=plan.subscriptions,
        )
    elif plan.action == ImportAction.UPDATE:
        member = Member.objects.get(vendor=vendor, user_name=plan.values["user_name"])
        members.member_update(
            actor=actor, member=member, values=plan.values, subscriptions=plan.subscriptions
        )
    elif plan.action == ImportAction.DELETE:
        member = Member.objects.get(vendor=vendor, user_name=line.user_name.lower())
        members.member_delete(actor=actor, member=member)
    return plan.action


def _apply_user_line(actor, line: MemberImportLine, plan: Plan, password: str) -> str:
    """One line of a users file through the users' and licences' services, in one transaction:
    a refusal anywhere leaves nothing of the line behind."""
    values = plan.values
    with transaction.atomic():
        if plan.action == ImportAction.CREATE:
            change = user_services.user_create(
                actor=actor,
                customer=line.member_import.customer,
                display_name=values["display_name"],
                first_name=values["first_name"],
                last_name=values["last_name"],
                user_name=values["user_name"],
                usage_location=values["usage_location"],
                password=password or None,
                send_password_to=values["send_password_to"],
                send_typed_password=True,
                licences_chosen="licences" in line.values,
            )
            for subscription in plan.subscriptions:
                licences.licence_assign(
                    actor=actor, user=change.user, subscription=subscription, after_creation=True
                )
        elif plan.action == ImportAction.UPDATE:
            user = plan.user
            edits = {
                name: values[name]
                for name in DirectoryPlanner.NAMES
                if getattr(user, name) != values[name]
            }
            if edits:
                user_services.user_update(actor=actor, user=user, **edits)
            taken_back = UserLicence.objects.filter(pk__in=plan.remove, user=user)
            for licence in taken_back.select_related("user__customer", "sku").order_by("pk"):
                licences.licence_remove(actor=actor, licence=licence)
            for subscription in plan.subscriptions:
                licences.licence_assign(actor=actor, user=user, subscription=subscription)
        elif plan.action == ImportAction.DELETE:
            user_services.user_delete(actor=actor, user=plan.user)
    return plan.action


def import_apply(*, actor: User | None, member_import: MemberImport) -> MemberImport:
    """Apply every line that can be applied, each completely or not at all, in file order."""
    _check_import(actor, member_import)
    with transaction.atomic():
        locked = MemberImport.objects.select_for_update().get(pk=member_import.pk)
        if locked.applied_at is not None:
            raise Conflict(_("This file was applied already."))
        locked.applied_at = clock.now()
        locked.save(update_fields=["applied_at", "updated_at"])
    lines = MemberImportLine.objects.filter(member_import=member_import).select_related(
        "member_import__customer", "member_import__vendor"
    )
    lines.update(waits_for_seat=False)
    applier = _Applier(actor, member_import)
    for line in lines.order_by("number").iterator(chunk_size=BATCH):
        applier.apply(line, again=False)
    # Lines that lacked a seat are tried again while the others keep freeing seats.
    applier.progress = lines.filter(waits_for_seat=True).exists()
    while applier.progress:
        applier.progress = False
        for line in lines.filter(waits_for_seat=True).order_by("number").iterator(BATCH):
            applier.apply(line, again=True)
    lines.exclude(secret="").update(secret="")
    counts: dict[str, int] = {}
    for outcome, n in lines.values_list("outcome").annotate(n=Count("pk")).order_by():
        counts[outcome] = n
    MemberImport.objects.filter(pk=member_import.pk).update(counts=counts)
    member_import.refresh_from_db()
    return member_import


# The members pages' and API's name for it.
member_import_apply = import_apply


class _Applier:
    def __init__(self, actor: User | None, member_import: MemberImport) -> None:
        self.actor, self.member_import = actor, member_import
        self.planner = _planner(member_import)
        self.progress = False

    def apply(self, line: MemberImportLine, *, again: bool) -> None:
        password = crypto.decrypt(line.secret) if line.secret else ""
        plan = self.planner.plan(line.values, password, again=again)
        outcome, message, waits = plan.action, plan.message, plan.waits_for_seat
        if plan.action != ImportAction.ERROR:
            try:
                _apply_line(self.actor, line, plan, password)
            except ServiceError as error:
                outcome, message = ImportAction.ERROR, error.message
                waits = error.code == "no_seat_left"
                # The planner counted the seats this line would have changed: count again.
                seen = self.planner.seen
                self.planner = _planner(self.member_import)
                self.planner.seen = seen
        if again and waits:
            return  # still no seat: the line stays as the first pass left it
        self.progress = self.progress or again
        MemberImportLine.objects.filter(pk=line.pk).update(
            outcome=outcome, outcome_message=message, waits_for_seat=waits
        )


# --- exports and the result file ---------------------------------------------------------------

RESULT_COLUMNS = ("line", "user_name", "outcome", "details")


def member_rows(customer: Organisation, vendor: Vendor) -> Iterator[list[Any]]:
    """The members with their service and options, in the bulk file's columns (no password,
    no action): importing the export changes nothing."""
    yield list(MEMBER_COLUMNS)
    seats = MemberSeat.objects.select_related("subscription__offer").order_by(
        "subscription__offer__kind", "subscription__friendly_name"
    )
    from django.db.models import Prefetch

    queryset = (
        Member.objects.filter(customer=customer, vendor=vendor)
        .order_by("user_name")
        .prefetch_related(Prefetch("seats", queryset=seats))
    )
    for member in queryset.iterator(chunk_size=BATCH):
        held = [seat.subscription for seat in member.seats.all()]
        service = next((s for s in held if s.offer.kind == OfferKind.SERVICE), None)
        options = [s.friendly_name for s in held if s is not service]
        yield [
            member.user_name,
            member.display_name,
            member.first_name,
            member.last_name,
            member.email,
            "",
            service.friendly_name if service else "",
            "|".join(options),
            "",
        ]


def result_rows(member_import: MemberImport) -> Iterator[list[Any]]:
    yield list(RESULT_COLUMNS)
    labels = dict(ImportAction.choices)
    lines = MemberImportLine.objects.filter(member_import=member_import).order_by("number")
    for line in lines.iterator(chunk_size=BATCH):
        outcome = line.outcome or line.action
        yield [
            line.number,
            line.user_name,
            str(labels.get(outcome, outcome)),
            line.outcome_message if line.outcome else line.message,
        ]


def user_rows(users: Iterable[DirectoryUser]) -> Iterator[list[Any]]:
    """A customer's directory users with their licences (users list export), in the users
    file's columns: importing the export changes nothing."""
    yield list(USER_COLUMNS)
    for user in users:
        yield [
            user.user_principal_name,
            user.display_name,
            user.first_name,
            user.last_name,
            user.usage_location,
            LICENCE_SEPARATOR.join(str(licence.sku) for licence in user.licences.all()),
            user.status,
            user.synced_at.isoformat() if user.synced_at else "",
            "",
            "",
            "",
        ]


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Each row as one CSV line, every cell defused against formulas (streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def xlsx_bytes(rows: Iterable[list[Any]], title: str) -> bytes:
    """A workbook of `rows` through openpyxl's write-only mode (rows are not kept)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for row in rows:
        sheet.append([safe_workbook_cell(cell) for cell in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- a licence to many directory users at once -------------------------------------------------


@dataclass
class BulkOutcome:
    user: DirectoryUser
    ok: bool
    message: str = ""


def licences_bulk(
    *,
    actor: User | None,
    users: Iterable[DirectoryUser],
    subscription: Subscription,
    assign: bool,
) -> list[BulkOutcome]:
    """Assign (or take back) `subscription`'s licence for each user: each user's change is
    queued like a single one, in its own transaction; a refusal is that user's alone."""
    outcomes = []
    for user in users:
        try:
            if assign:
                licences.licence_assign(actor=actor, user=user, subscription=subscription)
            else:
                licence = (
                    UserLicence.objects.filter(
                        user=user,
                        sku__tenant_id=subscription.tenant_id,
                        sku__product_key=subscription.offer.external_id,
                    )
                    .select_related("user__customer", "sku")
                    .first()
                )
                if licence is None:
                    raise ServiceError(
                        _("%(user)s does not hold %(licence)s.")
                        % {"user": user.display_name, "licence": subscription.friendly_name}
                    )
                licences.licence_remove(actor=actor, licence=licence)
        except ServiceError as error:
            outcomes.append(BulkOutcome(user, False, error.message))
        else:
            outcomes.append(BulkOutcome(user, True))
    return outcomes
