"""Members of a manual vendor and bulk provisioning pages: thin views over `people.members` and
`people.bulk`, scoped to the person asking (another customer's member or file answers 404)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.catalog.models import Vendor, VendorKind
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.people import bulk, members, selectors
from seatkeeper.people import users as user_services
from seatkeeper.people.models import ImportKind, Member, MemberImport
from seatkeeper.people.selectors import SEAT_HOLDING
from seatkeeper.subscriptions.models import Subscription

MAX_UPLOAD = 20 * 1024 * 1024


def _scope(request, customer_pk: int, vendor_pk: int) -> tuple[Organisation, Vendor]:
    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    vendor = Vendor.objects.filter(
        pk=vendor_pk, kind=VendorKind.MANUAL, offers__subscriptions__customer=customer
    ).first()
    if vendor is None:
        raise Http404("No such vendor for this customer")
    return customer, vendor


def _subscriptions(customer: Organisation, vendor: Vendor) -> list[Subscription]:
    return list(
        Subscription.objects.filter(
            customer=customer, offer__vendor=vendor, tenant__isnull=True, status__in=SEAT_HOLDING
        )
        .select_related("offer")
        .order_by("offer__kind", "friendly_name", "pk")
    )


@login_required
@require_GET
def vendor_members(request, customer_pk: int, vendor_pk: int):
    customer, vendor = _scope(request, customer_pk, vendor_pk)
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        return export_rows(bulk.member_rows(customer, vendor), f"members-{vendor.pk}", export)
    subscriptions = _subscriptions(customer, vendor)
    from seatkeeper.subscriptions.selectors import assigned_by_subscription

    assigned = assigned_by_subscription(subscriptions)
    rows = (
        Member.objects.filter(customer=customer, vendor=vendor)
        .prefetch_related("seats__subscription__offer")
        .order_by("display_name", "pk")
    )
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "people/vendor_members.html",
        {
            "customer": customer,
            "vendor": vendor,
            "page": page,
            "seats": [
                {"subscription": s, "assigned": assigned[s.pk], "left": s.quantity - assigned[s.pk]}
                for s in subscriptions
            ],
            "can_manage": members.can_manage_members(request.user, customer),
            "imports": MemberImport.objects.filter(customer=customer, vendor=vendor).order_by(
                "-pk"
            )[:10],
            "columns": bulk.MEMBER_COLUMNS,
        },
    )


def export_rows(rows, name: str, kind: str):
    """A CSV (streamed) or XLSX download of `rows`, every cell defused against formulas."""
    stamp = clock.today().isoformat()
    if kind == "xlsx":
        response = HttpResponse(
            bulk.xlsx_bytes(rows, name),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.xlsx"'
        return response
    response = StreamingHttpResponse(bulk.csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


def _picked(request, customer: Organisation, vendor: Vendor) -> list[Subscription]:
    wanted = set()
    for value in request.POST.getlist("subscriptions"):
        try:
            wanted.add(int(value))
        except ValueError:
            raise Http404("No such subscription") from None
    found = [s for s in _subscriptions(customer, vendor) if s.pk in wanted]
    if len(found) != len(wanted):
        raise Http404("No such subscription")
    return found


@login_required
@require_POST
def member_add(request, customer_pk: int, vendor_pk: int):
    customer, vendor = _scope(request, customer_pk, vendor_pk)
    try:
        member = members.member_create(
            actor=request.user,
            customer=customer,
            vendor=vendor,
            values={
                name: request.POST.get(name, "") for name in ("user_name", "display_name", "email")
            },
            password=request.POST.get("password", ""),
            subscriptions=_picked(request, customer, vendor),
        )
    except ServiceError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _("%(name)s added; the password link is on its way to %(email)s.")
            % {"name": member.display_name, "email": member.email},
        )
    return redirect("vendor_members", customer_pk=customer.pk, vendor_pk=vendor.pk)


@login_required
@require_POST
def member_seats(request, customer_pk: int, vendor_pk: int, member_pk: int):
    customer, vendor = _scope(request, customer_pk, vendor_pk)
    member = Member.objects.filter(customer=customer, vendor=vendor, pk=member_pk).first()
    if member is None:
        raise Http404("No such member")
    try:
        if request.POST.get("delete"):
            members.member_delete(actor=request.user, member=member)
        else:
            members.member_seats_set(
                actor=request.user,
                member=member,
                subscriptions=_picked(request, customer, vendor),
            )
    except ServiceError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("%(name)s saved.") % {"name": member.display_name})
    return redirect("vendor_members", customer_pk=customer.pk, vendor_pk=vendor.pk)


@login_required
@require_POST
def member_import_upload(request, customer_pk: int, vendor_pk: int):
    customer, vendor = _scope(request, customer_pk, vendor_pk)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ServiceError(_("Choose a CSV or XLSX file."), field="file")
        if upload.size > MAX_UPLOAD:
            raise ServiceError(_("The file is larger than 20 MB: split it."), field="file")
        member_import = bulk.member_import_preview(
            actor=request.user,
            customer=customer,
            vendor=vendor,
            file_name=upload.name,
            stream=upload,
        )
    except ServiceError as refusal:
        messages.error(request, refusal.message)
        return redirect("vendor_members", customer_pk=customer.pk, vendor_pk=vendor.pk)
    return redirect(
        "member_import", customer_pk=customer.pk, vendor_pk=vendor.pk, import_pk=member_import.pk
    )


def _member_import(request, customer_pk: int, vendor_pk: int, import_pk: int):
    customer, vendor = _scope(request, customer_pk, vendor_pk)
    member_import = MemberImport.objects.filter(
        customer=customer, vendor=vendor, kind=ImportKind.MEMBERS, pk=import_pk
    ).first()
    if member_import is None:
        raise Http404("No such import")
    return customer, vendor, member_import


@login_required
@require_GET
def member_import(request, customer_pk: int, vendor_pk: int, import_pk: int):
    customer, vendor, member_import = _member_import(request, customer_pk, vendor_pk, import_pk)
    if request.GET.get("export") in ("csv", "xlsx"):
        return export_rows(
            bulk.result_rows(member_import), f"import-{member_import.pk}", request.GET["export"]
        )
    lines = member_import.lines.order_by("number")
    page = Paginator(lines, 200).get_page(request.GET.get("page"))
    return render(
        request,
        "people/member_import.html",
        {
            "customer": customer,
            "member_import": member_import,
            "page": page,
            "can_apply": member_import.applied_at is None
            and members.can_manage_members(request.user, customer),
            "back_url": reverse("vendor_members", args=[customer.pk, vendor.pk]),
            "back_label": _("Members at %(vendor)s") % {"vendor": vendor.name},
            "apply_url": reverse(
                "member_import_apply", args=[customer.pk, vendor.pk, member_import.pk]
            ),
        },
    )


@login_required
@require_POST
def member_import_apply(request, customer_pk: int, vendor_pk: int, import_pk: int):
    customer, vendor, member_import = _member_import(request, customer_pk, vendor_pk, import_pk)
    if not members.can_manage_members(request.user, customer):
        raise PermissionDenied(_("You may not change this customer's members."))
    _apply(request, member_import)
    return redirect(
        "member_import", customer_pk=customer.pk, vendor_pk=vendor.pk, import_pk=member_import.pk
    )


def _apply(request, member_import: MemberImport) -> None:
    try:
        applied = bulk.import_apply(actor=request.user, member_import=member_import)
    except ServiceError as refusal:
        messages.error(request, refusal.message)
    else:
        counts = applied.counts
        messages.success(
            request,
            _(
                "Applied: %(create)s created, %(update)s updated, %(delete)s deleted, "
                "%(none)s unchanged, %(error)s refused."
            )
            % {key: counts.get(key, 0) for key in ("create", "update", "delete", "none", "error")},
        )


@login_required
@require_POST
def users_bulk_licences(request, customer_pk: int):
    """Tick users, then assign or take back one subscription's licence for all of them."""
    from seatkeeper.people.models import DirectoryUser

    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    try:
        wanted = {int(value) for value in request.POST.getlist("users")}
        subscription_pk = int(request.POST.get("subscription", ""))
    except ValueError:
        raise Http404("No such user or subscription") from None
    subscription = next(
        (s for s in selectors.bulk_licence_choices(customer) if s.pk == subscription_pk), None
    )
    if subscription is None:
        raise Http404("No such subscription")
    users = list(
        DirectoryUser.objects.filter(customer=customer, pk__in=wanted).select_related(
            "customer", "tenant"
        )
    )
    if not users:
        messages.error(request, _("Tick the users first."))
        return redirect("customer_users", customer_pk=customer.pk)
    outcomes = bulk.licences_bulk(
        actor=request.user,
        users=users,
        subscription=subscription,
        assign=request.POST.get("action") != "remove",
    )
    done = [outcome for outcome in outcomes if outcome.ok]
    if done:
        messages.success(
            request,
            _("%(n)s changes are on their way to the vendor.") % {"n": len(done)},
        )
    for outcome in outcomes:
        if not outcome.ok:
            messages.error(
                request,
                _("%(user)s: %(reason)s")
                % {"user": outcome.user.display_name, "reason": outcome.message},
            )
    return redirect("customer_users", customer_pk=customer.pk)


# --- importing a tenant's users ------------------------------------------------------------------


def _users_customer(request, customer_pk: int) -> Organisation:
    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    return customer


@login_required
@require_POST
def users_import_upload(request, customer_pk: int):
    """Read a users file and show what each line will do (nothing changes yet)."""
    customer = _users_customer(request, customer_pk)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ServiceError(_("Choose a CSV or XLSX file."), field="file")
        if upload.size > MAX_UPLOAD:
            raise ServiceError(_("The file is larger than 20 MB: split it."), field="file")
        users_import = bulk.users_import_preview(
            actor=request.user, customer=customer, file_name=upload.name, stream=upload
        )
    except ServiceError as refusal:
        messages.error(request, refusal.message)
        return redirect("customer_users", customer_pk=customer.pk)
    return redirect("users_import", customer_pk=customer.pk, import_pk=users_import.pk)


def _users_import(request, customer_pk: int, import_pk: int):
    customer = _users_customer(request, customer_pk)
    users_import = MemberImport.objects.filter(
        customer=customer, kind=ImportKind.USERS, pk=import_pk
    ).first()
    if users_import is None:
        raise Http404("No such import")
    return customer, users_import


@login_required
@require_GET
def users_import(request, customer_pk: int, import_pk: int):
    customer, users_import = _users_import(request, customer_pk, import_pk)
    if request.GET.get("export") in ("csv", "xlsx"):
        return export_rows(
            bulk.result_rows(users_import), f"import-{users_import.pk}", request.GET["export"]
        )
    page = Paginator(users_import.lines.order_by("number"), 200).get_page(request.GET.get("page"))
    return render(
        request,
        "people/member_import.html",
        {
            "customer": customer,
            "member_import": users_import,
            "page": page,
            "can_apply": users_import.applied_at is None
            and user_services.can_manage_users(request.user, customer),
            "back_url": reverse("customer_users", args=[customer.pk]),
            "back_label": _("Users"),
            "apply_url": reverse("users_import_apply", args=[customer.pk, users_import.pk]),
        },
    )


@login_required
@require_POST
def users_import_apply(request, customer_pk: int, import_pk: int):
    customer, users_import = _users_import(request, customer_pk, import_pk)
    if not user_services.can_manage_users(request.user, customer):
        raise PermissionDenied(_("You may not change this customer's users."))
    _apply(request, users_import)
    return redirect("users_import", customer_pk=customer.pk, import_pk=users_import.pk)
