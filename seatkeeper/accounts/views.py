"""Organisation, login and profile pages. Thin: scoped reads from selectors, writes via services."""

from __future__ import annotations

import math

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from seatkeeper.accounts import permissions, selectors, services, throttle
from seatkeeper.accounts.filters import OrganisationFilter
from seatkeeper.accounts.forms import (
    ApiTokenForm,
    ChildKindForm,
    InviteForm,
    LanguageForm,
    OrganisationEditForm,
    OrganisationForm,
    UserEditForm,
)
from seatkeeper.accounts.models import ALLOWED_CHILDREN, OrganisationKind, User
from seatkeeper.accounts.tasks import invitation_from_token
from seatkeeper.activity.selectors import last_records
from seatkeeper.core.validation import filter_or_400
from seatkeeper.ui.forms import run_service
from seatkeeper.ui.tables import Column, build_table, csv_response

ORGANISATION_COLUMNS = [
    Column(
        "name",
        gettext_lazy("Company name"),
        lambda o: o.name,
        "name",
        link=lambda o: reverse("organisation_detail", args=[o.pk]),
    ),
    Column("kind", gettext_lazy("Kind"), lambda o: o.get_kind_display(), "kind"),
    Column(
        "parent",
        gettext_lazy("Reseller / partner"),
        lambda o: o.parent.name if o.parent else "",
        "parent__name",
    ),
    Column(
        "providers",
        gettext_lazy("Providers"),
        lambda o: ", ".join(sorted(set(filter(None, (o.vendor_names or "").split("\n"))))),
    ),
    Column(
        "subscriptions",
        gettext_lazy("Subscriptions"),
        lambda o: o.subscription_count if o.kind == OrganisationKind.CUSTOMER else "",
        "subscription_count",
        link=lambda o: (
            reverse("customer_subscriptions", args=[o.pk])
            if o.kind == OrganisationKind.CUSTOMER
            else ""
        ),
    ),
    Column("country", gettext_lazy("Country"), lambda o: o.country, "country"),
    Column("vat", gettext_lazy("VAT number"), lambda o: o.vat_number, "vat_number"),
    Column("contact", gettext_lazy("Contact"), lambda o: o.contact_email, "contact_email"),
    Column("created", gettext_lazy("Created"), lambda o: o.created_at.date(), "created_at"),
]


@login_required
def organisation_list(request):
    queryset = selectors.with_providers(
        selectors.organisations_visible_to(request.user).select_related("parent")
    )
    queryset = filter_or_400(OrganisationFilter, request, queryset)
    kind = request.GET.get("kind", "")
    if request.GET.get("export") == "csv":
        return csv_response(
            request,
            queryset,
            ORGANISATION_COLUMNS,
            default_sort="name",
            filename="organisations.csv",
        )
    table = build_table(request, queryset, ORGANISATION_COLUMNS, default_sort="name")
    context = {"table": table, "kind": kind, "kinds": OrganisationKind.choices, "export_csv": True}
    if request.htmx:
        return render(request, "accounts/organisation_list.html#table", context)
    return render(request, "accounts/organisation_list.html", context)


@login_required
def organisation_detail(request, pk: int):
    organisation = selectors.get_organisation_for_user(request.user, pk)
    children = selectors.organisations_visible_to(request.user).filter(parent=organisation)
    users = selectors.users_visible_to(request.user).filter(organisation=organisation)
    context = {
        "organisation": organisation,
        "children": children.order_by("name")[:100],
        "children_count": children.count(),
        "users": users.order_by("username"),
        "invitations": (
            organisation.invitations.filter(accepted_at__isnull=True).order_by("-created_at")[:50]
            if permissions.can_manage_users(request.user, organisation)
            else []
        ),
        "activity": last_records(request.user, organisation),
        "can_change": permissions.can_change_organisation(request.user, organisation),
        "can_manage_users": permissions.can_manage_users(request.user, organisation),
        "child_kinds": [
            kind
            for kind in ALLOWED_CHILDREN[organisation.kind]
            if permissions.can_create_organisation(request.user, organisation, kind)
        ],
        "ancestors": selectors.organisations_visible_to(request.user)
        .filter(pk__in=organisation.ancestor_ids)
        .order_by("path"),
    }
    return render(request, "accounts/organisation_detail.html", context)


@login_required
def organisation_create(request, parent_pk: int):
    parent = selectors.get_organisation_for_user(request.user, parent_pk)
    kind_form = ChildKindForm(request.GET or None)
    kind = kind_form.data.get("kind") if kind_form.is_bound and kind_form.is_valid() else None
    if kind is None:
        kind = next(iter(sorted(ALLOWED_CHILDREN[parent.kind])), None)
    if kind is None or not permissions.can_create_organisation(request.user, parent, kind):
        raise PermissionDenied(_("You may not create this kind of organisation here."))
    initial = {
        "default_language": parent.default_language,
        "default_currency": parent.default_currency,
        "country": parent.country,
    }
    form = OrganisationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        organisation = run_service(
            form,
            lambda: services.organisation_create(
                actor=request.user, parent=parent, kind=kind, **form.cleaned_data
            ),
        )
        if organisation:
            messages.success(request, _("%(name)s was created.") % {"name": organisation.name})
            return redirect("organisation_detail", pk=organisation.pk)
    return render(
        request,
        "accounts/organisation_form.html",
        {"form": form, "parent": parent, "kind": kind, "kind_label": OrganisationKind(kind).label},
    )


@login_required
def organisation_edit(request, pk: int):
    organisation = selectors.get_organisation_for_user(request.user, pk)
    if not permissions.can_change_organisation(request.user, organisation):
        raise PermissionDenied(_("You may not change this organisation."))
    commercial = permissions.can_change_commercial_settings(request.user, organisation)
    form = OrganisationEditForm(request.POST or None, instance=organisation, commercial=commercial)
    if request.method == "POST" and form.is_valid():
        values = {field: form.cleaned_data[field] for field in form.fields}
        # The form wrote into the instance; the service diffs against the database.
        organisation.refresh_from_db()
        saved = run_service(
            form,
            lambda: services.organisation_update(
                actor=request.user, organisation=organisation, **values
            ),
        )
        if saved:
            messages.success(request, _("Changes saved."))
            return redirect("organisation_detail", pk=saved.pk)
    return render(
        request, "accounts/organisation_form.html", {"form": form, "organisation": organisation}
    )


@login_required
def user_invite(request, organisation_pk: int):
    organisation = selectors.get_organisation_for_user(request.user, organisation_pk)
    roles = permissions.assignable_roles(request.user, organisation)
    if not roles:
        raise PermissionDenied(_("You may not invite people into this organisation."))
    form = InviteForm(request.POST or None, roles=roles)
    if request.method == "POST" and form.is_valid():
        invitation = run_service(
            form,
            lambda: services.user_invite(
                actor=request.user, organisation=organisation, **form.cleaned_data
            ),
        )
        if invitation:
            messages.success(
                request, _("An invitation was sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("organisation_detail", pk=organisation.pk)
    return render(
        request, "accounts/user_invite.html", {"form": form, "organisation": organisation}
    )


@login_required
def user_edit(request, pk: int):
    person = selectors.get_user_for_user(request.user, pk)
    roles = permissions.assignable_roles(request.user, person.organisation)
    if not roles or person.role not in roles:
        raise PermissionDenied(_("You may not change this login."))
    form = UserEditForm(request.POST or None, instance=person, roles=roles)
    if request.method == "POST" and form.is_valid():
        values = {field: form.cleaned_data[field] for field in form.Meta.fields}
        person.refresh_from_db()
        if person.pk == request.user.pk:
            values.pop("role", None)
            values.pop("is_active", None)
        saved = run_service(
            form, lambda: services.user_update(actor=request.user, user=person, **values)
        )
        if saved:
            messages.success(request, _("Changes saved."))
            return redirect("organisation_detail", pk=person.organisation_id)
    return render(request, "accounts/user_edit.html", {"form": form, "person": person})


@login_required
def profile(request):
    language_form = LanguageForm(initial={"language": request.user.language})
    token_form = ApiTokenForm()
    return render(
        request,
        "accounts/profile.html",
        {
            "language_form": language_form,
            "token_form": token_form,
            "tokens": selectors.api_tokens_of(request.user),
            "new_token": request.session.pop("new_token", None),
        },
    )


@login_required
@require_POST
def language_set(request):
    form = LanguageForm(request.POST)
    if form.is_valid():
        services.user_set_language(actor=request.user, language=form.cleaned_data["language"])
        messages.success(request, _("Language saved."))
    response = redirect(request.POST.get("next") or "profile")
    if not url_is_local(request.POST.get("next", "")):
        response = redirect("profile")
    return response


@login_required
@require_POST
def table_columns_set(request, table: str):
    """Save the columns a list shows this person, then go back to the list."""
    from seatkeeper.ui.tables import column_choices

    allowed = [key for key, _label in column_choices(table)]
    if not allowed:
        raise Http404("No such list")
    columns = None if request.POST.get("reset") else request.POST.getlist("columns")
    try:
        services.user_set_table_columns(
            actor=request.user, table=table, columns=columns, allowed=allowed
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    back = request.POST.get("next", "")
    return redirect(back if url_is_local(back) else "dashboard")


def url_is_local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


@login_required
@require_POST
def api_token_create(request):
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        result = run_service(
            form,
            lambda: services.api_token_create(
                actor=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
            ),
        )
        if result:
            # Shown once on the next page, then gone: only its hash is stored.
            request.session["new_token"] = result[1]
            return redirect("profile")
    messages.error(request, _("Give the token a name."))
    return redirect("profile")


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    token = get_object_or_404(selectors.api_tokens_of(request.user), pk=pk)
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("Token revoked."))
    return redirect("profile")


def throttled(request, seconds: int) -> HttpResponse:
    minutes = max(1, math.ceil(seconds / 60))
    response = render(request, "registration/throttled.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(seconds)
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Wrong old passwords lock the form for a while (throttle.PASSWORD_CHANGE_GUESSES): a
    stolen session must not be a way to guess the password."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("profile")

    def post(self, request, *args, **kwargs):
        locked = throttle.PASSWORD_CHANGE_GUESSES.locked_for(request.user.pk)
        if locked:
            return throttled(request, locked)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error("old_password", "password_incorrect"):
            locked = throttle.PASSWORD_CHANGE_GUESSES.failed(self.request.user.pk)
            if locked:
                services.user_password_change_locked(user=self.request.user)
                return throttled(self.request, locked)
        return super().form_invalid(form)

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            services.user_password_changed(
                actor=self.request.user, user=self.request.user, how="change"
            )
        messages.success(self.request, _("Your password was changed."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Each request may send an e-mail: limited per address asked for and per client, counted
    alike whether a login has the address or not (throttle.PASSWORD_RESET_*)."""

    html_email_template_name = None
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form):
        wait = throttle.PASSWORD_RESET_PER_CLIENT.hit(get_client_ip_address(self.request))
        if not wait:
            address = form.cleaned_data["email"].strip().lower()
            wait = throttle.PASSWORD_RESET_PER_ADDRESS.hit(address)
        if wait:
            return throttled(self.request, wait)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A forgotten password: choosing a new one from the e-mailed link."""

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            services.user_password_changed(actor=None, user=form.user, how="reset")
        messages.success(self.request, _("Your password is set. You can sign in now."))
        return response


def invitation_accept(request, token: str):
    """An invited person chooses their password; their login is created then."""
    invitation = invitation_from_token(token)
    if invitation is None or not invitation.is_open:
        return render(request, "registration/password_set.html", {"validlink": False})
    person = User(
        username=invitation.email,
        email=invitation.email,
        first_name=invitation.first_name,
        last_name=invitation.last_name,
    )
    form = SetPasswordForm(person, request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = run_service(
            form,
            lambda: services.invitation_accept(
                invitation=invitation, password=form.cleaned_data["new_password1"]
            ),
        )
        if created:
            messages.success(request, _("Your password is set. You can sign in now."))
            return redirect("login")
    context = {"validlink": True, "invitation": True, "form": form}
    return render(request, "registration/password_set.html", context)


def locked_out(request) -> HttpResponse:
    return render(request, "registration/locked_out.html", status=429)


def not_found(request, exception=None) -> HttpResponse:
    return render(request, "ui/404.html", status=404)


__all__ = ["Http404"]
