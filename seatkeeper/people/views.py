"""Tenant onboarding pages: thin views over `people.services`, scoped to the person asking."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.validation import object_id
from seatkeeper.people import bulk, directory, licences, selectors, services
from seatkeeper.people import users as user_services
from seatkeeper.people.forms import (
    DirectoryUserForm,
    PasswordChoiceForm,
    TenantCreateForm,
    TenantLinkForm,
)
from seatkeeper.people.models import ImportKind, MemberImport
from seatkeeper.people.permissions import can_onboard
from seatkeeper.providers.errors import ProviderError
from seatkeeper.subscriptions.models import Subscription
from seatkeeper.ui.tables import Column, build_table


def _customer_for(request, customer_pk: int) -> Organisation:
    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    if not can_onboard(request.user, customer):
        raise PermissionDenied(_("Only your reseller or partner can onboard the tenant."))
    return customer


def _acceptance(data: dict) -> services.AgreementAcceptance:
    day: dt.date = data["mca_accepted_at"]
    return services.AgreementAcceptance(
        first_name=data["mca_first_name"],
        last_name=data["mca_last_name"],
        email=data["mca_email"],
        accepted_at=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
    )


def _initial(customer: Organisation) -> dict:
    profile = services.TenantProfile.of(customer)
    prefix = services.initial_domain_suggestion(customer)
    return {
        "domain": prefix,
        **{name: getattr(profile, name) for name in services.PROFILE_FIELDS},
        "mca_first_name": profile.contact_first_name,
        "mca_last_name": profile.contact_last_name,
        "mca_email": profile.contact_email,
    }


def _show_errors(form, error: ServiceError) -> None:
    fields = getattr(error, "fields", None)
    if fields:
        form.add_error(None, error.message)
        for name, messages_ in fields.items():
            form.add_error(name if name in form.fields else None, messages_)
    else:
        form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
def tenant_onboard(request, customer_pk: int):
    """Create the customer's Microsoft tenant, or link the one it has; or watch it being done."""
    customer = _customer_for(request, customer_pk)
    tenant = selectors.microsoft_tenant_of(customer)
    onboarding = selectors.current_onboarding(customer)
    create_form = TenantCreateForm(initial=_initial(customer))
    link_form = TenantLinkForm(initial=_initial(customer))
    if request.method == "POST" and tenant is None:
        try:
            if request.POST.get("action") == "link":
                link_form = TenantLinkForm(request.POST)
                if link_form.is_valid():
                    data = link_form.cleaned_data
                    services.tenant_link(
                        actor=request.user,
                        customer=customer,
                        tenant=data["tenant"],
                        mca=_acceptance(data) if data.get("mca_accepted") else None,
                    )
                    messages.success(request, _("The tenant is being linked."))
                    return redirect("tenant_onboard", customer_pk=customer.pk)
            else:
                create_form = TenantCreateForm(request.POST)
                if create_form.is_valid():
                    data = create_form.cleaned_data
                    services.tenant_create(
                        actor=request.user,
                        customer=customer,
                        domain=data["domain"],
                        profile=services.TenantProfile(
                            **{name: data[name] for name in services.PROFILE_FIELDS}
                        ),
                        mca=_acceptance(data),
                    )
                    messages.success(request, _("Microsoft is creating the tenant."))
                    return redirect("tenant_onboard", customer_pk=customer.pk)
        except ServiceError as error:
            _show_errors(link_form if request.POST.get("action") == "link" else create_form, error)
        except ProviderError as error:
            messages.error(
                request, _("Microsoft did not answer: %(error)s") % {"error": error.message}
            )
    return render(
        request,
        "people/tenant_onboard.html",
        {
            "customer": customer,
            "tenant": tenant,
            "onboarding": onboarding,
            "create_form": create_form,
            "link_form": link_form,
            "show_link": request.POST.get("action") == "link",
        },
    )


@login_required
@require_GET
def tenant_domain_check(request, customer_pk: int):
    """`{"domain", "available", "message"}`: free (true), taken (false) or not a valid name
    (null), for the page to say as the person types."""
    try:
        customer = _customer_for(request, customer_pk)
    except PermissionDenied:
        raise Http404 from None
    text = request.GET.get("domain", "")[:80]
    try:
        check = services.domain_check(actor=request.user, customer=customer, domain=text)
    except (ServiceError, ProviderError) as error:
        return JsonResponse({"domain": text, "available": None, "message": error.message})
    return JsonResponse(
        {"domain": check.domain, "available": check.available, "message": check.message}
    )


@login_required
@require_POST
def tenant_relationship_request(request, customer_pk: int):
    customer = _customer_for(request, customer_pk)
    try:
        services.relationship_request_send(actor=request.user, customer=customer)
    except (ServiceError, ProviderError) as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("The reseller relationship request was e-mailed to %(email)s.")
            % {"email": customer.contact_email},
        )
    return redirect("tenant_onboard", customer_pk=customer.pk)


@login_required
@require_POST
def onboarding_action(request, pk: int, action: str):
    onboarding = selectors.get_onboarding_for_user(request.user, pk)
    customer = _customer_for(request, onboarding.customer_id)
    service = {"retry": services.onboarding_retry, "cancel": services.onboarding_cancel}.get(action)
    if service is None:
        raise Http404
    try:
        service(actor=request.user, onboarding=onboarding)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("tenant_onboard", customer_pk=customer.pk)


def credential_reveal(request, token: str):
    """The one-time link: a page asking to show the password (so that a mail scanner opening
    the link sees nothing), then the password, once."""
    context: dict = {"revealed": None, "gone": False}
    if request.method == "POST":
        revealed = services.credential_reveal(token)
        context.update(revealed=revealed, gone=revealed is None)
    else:
        link = services.credential_link_for(token)
        context.update(gone=link is None, link=link)
    response = render(request, "people/credential_reveal.html", context)
    add_never_cache_headers(response)
    # The token is in the path: never sent as a referrer to another site.
    response["Referrer-Policy"] = "same-origin"
    return response


# --- a customer's directory users --------------------------------------------------------------


def _user_columns() -> list[Column]:
    return [
        Column("name", gettext_lazy("Name"), lambda u: u.display_name, "display_name"),
        Column(
            "upn",
            gettext_lazy("User principal name"),
            lambda u: u.user_principal_name,
            "user_principal_name",
        ),
        Column(
            "licences",
            gettext_lazy("Licences"),
            lambda u: "; ".join(str(licence.sku) for licence in u.licences.all()),
            "licence_count",
        ),
        Column("status", gettext_lazy("Status"), lambda u: u.get_status_display(), "status"),
        Column("synced", gettext_lazy("Last sync"), lambda u: u.synced_at, "synced_at"),
    ]


def _directory_customer(request, customer_pk: int) -> Organisation:
    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    return customer


@login_required
@require_GET
def customer_users(request, customer_pk: int):
    customer = _directory_customer(request, customer_pk)
    show = request.GET.get("show", "all")
    if show not in selectors.USER_FILTERS:
        show = "all"
    users = selectors.directory_users(customer, show=show, search=request.GET.get("q", ""))
    columns = _user_columns()
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        # The users file's columns: the export imports back as it is.
        from seatkeeper.people.member_views import export_rows

        rows = users.order_by("display_name", "pk").iterator(chunk_size=bulk.BATCH)
        return export_rows(bulk.user_rows(rows), "users", export)
    table = build_table(request, users, columns, default_sort="name")
    return render(
        request,
        "people/customer_users.html",
        {
            "customer": customer,
            "table": table,
            "show": show,
            "filters": [
                ("all", _("Active")),
                ("licensed", _("Licensed")),
                ("unlicensed", _("Unlicensed")),
                ("deleted", _("Deleted")),
            ],
            "tenant": selectors.microsoft_tenant_of(customer),
            "bulk_subscriptions": selectors.bulk_licence_choices(customer),
            "manual_vendors": selectors.manual_vendors_of(customer),
            "can_manage": user_services.can_manage_users(request.user, customer),
            "refused": selectors.refused_user_changes(customer),
            "import_columns": bulk.USER_COLUMNS,
            "imports": MemberImport.objects.filter(
                customer=customer, kind=ImportKind.USERS
            ).order_by("-pk")[:10],
        },
    )


@login_required
@require_POST
def customer_users_sync(request, customer_pk: int):
    customer = _directory_customer(request, customer_pk)
    try:
        counts = directory.users_sync(actor=request.user, customer=customer)
    except ServiceError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            _("Users read from the vendor: %(created)s new, %(updated)s changed, %(removed)s gone.")
            % {name: counts.get(name, 0) for name in ("created", "updated", "removed")},
        )
    return redirect("customer_users", customer_pk=customer.pk)


@login_required
@require_GET
def user_licences(request, customer_pk: int, user_pk: int):
    customer = _directory_customer(request, customer_pk)
    user = selectors.get_directory_user(customer, user_pk)
    return render(
        request,
        "people/user_licences.html",
        {
            "customer": customer,
            "user": user,
            "licences": user.licences.select_related("sku").order_by("sku__name"),
            "choices": selectors.licence_choices(user),
            "can_change": licences.can_change_licences(request.user, user),
            "changes": user.changes.select_related("sku").order_by("-pk")[:20],
            "can_manage": user_services.can_manage_users(request.user, customer),
            "user_changes": user.user_changes.order_by("-pk")[:20],
            "default": user_services.default_subscription(customer),
        },
    )


@login_required
@require_POST
def user_licence_assign(request, customer_pk: int, user_pk: int):
    customer = _directory_customer(request, customer_pk)
    user = selectors.get_directory_user(customer, user_pk)
    try:
        wanted = object_id(request.POST.get("subscription"))
    except (TypeError, ValueError):
        raise Http404("No such subscription") from None
    subscription = (
        Subscription.objects.filter(customer=customer, tenant_id=user.tenant_id, pk=wanted)
        .select_related("offer")
        .first()
    )
    if subscription is None:
        raise Http404("No such subscription")
    try:
        licences.licence_assign(actor=request.user, user=user, subscription=subscription)
    except ServiceError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("The licence is on its way to the vendor."))
    return redirect("user_licences", customer_pk=customer.pk, user_pk=user.pk)


@login_required
@require_POST
def user_licence_remove(request, customer_pk: int, user_pk: int, licence_pk: int):
    customer = _directory_customer(request, customer_pk)
    user = selectors.get_directory_user(customer, user_pk)
    licence = user.licences.filter(pk=licence_pk).select_related("sku", "user__customer").first()
    if licence is None:
        raise Http404("No such licence")
    try:
        licences.licence_remove(actor=request.user, licence=licence)
    except ServiceError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Taking the licence back is on its way to the vendor."))
    return redirect("user_licences", customer_pk=customer.pk, user_pk=user.pk)


# --- creating, editing, deleting and restoring users ---------------------------------------------


def _managed_customer(request, customer_pk: int) -> Organisation:
    customer = _directory_customer(request, customer_pk)
    if not user_services.can_manage_users(request.user, customer):
        raise PermissionDenied(_("You may not change this customer's users."))
    return customer


def _change_messages(request, change) -> None:
    if change.notice:
        messages.warning(request, change.notice)
    if change.credential_recipient:
        messages.info(
            request,
            _(
                "Once Microsoft has the new password, a one-time link to it is e-mailed to "
                "%(email)s."
            )
            % {"email": change.credential_recipient},
        )


def _password_problems(data, user_name: str = "") -> list[str]:
    return user_services.password_problems(
        data.get("password", "")[:256],
        user_name=user_name or data.get("user_name", "")[:113],
        display_name=data.get("display_name", "")[:256],
        first_name=data.get("first_name", "")[:64],
        last_name=data.get("last_name", "")[:64],
    )


@login_required
def user_create(request, customer_pk: int):
    customer = _managed_customer(request, customer_pk)
    tenant = selectors.tenants_of(customer).first()
    if tenant is None:
        messages.error(
            request,
            _("%(customer)s has no tenant at the vendor yet: create or link its tenant first.")
            % {"customer": customer.name},
        )
        return redirect("customer_users", customer_pk=customer.pk)
    domains = user_services.tenant_domains(tenant)
    initial = {"usage_location": customer.country, "domain": tenant.domain.lower()}
    form = DirectoryUserForm(request.POST or None, domains=domains, initial=initial)
    password_form = PasswordChoiceForm(
        request.POST or None, initial={"send_password_to": request.user.email}
    )
    if request.method == "POST" and form.is_valid() and password_form.is_valid():
        arguments = password_form.service_arguments()
        if password_form.cleaned_data["password_mode"] == "type" and not arguments["password"]:
            password_form.add_error("password", _("Type the password, or have one generated."))
        else:
            try:
                change = user_services.user_create(
                    actor=request.user,
                    customer=customer,
                    display_name=form.cleaned_data["display_name"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    user_name=form.user_name,
                    usage_location=form.cleaned_data["usage_location"],
                    **arguments,
                )
            except ServiceError as error:
                target = password_form if error.field in password_form.fields else form
                if error.field == "user_name":
                    form.add_error("alias", error.message)
                else:
                    _show_errors(target, error)
            else:
                messages.success(
                    request,
                    _("%(user)s is on its way to the vendor.")
                    % {"user": change.user_principal_name},
                )
                _change_messages(request, change)
                return redirect("user_licences", customer_pk=customer.pk, user_pk=change.user_id)
    return render(
        request,
        "people/user_form.html",
        {
            "customer": customer,
            "form": form,
            "password_form": password_form,
            "creating": True,
            "default": user_services.default_subscription(customer),
        },
    )


@login_required
@require_POST
def user_password_check(request, customer_pk: int):
    """The password policy's verdict as the person types (an htmx fragment)."""
    customer = _directory_customer(request, customer_pk)
    user_name = ""
    if request.POST.get("alias"):
        user_name = request.POST["alias"][:64]
    elif request.POST.get("user"):
        try:
            user = selectors.get_directory_user(customer, request.POST["user"])
        except Http404:
            user = None
        if user is not None:
            user_name = user.user_principal_name
    problems = _password_problems(request.POST, user_name)
    return render(
        request,
        "people/_password_check.html",
        {"problems": problems, "typed": bool(request.POST.get("password"))},
    )


@login_required
def user_edit(request, customer_pk: int, user_pk: int):
    customer = _managed_customer(request, customer_pk)
    user = selectors.get_directory_user(customer, user_pk)
    alias, _at, domain = user.user_principal_name.rpartition("@")
    domains = user_services.tenant_domains(user.tenant)
    initial = {
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "alias": alias,
        "domain": domain.lower(),
        "usage_location": user.usage_location,
    }
    form = DirectoryUserForm(request.POST or None, domains=domains, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user_services.user_update(
                actor=request.user,
                user=user,
                display_name=form.cleaned_data["display_name"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                user_name=form.user_name,
                usage_location=form.cleaned_data["usage_location"],
            )
        except ServiceError as error:
            if error.field == "user_name":
                form.add_error("alias", error.message)
            else:
                _show_errors(form, error)
        else:
            messages.success(request, _("The change is on its way to the vendor."))
            return redirect("user_licences", customer_pk=customer.pk, user_pk=user.pk)
    return render(
        request,
        "people/user_form.html",
        {"customer": customer, "form": form, "user": user, "creating": False},
    )


@login_required
@require_POST
def user_action(request, customer_pk: int, user_pk: int, action: str):
    customer = _managed_customer(request, customer_pk)
    user = selectors.get_directory_user(customer, user_pk)
    done = {
        "delete": (
            user_services.user_delete,
            _("%(user)s is deleted; the vendor keeps it 30 days."),
        ),
        "restore": (user_services.user_restore, _("%(user)s is restored.")),
        "reset-password": (user_services.user_password_reset, _("%(user)s gets a new password.")),
    }.get(action)
    if done is None:
        raise Http404
    service, message = done
    extra = {}
    if action == "reset-password":
        extra["send_password_to"] = request.POST.get("send_password_to", "")[:254]
    try:
        change = service(actor=request.user, user=user, **extra)
    except ServiceError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, message % {"user": user.user_principal_name})
        _change_messages(request, change)
    return redirect("user_licences", customer_pk=customer.pk, user_pk=user.pk)


@login_required
@require_POST
def default_licence(request, customer_pk: int):
    """Star a subscription as the customer's default licence, or take the star away."""
    customer = _managed_customer(request, customer_pk)
    back = request.POST.get("next", "")
    try:
        if request.POST.get("subscription"):
            try:
                wanted = object_id(request.POST.get("subscription"))
            except (TypeError, ValueError):
                raise Http404("No such subscription") from None
            subscription = (
                Subscription.objects.filter(customer=customer, pk=wanted)
                .select_related("offer", "customer")
                .first()
            )
            if subscription is None:
                raise Http404("No such subscription")
            user_services.default_licence_set(actor=request.user, subscription=subscription)
            messages.success(
                request,
                _("New users get %(subscription)s from now on.")
                % {"subscription": subscription.friendly_name},
            )
        else:
            user_services.default_licence_unset(actor=request.user, customer=customer)
            messages.success(request, _("New users get no licence by default any more."))
    except ServiceError as refusal:
        messages.error(request, refusal.message)
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("customer_users", customer_pk=customer.pk)
