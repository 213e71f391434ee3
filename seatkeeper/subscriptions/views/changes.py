"""Changes to one subscription: quantity (with its live quote), suspend, reactivate, end, renewal,
labels and margin, and sending again or withdrawing a refused operation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from seatkeeper.activity.wording import is_customer_viewer
from seatkeeper.core import formatting
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.validation import quantity_problem
from seatkeeper.pricing.quotes import ProposedChange
from seatkeeper.subscriptions import display, selectors, services
from seatkeeper.subscriptions.forms import (
    ConfirmForm,
    EditForm,
    QuantityForm,
    RenewalForm,
    ScheduleForm,
    split_term_cycle,
    term_cycle_value,
)
from seatkeeper.subscriptions.models import Operation, Status, Subscription
from seatkeeper.subscriptions.permissions import Action
from seatkeeper.subscriptions.views.common import (
    dry_run,
    may_set_margin,
    offer_term_choices,
    refuse_unless,
    run,
    set_margin,
    subscription_for,
)


def _quote_context(request, subscription: Subscription, quantity: int | None) -> dict:
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    context: dict = {"subscription": subscription, "audience": audience, "quantity": quantity}
    if quantity is None or quantity < 1:
        context["error"] = _("Give a quantity of at least 1.")
        return context
    if quantity != subscription.quantity:
        context["refusal"] = dry_run(
            lambda: services.subscription_change_quantity(
                actor=request.user, subscription=subscription, quantity=quantity
            )
        )
    try:
        context["quote"] = services.quote(
            subscription,
            ProposedChange(quantity=quantity),
            audience=audience,
            reveal_sources=not is_customer_viewer(request.user),
        )
    except ServiceError as error:
        context["error"] = error.message
    return context


def _change_refusal(request, subscription: Subscription) -> str | None:
    gate = display.ActionGate(request.user)
    increase = gate.refusal(subscription.customer, Action.INCREASE, subscription.term)
    decrease = gate.refusal(subscription.customer, Action.DECREASE, subscription.term)
    return increase if increase and decrease else None


@login_required
def subscription_quantity(request, pk: int):
    subscription = subscription_for(request, pk)
    refuse_unless(_change_refusal(request, subscription))
    status = 200
    if request.method == "POST":
        form = QuantityForm(request.POST)
        if form.is_valid() and form.cleaned_data["quantity"] == subscription.quantity:
            messages.info(
                request,
                ngettext(
                    "Nothing changed: the subscription already has %(n)s seat.",
                    "Nothing changed: the subscription already has %(n)s seats.",
                    subscription.quantity,
                )
                % {"n": formatting.format_quantity(subscription.quantity)},
            )
            return redirect("subscription_detail", pk=subscription.pk)
        if form.is_valid():
            saved, status = run(
                form,
                lambda: services.subscription_change_quantity(
                    actor=request.user,
                    subscription=subscription,
                    quantity=form.cleaned_data["quantity"],
                    expected_version=form.cleaned_data["version"],
                ),
            )
            if saved is not None:
                messages.success(request, _("The quantity was changed."))
                return redirect("subscription_detail", pk=subscription.pk)
        quantity = form.cleaned_data.get("quantity") if hasattr(form, "cleaned_data") else None
    else:
        form = QuantityForm(
            initial={"quantity": subscription.quantity, "version": subscription.version}
        )
        quantity = subscription.quantity
    context = _quote_context(request, subscription, quantity)
    context.update(
        form=form,
        conflict=status == 409,
        lots=display.lot_views(subscription, audience=context["audience"]),
    )
    return render(request, "subscriptions/subscription_quantity.html", context, status=status)


@login_required
def subscription_quantity_preview(request, pk: int):
    subscription = subscription_for(request, pk)
    refuse_unless(_change_refusal(request, subscription))
    try:
        quantity = int(request.GET.get("quantity", ""))
    except ValueError:
        quantity = None
    problem = quantity_problem(quantity, minimum=1) if quantity is not None else None
    if problem:
        # Out of bounds: said in the fragment, with 400, before any price is worked out.
        context = {"subscription": subscription, "quantity": None}
        context["error"] = _("The quantity %(problem)s") % {"problem": problem}
        return render(request, "subscriptions/_quote.html", context, status=400)
    return render(
        request,
        "subscriptions/_quote.html",
        _quote_context(request, subscription, quantity),
    )


def _confirm_page(request, subscription, *, title, question, button, service, done, extra=None):
    """A confirmation step, then the service; `extra` adds to the page (a refund quote)."""
    status = 200
    form = ConfirmForm(request.POST or None, initial={"version": subscription.version})
    if request.method == "POST" and form.is_valid():
        saved, status = run(
            form,
            lambda: service(
                actor=request.user,
                subscription=subscription,
                expected_version=form.cleaned_data["version"],
            ),
        )
        if saved is not None:
            messages.success(request, done)
            return redirect("subscription_detail", pk=subscription.pk)
    context = {
        "subscription": subscription,
        "form": form,
        "title": title,
        "question": question,
        "button": button,
        "conflict": status == 409,
        **(extra or {}),
    }
    return render(request, "subscriptions/subscription_confirm.html", context, status=status)


@login_required
def subscription_suspend(request, pk: int):
    """Suspending asks twice: a first confirmation, then a second, explicit one."""
    subscription = subscription_for(request, pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(subscription.customer, Action.SUSPEND, subscription.term))
    step = request.POST.get("step", "1") if request.method == "POST" else "0"
    if step in ("0", "1"):
        form = ConfirmForm(initial={"version": request.POST.get("version", subscription.version)})
        return render(
            request,
            "subscriptions/subscription_confirm.html",
            {
                "subscription": subscription,
                "form": form,
                "title": _("Suspend %(name)s") % {"name": subscription.friendly_name},
                "question": (
                    _(
                        "Suspend this subscription? Its users lose the service until it is "
                        "reactivated."
                    )
                    if step == "0"
                    else _(
                        "Please confirm again: %(n)s seats of %(name)s stop working as soon as the "
                        "vendor applies the suspension."
                    )
                    % {"n": subscription.quantity, "name": subscription.friendly_name}
                ),
                "button": _("Confirm") if step == "0" else _("Confirm suspension"),
                "step": "1" if step == "0" else "2",
                "danger": True,
            },
        )
    return _confirm_page(
        request,
        subscription,
        title=_("Suspend %(name)s") % {"name": subscription.friendly_name},
        question=_("Please confirm again."),
        button=_("Confirm suspension"),
        service=services.subscription_suspend,
        done=_("The subscription is being suspended."),
        extra={"step": "2", "danger": True},
    )


@login_required
def subscription_reactivate(request, pk: int):
    subscription = subscription_for(request, pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(subscription.customer, Action.REACTIVATE, subscription.term))
    return _confirm_page(
        request,
        subscription,
        title=_("Reactivate %(name)s") % {"name": subscription.friendly_name},
        question=_("Reactivate this subscription? Its users get the service back."),
        button=_("Reactivate"),
        service=services.subscription_reactivate,
        done=_("The subscription is being reactivated."),
    )


@login_required
def subscription_cancel(request, pk: int):
    subscription = subscription_for(request, pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(subscription.customer, Action.CANCEL, subscription.term))
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    refusal = dry_run(
        lambda: services.subscription_cancel(actor=request.user, subscription=subscription)
    )
    refund = None
    if refusal is None and subscription.status != Status.PENDING and subscription.quantity:
        try:
            refund = services.quote(
                subscription,
                ProposedChange(quantity=0),
                audience=audience,
                reveal_sources=not is_customer_viewer(request.user),
            )
        except ServiceError as error:
            refusal = error.message
    return _confirm_page(
        request,
        subscription,
        title=_("End %(name)s") % {"name": subscription.friendly_name},
        question=_("End this subscription now? This cannot be undone."),
        button=_("End subscription"),
        service=services.subscription_cancel,
        done=_("The subscription is ending: the vendor is being told."),
        extra={
            "refusal": refusal,
            "refund": refund,
            "audience": audience,
            "deadline": subscription.cancellation_allowed_until,
            "danger": True,
        },
    )


@login_required
def subscription_renewal(request, pk: int):
    subscription = subscription_for(request, pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(subscription.customer, Action.RENEWAL, subscription.term))
    choices = offer_term_choices(subscription.offer)
    version = {"version": subscription.version}
    renewal_form = RenewalForm(initial={**version, "renewal_option": subscription.renewal_option})
    schedule_initial = {
        **version,
        "renewal_quantity": subscription.renewal_quantity,
        "renewal_term_cycle": term_cycle_value(
            subscription.renewal_term, subscription.renewal_billing_cycle
        )
        if subscription.renewal_term or subscription.renewal_billing_cycle
        else "",
    }
    schedule_form = ScheduleForm(initial=schedule_initial, term_choices=choices)
    status = 200
    if request.method == "POST":
        saved = None
        if request.POST.get("form") == "schedule":
            schedule_form = ScheduleForm(request.POST, term_choices=choices)
            if schedule_form.is_valid():
                data = schedule_form.cleaned_data
                term, cycle = split_term_cycle(data["renewal_term_cycle"])
                saved, status = run(
                    schedule_form,
                    lambda: services.subscription_schedule_renewal(
                        actor=request.user,
                        subscription=subscription,
                        quantity=data["renewal_quantity"],
                        term=term,
                        billing_cycle=cycle,
                        expected_version=data["version"],
                    ),
                )
        else:
            renewal_form = RenewalForm(request.POST)
            if renewal_form.is_valid():
                saved, status = run(
                    renewal_form,
                    lambda: services.subscription_set_renewal(
                        actor=request.user,
                        subscription=subscription,
                        option=renewal_form.cleaned_data["renewal_option"],
                        expected_version=renewal_form.cleaned_data["version"],
                    ),
                )
        if saved is not None:
            messages.success(request, _("Renewal settings saved."))
            return redirect("subscription_detail", pk=subscription.pk)
    return render(
        request,
        "subscriptions/subscription_renewal.html",
        {
            "subscription": subscription,
            "renewal_form": renewal_form,
            "schedule_form": schedule_form,
            "conflict": status == 409,
            "trial_converts": subscription.is_trial and subscription.auto_renew,
        },
        status=status,
    )


@login_required
def subscription_edit(request, pk: int):
    """The customer's labels, and for the partner or reseller a margin for this subscription
    ("only use this if you want to override the default margin configured at the customer
    level")."""
    subscription = subscription_for(request, pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(subscription.customer, Action.EDIT, subscription.term))
    can_margin = may_set_margin(request, subscription.customer)
    form = EditForm(
        request.POST or None,
        margin=can_margin,
        initial={
            "version": subscription.version,
            "friendly_name": subscription.friendly_name,
            "po_number": subscription.po_number,
            "external_identifier": subscription.external_identifier,
        },
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def save():
            with transaction.atomic():
                saved = services.subscription_edit_details(
                    actor=request.user,
                    subscription=subscription,
                    friendly_name=data["friendly_name"],
                    po_number=data["po_number"],
                    external_identifier=data["external_identifier"],
                    expected_version=data["version"],
                )
                if can_margin and data.get("margin_method"):
                    set_margin(request, subscription, data)
                return saved

        saved, status = run(form, save)
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("subscription_detail", pk=subscription.pk)
    return render(
        request,
        "subscriptions/subscription_edit.html",
        {
            "subscription": subscription,
            "form": form,
            "conflict": status == 409,
            "margin": selectors.own_margin_rule(subscription) if can_margin else None,
        },
        status=status,
    )


@login_required
@require_POST
def operation_retry(request, pk: int):
    operation = selectors.get_operation_for_user(request.user, pk)
    try:
        services.operation_retry(actor=request.user, operation=operation)
    except PermissionRefused as error:
        raise PermissionDenied(error.message) from error
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The operation was sent to the vendor again."))
    return _back(request, operation)


@login_required
@require_POST
def operation_withdraw(request, pk: int):
    operation = selectors.get_operation_for_user(request.user, pk)
    try:
        services.operation_withdraw(actor=request.user, operation=operation)
    except PermissionRefused as error:
        raise PermissionDenied(error.message) from error
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("The change was withdrawn: the subscription is back to what the vendor has."),
        )
    return _back(request, operation)


def _back(request, operation: Operation):
    """Back to the fulfilment queue when the button was there, else to the subscription."""
    if request.POST.get("back") == "queue":
        return redirect("fulfilment_queue")
    return redirect("subscription_detail", pk=operation.subscription_id)
