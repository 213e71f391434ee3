"""Provider account pages: the list, registration with "Login with Microsoft", the account page
(consent status and the refresh token's health, Test connection, consent again) and its edit form.
Only the partner's cloud admins see any of it. Thin views: scoped reads from selectors, every
write through services; the sign-in flow between its two legs lives in `consent_session`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from seatkeeper.accounts.models import Organisation
from seatkeeper.activity.selectors import activity_visible_to
from seatkeeper.core.errors import ServiceError
from seatkeeper.providers import consent_session, permissions, selectors, services
from seatkeeper.providers.forms import (
    AccountEditForm,
    AccountForm,
    local_sandbox,
    registration_initial,
)
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.ui.forms import run_service

ACCOUNT_ACTIVITY = 10


def _partner(request: HttpRequest) -> Organisation:
    """The partner whose accounts the person manages; anyone but its cloud admins is refused."""
    organisation = request.user.organisation
    if organisation is None or not permissions.can_manage_provider_accounts(
        request.user, organisation
    ):
        raise PermissionDenied(_("Only the partner's cloud admins manage provider accounts."))
    return organisation


@login_required
def account_list(request):
    _partner(request)
    return render(
        request,
        "providers/account_list.html",
        {"accounts": selectors.accounts_visible_to(request.user), "nav_active": "providers"},
    )


@login_required
def account_create(request):
    partner = _partner(request)
    form = AccountForm(request.POST or None, initial=registration_initial())
    if request.method == "POST" and form.is_valid():
        account = run_service(
            form,
            lambda: services.account_register(
                actor=request.user, partner=partner, **form.cleaned_data
            ),
        )
        if account is not None:
            return _start_consent(request, account, consent_session.Purpose.REGISTER)
    return render(
        request,
        "providers/account_form.html",
        {
            "form": form,
            "is_new": True,
            "sandbox": local_sandbox(),
            "callback_url": consent_session.callback_url(),
            "nav_active": "providers",
        },
    )


@login_required
def account_detail(request, pk: int):
    account = selectors.get_account_for_user(request.user, pk)
    activity = activity_visible_to(request.user).filter(
        object_type=ProviderAccount._meta.model_name, object_id=str(account.pk)
    )[:ACCOUNT_ACTIVITY]
    return render(
        request,
        "providers/account_detail.html",
        {
            "account": account,
            "activity": activity,
            "callback_url": consent_session.callback_url(),
            "just_registered": request.GET.get("registered") == "1",
            "nav_active": "providers",
        },
    )


@login_required
def account_edit(request, pk: int):
    account = selectors.get_account_for_user(request.user, pk)
    initial = {
        field: getattr(account, field)
        for field in (
            "name",
            "application_id",
            "authority_url",
            "api_base_url",
            "graph_base_url",
            "ca_bundle_path",
        )
    }
    form = AccountEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        updated = run_service(
            form,
            lambda: services.account_update(
                actor=request.user, account=account, **form.cleaned_data
            ),
        )
        if updated is not None:
            messages.success(request, _("%(name)s saved.") % {"name": updated.name})
            if account.refresh_token_encrypted and not updated.refresh_token_encrypted:
                messages.warning(
                    request,
                    _(
                        "The application or authority changed, so the consent given to the "
                        "previous one was dropped: sign in again with Login with Microsoft."
                    ),
                )
            return redirect("provider_account", pk=account.pk)
    return render(
        request,
        "providers/account_form.html",
        {
            "form": form,
            "account": account,
            "is_new": False,
            "callback_url": consent_session.callback_url(),
            "nav_active": "providers",
        },
    )


@login_required
@require_POST
def account_consent(request, pk: int):
    """Login with Microsoft again (consent renewed, or given after a refusal)."""
    account = selectors.get_account_for_user(request.user, pk)
    return _start_consent(request, account, consent_session.Purpose.RECONSENT)


def _start_consent(
    request: HttpRequest, account: ProviderAccount, purpose: consent_session.Purpose
) -> HttpResponse:
    try:
        flow = services.account_consent_begin(
            actor=request.user, account=account, redirect_uri=consent_session.callback_url()
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("provider_account", pk=account.pk)
    consent_session.remember(request, account=account, flow=flow, purpose=purpose)
    # A page that moves on to the authority by itself, not a redirect: browsers hold a form's
    # redirects to our Content-Security-Policy (form-action 'self'), and the authority is
    # another site.
    return render(
        request,
        "providers/consent_redirect.html",
        {"auth_uri": flow["auth_uri"], "account": account, "nav_active": "providers"},
    )


@login_required
@require_GET
def consent_callback(request):
    """Where the authority sends the browser back, with a code or an error."""
    pending = consent_session.take(request)
    if pending is None:
        messages.error(
            request,
            _(
                "No sign-in with Microsoft was waiting for this answer (it was already used, or "
                "it was started by someone else or in another browser). Start again from the "
                "account page."
            ),
        )
        return redirect("provider_accounts")
    account = selectors.get_account_for_user(request.user, pending.account_id)
    if pending.is_expired:
        messages.error(
            request,
            _("The sign-in with Microsoft took too long and has expired. Start again."),
        )
        return redirect("provider_account", pk=account.pk)
    try:
        account = services.account_consent_complete(
            actor=request.user, account=account, flow=pending.flow, reply=request.GET.dict()
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("provider_account", pk=account.pk)
    messages.success(
        request,
        _("Consent granted by %(agent)s.") % {"agent": account.consented_by or _("the agent")},
    )
    target = reverse("provider_account", args=[account.pk])
    if pending.purpose == consent_session.Purpose.REGISTER:
        target += "?registered=1"
    return redirect(target)


@login_required
@require_POST
def account_test(request, pk: int):
    account = selectors.get_account_for_user(request.user, pk)
    result = services.account_test_connection(actor=request.user, account=account)
    if result.ok and result.user_consent:
        messages.success(
            request,
            _("Connection works: the application signed in and the partner's consent was used."),
        )
    elif result.ok:
        messages.warning(
            request,
            _(
                "The application signed in, but no consent is stored: calls for users, licences "
                "and provisioning status will fail until a partner agent logs in with Microsoft."
            ),
        )
    else:
        messages.error(request, _("The connection failed: %(reason)s") % {"reason": result.reason})
    return redirect("provider_account", pk=account.pk)
