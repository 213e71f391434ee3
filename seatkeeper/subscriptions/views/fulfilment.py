"""Customer rights and the fulfilment queue of manual orders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from seatkeeper.accounts.permissions import PARTNER_STAFF
from seatkeeper.subscriptions import display, selectors, services
from seatkeeper.subscriptions.forms import FulfilForm, RejectForm, RightsForm
from seatkeeper.subscriptions.permissions import Action
from seatkeeper.subscriptions.views.common import customer_for, refuse_unless, run


@login_required
def customer_rights(request, customer_pk: int):
    customer = customer_for(request, customer_pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(customer, Action.GRANT_RIGHTS))
    rights = selectors.rights_of(customer)
    fields = ["can_order", "can_increase", "can_decrease", "monthly_only", "can_change_renewal"]
    form = RightsForm(
        request.POST or None, initial={field: getattr(rights, field) for field in fields}
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        saved, status = run(
            form,
            lambda: services.rights_set(actor=request.user, customer=customer, **form.cleaned_data),
        )
        if saved is not None:
            messages.success(request, _("Rights saved."))
            return redirect("customer_subscriptions", customer_pk=customer.pk)
    return render(
        request,
        "subscriptions/customer_rights.html",
        {"customer": customer, "form": form},
        status=status,
    )


@login_required
def fulfilment_queue(request):
    if request.user.role not in PARTNER_STAFF:
        raise PermissionDenied(_("Only partner staff fulfil manual orders."))
    status = 200
    failed_form = None
    failed_pk = None
    if request.method == "POST":
        operation = selectors.get_operation_for_user(request.user, request.POST.get("operation"))
        if request.POST.get("decision") == "reject":
            form = RejectForm(request.POST)
            call = lambda: services.fulfilment_reject(  # noqa: E731
                actor=request.user, operation=operation, reason=form.cleaned_data["reason"]
            )
        else:
            form = FulfilForm(request.POST)
            call = lambda: services.fulfilment_complete(  # noqa: E731
                actor=request.user,
                operation=operation,
                vendor_reference=form.cleaned_data["vendor_reference"],
            )
        if form.is_valid():
            done, status = run(form, call)
            if done is not None:
                messages.success(request, _("Fulfilment recorded."))
                return redirect("fulfilment_queue")
        failed_form, failed_pk = form, operation.pk
        status = status if status != 200 else 400
    queue = list(selectors.fulfilment_queue(request.user)[:200])
    refused = list(selectors.refused_queue(request.user)[:200])
    return render(
        request,
        "subscriptions/fulfilment_queue.html",
        {
            "queue": queue,
            "refused": refused,
            "failed_form": failed_form,
            "failed_pk": failed_pk,
        },
        status=status,
    )
