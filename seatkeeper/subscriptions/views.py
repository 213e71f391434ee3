"""Subscription pages: lists, the subscription page, lifecycle steps, the e-store, rights and
the fulfilment queue. Thin: scoped reads from selectors, every change through one service, and
the service's own message shown when it refuses."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.accounts.permissions import PARTNER_STAFF
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.activity.selectors import last_records
from seatkeeper.activity.wording import is_customer_viewer
from seatkeeper.catalog.models import OfferKind
from seatkeeper.catalog.selectors import offers_visible_to
from seatkeeper.core import clock, formatting
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.core.validation import object_id, quantity_problem
from seatkeeper.pricing.engine import PricingContext, partner_of
from seatkeeper.pricing.quotes import ProposedChange
from seatkeeper.subscriptions import display, exports, selectors, services
from seatkeeper.subscriptions.forms import (
    STATUS_FILTERS,
    AddonForm,
    ConfirmForm,
    EditForm,
    FulfilForm,
    QuantityForm,
    RejectForm,
    RenewalForm,
    RightsForm,
    ScheduleForm,
    StoreForm,
    split_term_cycle,
    subscription_filters,
    term_cycle_label,
    term_cycle_value,
)
from seatkeeper.subscriptions.models import (
    Operation,
    OperationState,
    Section,
    Status,
    Subscription,
)
from seatkeeper.subscriptions.permissions import Action
from seatkeeper.ui.tables import Column, build_table, register_choosable, visible_columns


def _columns(*, with_customer: bool) -> list[Column]:
    """Headers and sortable fields of the list; the cells are drawn by the template."""
    columns = [
        Column(
            "provider",
            gettext_lazy("Provider"),
            lambda s: s.offer.vendor.name,
            "offer__vendor__name",
        ),
        Column(
            "friendly_name",
            gettext_lazy("Friendly name"),
            lambda s: s.friendly_name,
            "friendly_name",
        ),
        Column("offer", gettext_lazy("Offer"), lambda s: s.offer.title, "offer__title"),
        Column("created", gettext_lazy("Creation date"), lambda s: s.created_at, "created_at"),
        Column("quantity", gettext_lazy("Quantity"), lambda s: s.quantity, "quantity"),
        Column("assigned", gettext_lazy("Assigned"), selectors.assigned_seats),
        Column(
            "commitment_end",
            gettext_lazy("Commitment end date"),
            lambda s: s.commitment_end_date,
            "commitment_end_date",
        ),
        Column("auto_renew", gettext_lazy("Auto renewable"), lambda s: s.auto_renew, "auto_renew"),
        Column("status", gettext_lazy("Status"), lambda s: s.status, "status"),
        Column("trial", gettext_lazy("Is trial"), lambda s: s.is_trial, "is_trial"),
        Column(
            "billing", gettext_lazy("Billing cycle"), lambda s: s.billing_cycle, "billing_cycle"
        ),
        Column("addons", gettext_lazy("Add-ons"), lambda s: s.addon_count, "addon_count"),
        Column("price", gettext_lazy("Price"), lambda s: None),
        Column("sync", gettext_lazy("Provisioning"), lambda s: s.sync_status, "sync_status"),
    ]
    if with_customer:
        columns.insert(
            0,
            Column(
                "customer", gettext_lazy("Customer"), lambda s: s.customer.name, "customer__name"
            ),
        )
    return columns


# Hidden until a person asks for them in the column chooser, so the list fits a 1,366 px laptop.
HIDDEN_BY_DEFAULT = {"created", "trial", "addons", "auto_renew"}
register_choosable("subscriptions", _columns(with_customer=False), hidden=HIDDEN_BY_DEFAULT)
register_choosable("subscriptions-all", _columns(with_customer=True), hidden=HIDDEN_BY_DEFAULT)


def filtered(request, queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """Status, section and search from the query string (shared by the pages and exports);
    an unknown value answers 400 naming the filter."""
    return selectors.filter_subscriptions(queryset, **subscription_filters(request.GET))


def _with_failed_operation(queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
    failed = Operation.objects.filter(
        subscription=OuterRef("pk"), state=OperationState.FAILED
    ).order_by("sequence")
    return queryset.annotate(failed_operation_id=Subquery(failed.values("pk")[:1]))


def _page_keys(request, customer: Organisation | None) -> QuerySet[Subscription]:
    """The rows of a page are found first by key alone (no joins to draw, no add-on count),
    then loaded in full: a deep page of 100,000 subscriptions walks an index instead of joining
    and counting add-ons for every row it skips."""
    queryset = selectors.subscriptions_visible_to(request.user)
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    if request.GET.get("sort", "").lstrip("-") == "addons":
        queryset = queryset.annotate(
            addon_count=Count("addons", filter=~Q(addons__status="cancelled"), distinct=True)
        )
    return filtered(request, queryset).only("pk")


def _page_rows(queryset: QuerySet[Subscription], keys: list[int]) -> list[Subscription]:
    by_key = {row.pk: row for row in _with_failed_operation(queryset.filter(pk__in=keys))}
    return [by_key[key] for key in keys if key in by_key]


def _list_page(request, *, customer: Organisation | None, template_context: dict):
    with_customer = customer is None
    columns = _columns(with_customer=with_customer)
    queryset = filtered(request, selectors.subscription_list(request.user, customer=customer))
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        return exports.export_response(
            request,
            queryset,
            columns=columns,
            audience=audience,
            file_format=export,
            filename=f"subscriptions-{clock.today().isoformat()}",
        )
    table_key = "subscriptions-all" if with_customer else "subscriptions"
    shown = visible_columns(request.user, table_key, columns)
    table = build_table(
        request, _page_keys(request, customer), columns, default_sort="-created", shown=shown
    )
    page_rows = _page_rows(queryset, [row.pk for row in table.page.object_list])
    pricer = display.RowPricer(
        request.user, audience, offer_ids=[row.offer_id for row in page_rows]
    )
    gate = display.ActionGate(request.user)
    assigned = selectors.assigned_by_subscription(page_rows)
    rows = [
        {
            "subscription": row,
            "price": pricer.price(row),
            "actions": gate.row_actions(row),
            "assigned": assigned.get(row.pk, 0),
        }
        for row in page_rows
    ]
    context = {
        "table": table,
        "rows": rows,
        "table_key": table_key,
        "all_columns": columns,
        "shown_keys": {column.key for column in shown},
        "customer": customer,
        "with_customer": with_customer,
        "status": request.GET.get("status", ""),
        "statuses": STATUS_FILTERS,
        "section": request.GET.get("section", ""),
        "sections": Section.choices,
        "audience": audience,
        "audiences": display.audiences_for(request.user),
        **template_context,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "subscriptions/subscription_list.html#table", context)
    return render(request, "subscriptions/subscription_list.html", context)


def _is_staff_above_customers(user) -> bool:
    kind = user.organisation.kind if user.organisation_id else None
    return kind in (OrganisationKind.PARTNER, OrganisationKind.RESELLER)


@login_required
def subscription_list_all(request):
    if not _is_staff_above_customers(request.user):
        if request.user.organisation_id is None:
            raise Http404
        return redirect("customer_subscriptions", customer_pk=request.user.organisation_id)
    return _list_page(request, customer=None, template_context={})


def _customer_for(request, customer_pk: int) -> Organisation:
    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    return customer


@login_required
def customer_subscriptions(request, customer_pk: int):
    customer = _customer_for(request, customer_pk)
    counts = dict(
        selectors.subscriptions_visible_to(request.user)
        .filter(customer=customer)
        .exclude(status=Status.CANCELLED)
        .order_by()
        .values_list("offer__kind")
        .annotate(n=Count("pk"))
    )
    gate = display.ActionGate(request.user)
    return _list_page(
        request,
        customer=customer,
        template_context={
            "section_tabs": [
                (value, label, counts.get(value, 0)) for value, label in Section.choices
            ],
            "activity": last_records(request.user, customer),
            "can_order": gate.allowed(customer, Action.ORDER),
            "can_grant": gate.allowed(customer, Action.GRANT_RIGHTS),
        },
    )


# --- one subscription ----------------------------------------------------------------------------


def _subscription(request, pk: int) -> Subscription:
    return selectors.get_subscription_for_user(request.user, pk)


def _tier_prices(request, subscription: Subscription) -> list[display.ShownPrice]:
    """The subscription's price for every audience the viewer may see, each explained."""
    context = PricingContext.load(
        partner=partner_of(subscription.customer), offer_ids=[subscription.offer_id]
    )
    prices = []
    for audience in display.audiences_for(request.user):
        price = display.price_offer(
            request.user,
            audience,
            context=context,
            offer_id=subscription.offer_id,
            customer=subscription.customer,
            term=subscription.term,
            billing_cycle=subscription.billing_cycle,
            quantity=subscription.quantity,
            subscription_id=subscription.pk,
        )
        if price.audience == audience:
            prices.append(price)
    return prices


@login_required
def subscription_detail(request, pk: int):
    subscription = _subscription(request, pk)
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    gate = display.ActionGate(request.user)
    addons = selectors.subscription_list(request.user).filter(parent=subscription)
    context = {
        "subscription": subscription,
        "actions": gate.row_actions(subscription),
        "prices": _tier_prices(request, subscription),
        "audience": audience,
        "lots": display.lot_views(subscription, audience=audience),
        "addons": addons.order_by("created_at"),
        "assigned": selectors.assigned_seats(subscription),
        "members": selectors.subscription_members(subscription),
        "history": selectors.history(subscription)
        .select_related("requested_by__organisation")
        .prefetch_related("attempt_log"),
        "refused": selectors.refused_operations(subscription),
        "trial_converts": subscription.is_trial and subscription.auto_renew,
        # While the vendor works on a change, the page refreshes itself until it settles (a
        # change waiting for a person in the fulfilment queue does not poll).
        "live": subscription.operations.filter(
            state__in=(OperationState.PENDING, OperationState.RUNNING)
        ).exists(),
        "term_label": term_cycle_label(subscription.term, subscription.billing_cycle),
        "renewal_label": term_cycle_label(
            subscription.renewal_term or subscription.term,
            subscription.renewal_billing_cycle or subscription.billing_cycle,
        ),
    }
    return render(request, "subscriptions/subscription_detail.html", context)


def _refuse_unless(gate_refusal: str | None) -> None:
    if gate_refusal:
        raise PermissionDenied(gate_refusal)


def _run(form, call: Callable[[], object]) -> tuple[object | None, int]:
    """Call a service; its refusal goes on the form with the HTTP status it deserves (403 for
    rights, 409 for a change made meanwhile by someone else, 200 for a rule)."""
    try:
        return call(), 200
    except Conflict as error:
        form.add_error(None, error.message)
        return None, 409
    except PermissionRefused as error:
        form.add_error(None, error.message)
        return None, 403
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None, 200
    except ValidationError as error:
        for field, errors in getattr(error, "message_dict", {None: error.messages}).items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
        return None, 200


class _DryRun(Exception):
    pass


def dry_run(call: Callable[[], object]) -> str | None:
    """The service's refusal for a change, without making it: the change runs in a transaction
    that is always rolled back (and its after-commit work is dropped with it)."""
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        return None
    except ServiceError as error:
        return error.message
    except ValidationError as error:
        return " ".join(error.messages)


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
    subscription = _subscription(request, pk)
    _refuse_unless(_change_refusal(request, subscription))
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
            saved, status = _run(
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
    subscription = _subscription(request, pk)
    _refuse_unless(_change_refusal(request, subscription))
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
        saved, status = _run(
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
    subscription = _subscription(request, pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(subscription.customer, Action.SUSPEND, subscription.term))
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
    subscription = _subscription(request, pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(subscription.customer, Action.REACTIVATE, subscription.term))
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
    subscription = _subscription(request, pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(subscription.customer, Action.CANCEL, subscription.term))
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


def _term_choices(subscription: Subscription) -> list[tuple[str, str]]:
    return _offer_term_choices(subscription.offer)


@login_required
def subscription_renewal(request, pk: int):
    subscription = _subscription(request, pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(subscription.customer, Action.RENEWAL, subscription.term))
    choices = _term_choices(subscription)
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
                saved, status = _run(
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
                saved, status = _run(
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


def _may_set_margin(request, customer: Organisation) -> bool:
    """A margin of its own for one subscription: set by the partner or reseller serving the
    customer (the pricing app's rule for a single subscription)."""
    from seatkeeper.catalog.permissions import can_set_rule

    return request.user.organisation_id is not None and can_set_rule(
        request.user, owner=request.user.organisation, tier="customer", target=customer
    )


def _set_margin(request, subscription: Subscription, data: dict) -> None:
    from seatkeeper.pricing.models import Tier
    from seatkeeper.pricing.services import margin_rule_set

    margin_rule_set(
        actor=request.user,
        owner=request.user.organisation,
        tier=Tier.CUSTOMER,
        method=data["margin_method"],
        value=data["margin_value"],
        target=subscription.customer,
        subscription_ref=str(subscription.pk),
    )


def _current_margin(subscription: Subscription):
    from seatkeeper.pricing.models import MarginRule

    return (
        MarginRule.objects.filter(
            subscription_ref=str(subscription.pk), target_id=subscription.customer_id
        )
        .order_by("-effective_from", "-id")
        .first()
    )


@login_required
def subscription_edit(request, pk: int):
    """The customer's labels, and for the partner or reseller a margin for this subscription
    ("only use this if you want to override the default margin configured at the customer
    level")."""
    subscription = _subscription(request, pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(subscription.customer, Action.EDIT, subscription.term))
    can_margin = _may_set_margin(request, subscription.customer)
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
                    _set_margin(request, subscription, data)
                return saved

        saved, status = _run(form, save)
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
            "margin": _current_margin(subscription) if can_margin else None,
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


# --- ordering ------------------------------------------------------------------------------------


def _offer_term_choices(offer) -> list[tuple[str, str]]:
    return [
        (
            term_cycle_value(term.term, term.billing_cycle),
            term_cycle_label(term.term, term.billing_cycle),
        )
        for term in offer.terms.all()
        if term.is_available
    ]


def _place(request, form, customer, *, lines, po_number="", start_date=None):
    return _run(
        form,
        lambda: services.order_place(
            actor=request.user,
            customer=customer,
            lines=lines,
            po_number=po_number,
            start_date=start_date,
        ),
    )


@login_required
def subscription_addons(request, pk: int):
    """Add an add-on that fits this subscription, with an optional margin of its own."""
    subscription = _subscription(request, pk)
    customer = subscription.customer
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(customer, Action.ORDER, subscription.term))
    offers = list(
        offers_visible_to(request.user)
        .filter(kind=OfferKind.ADDON, base_offers=subscription.offer, status="active")
        .prefetch_related("terms")
        .order_by("title")
    )
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    context = PricingContext.load(partner=partner_of(customer), offer_ids=[o.pk for o in offers])
    catalogue = []
    for offer in offers:
        terms = [
            (
                label,
                display.price_offer(
                    request.user,
                    audience,
                    context=context,
                    offer_id=offer.pk,
                    customer=customer,
                    term=value.split("|")[0],
                    billing_cycle=value.split("|")[1],
                    quantity=1,
                ),
            )
            for value, label in _offer_term_choices(offer)
        ]
        catalogue.append({"offer": offer, "terms": terms})
    can_margin = _may_set_margin(request, customer)
    all_terms = sorted({choice for offer in offers for choice in _offer_term_choices(offer)})
    form = AddonForm(
        request.POST or None,
        offer_choices=[(offer.pk, offer.title) for offer in offers],
        term_choices=all_terms,
        margin=can_margin,
        initial={
            "quantity": 1,
            "term_cycle": term_cycle_value(subscription.term, subscription.billing_cycle),
        },
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        offer = next(offer for offer in offers if offer.pk == data["offer"])
        term, cycle = split_term_cycle(data["term_cycle"])
        line = services.OrderLine(
            offer=offer,
            quantity=data["quantity"],
            term=term,
            billing_cycle=cycle,
            friendly_name=data["friendly_name"],
            parent=subscription,
        )

        def place():
            with transaction.atomic():
                order = services.order_place(actor=request.user, customer=customer, lines=[line])
                if can_margin and data.get("margin_method"):
                    _set_margin(request, order.subscriptions.get(), data)
                return order

        order, status = _run(form, place)
        if order is not None:
            messages.success(request, _("The add-on was ordered."))
            return redirect("subscription_detail", pk=order.subscriptions.get().pk)
    return render(
        request,
        "subscriptions/subscription_addons.html",
        {
            "subscription": subscription,
            "catalogue": catalogue,
            "form": form,
            "audience": audience,
            "can_margin": can_margin,
        },
        status=status,
    )


@login_required
def estore(request, customer_pk: int):
    """Category → product group → product; then term, quantity and labels; confirm to order."""
    customer = _customer_for(request, customer_pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(customer, Action.ORDER))
    offers = (
        offers_visible_to(request.user)
        .filter(status="active", vendor__is_active=True)
        .exclude(kind=OfferKind.ADDON)
    )
    categories = sorted(set(offers.values_list("category", flat=True)))
    category = request.GET.get("category", "")
    if category not in categories:
        category = categories[0] if categories else ""
    in_category = offers.filter(category=category)
    groups = sorted(set(in_category.values_list("product_group", flat=True)))
    group = request.GET.get("group", "")
    if group not in groups:
        group = groups[0] if groups else ""
    products = list(
        in_category.filter(product_group=group).prefetch_related("terms").order_by("title")
    )
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    selected = None
    source = request.POST if request.method == "POST" else request.GET
    if source.get("offer"):
        try:
            selected = offers.prefetch_related("terms").get(pk=object_id(source["offer"]))
        except (ValueError, offers.model.DoesNotExist):
            raise Http404("No such offer") from None
    pricing = PricingContext.load(
        partner=partner_of(customer),
        offer_ids=[offer.pk for offer in products] + ([selected.pk] if selected else []),
    )
    rows = []
    for offer in products:
        terms = [
            (
                label,
                display.price_offer(
                    request.user,
                    audience,
                    context=pricing,
                    offer_id=offer.pk,
                    customer=customer,
                    term=value.split("|")[0],
                    billing_cycle=value.split("|")[1],
                    quantity=1,
                ),
            )
            for value, label in _offer_term_choices(offer)
        ]
        rows.append({"offer": offer, "terms": terms})
    form = None
    price = None
    confirming = False
    status = 200
    if selected is not None:
        choices = _offer_term_choices(selected)

        def price_of(values: dict) -> display.ShownPrice:
            term, cycle = split_term_cycle(values["term_cycle"])
            return display.price_offer(
                request.user,
                audience,
                context=pricing,
                offer_id=selected.pk,
                customer=customer,
                term=term,
                billing_cycle=cycle,
                quantity=values["quantity"],
                on=values.get("start_date") or clock.today(),
            )

        if request.method == "POST":
            form = StoreForm(request.POST, term_choices=choices)
        else:
            form = StoreForm(
                initial={"offer": selected.pk, "quantity": max(selected.minimum_quantity, 1)},
                term_choices=choices,
            )
            if request.GET.get("preview"):
                # The price as the person types (quantity, term): read those two fields only,
                # place nothing and check nothing else until "Review the order".
                preview = StoreForm(request.GET, term_choices=choices)
                preview.is_valid()
                if "quantity" in preview.cleaned_data and "term_cycle" in preview.cleaned_data:
                    price = price_of(preview.cleaned_data)
                form.preview_errors = [
                    error
                    for field in ("quantity", "term_cycle")
                    for error in preview.errors.get(field, [])
                ]
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            term, cycle = split_term_cycle(data["term_cycle"])
            price = price_of(data)
            line = services.OrderLine(
                offer=selected,
                quantity=data["quantity"],
                term=term,
                billing_cycle=cycle,
                friendly_name=data["friendly_name"],
            )
            place = lambda: services.order_place(  # noqa: E731
                actor=request.user,
                customer=customer,
                lines=[line],
                po_number=data["po_number"],
                start_date=data["start_date"],
            )
            if request.POST.get("confirm") == "yes":
                order, status = _run(form, place)
                if order is not None:
                    subscription = order.subscriptions.get()
                    messages.success(
                        request,
                        _("%(name)s was ordered; it is being provisioned.")
                        % {"name": subscription.friendly_name},
                    )
                    return redirect("subscription_detail", pk=subscription.pk)
            else:
                refusal = dry_run(place)
                if refusal:
                    form.add_error(None, refusal)
                else:
                    confirming = True
    return render(
        request,
        "subscriptions/estore.html",
        {
            "customer": customer,
            "categories": categories,
            "category": category,
            "groups": groups,
            "group": group,
            "products": rows,
            "products_offers": products,
            "selected": selected,
            "form": form,
            "price": price,
            "confirming": confirming,
            "audience": audience,
        },
        status=status,
    )


# --- rights and fulfilment ------------------------------------------------------------------


@login_required
def customer_rights(request, customer_pk: int):
    customer = _customer_for(request, customer_pk)
    gate = display.ActionGate(request.user)
    _refuse_unless(gate.refusal(customer, Action.GRANT_RIGHTS))
    rights = selectors.rights_of(customer)
    fields = ["can_order", "can_increase", "can_decrease", "monthly_only", "can_change_renewal"]
    form = RightsForm(
        request.POST or None, initial={field: getattr(rights, field) for field in fields}
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        saved, status = _run(
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
            done, status = _run(form, call)
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
