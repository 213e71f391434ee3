"""Ordering: the e-store (category → group → product → review → confirm) and add-ons of a
subscription (choose → review with price → confirm)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from seatkeeper.accounts.selectors import partner_of
from seatkeeper.catalog.models import OfferKind
from seatkeeper.catalog.selectors import offers_visible_to
from seatkeeper.core import clock
from seatkeeper.core.validation import object_id
from seatkeeper.pricing.engine import PricingContext
from seatkeeper.subscriptions import display, rules, selectors, services
from seatkeeper.subscriptions.forms import (
    AddonForm,
    StoreForm,
    split_term_cycle,
    term_cycle_label,
    term_cycle_value,
)
from seatkeeper.subscriptions.permissions import Action
from seatkeeper.subscriptions.views.common import (
    customer_for,
    dry_run,
    may_set_margin,
    offer_term_choices,
    refuse_unless,
    run,
    set_margin,
    subscription_for,
)


@login_required
def subscription_addons(request, pk: int):
    """Add an add-on that fits this subscription, with an optional margin of its own."""
    subscription = subscription_for(request, pk)
    customer = subscription.customer
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(customer, Action.ORDER, subscription.term))
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
        terms = display.unit_prices(
            request.user, audience, context, offer, customer, offer_term_choices(offer)
        )
        catalogue.append({"offer": offer, "terms": terms})
    can_margin = may_set_margin(request, customer)
    all_terms = sorted({choice for offer in offers for choice in offer_term_choices(offer)})
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
    chosen = None
    price = None
    confirming = False
    # Choose → review (the price, and the services' refusal if any, nothing written) → confirm.
    # "Change" on the review goes back to the form with what was chosen.
    if request.method == "POST" and form.is_valid() and not request.POST.get("edit"):
        data = form.cleaned_data
        chosen = next(offer for offer in offers if offer.pk == data["offer"])
        term, cycle = split_term_cycle(data["term_cycle"])
        line = services.OrderLine(
            offer=chosen,
            quantity=data["quantity"],
            term=term,
            billing_cycle=cycle,
            friendly_name=data["friendly_name"],
            parent=subscription,
        )
        price = display.price_offer(
            request.user,
            audience,
            context=context,
            offer_id=chosen.pk,
            customer=customer,
            term=term,
            billing_cycle=cycle,
            quantity=data["quantity"],
        )

        def place():
            with transaction.atomic():
                order = services.order_place(actor=request.user, customer=customer, lines=[line])
                if can_margin and data.get("margin_method"):
                    set_margin(request, order.subscriptions.get(), data)
                return order

        if request.POST.get("confirm") == "yes":
            order, status = run(form, place)
            if order is not None:
                messages.success(request, _("The add-on was ordered."))
                return redirect("subscription_detail", pk=order.subscriptions.get().pk)
        else:
            refusal = dry_run(place)
            if refusal:
                form.add_error(None, refusal)
            else:
                confirming = True
    return render(
        request,
        "subscriptions/subscription_addons.html",
        {
            "subscription": subscription,
            "catalogue": catalogue,
            "form": form,
            "audience": audience,
            "can_margin": can_margin,
            "chosen": chosen,
            "price": price,
            "confirming": confirming,
            "term_label": term_cycle_label(*split_term_cycle(form.cleaned_data["term_cycle"]))
            if confirming
            else "",
        },
        status=status,
    )


@login_required
def estore(request, customer_pk: int):
    """Category → product group → product; then term, quantity and labels; confirm to order."""
    customer = customer_for(request, customer_pk)
    gate = display.ActionGate(request.user)
    refuse_unless(gate.refusal(customer, Action.ORDER))
    shelf = selectors.store_shelf(
        request.user, category=request.GET.get("category", ""), group=request.GET.get("group", "")
    )
    offers, products = shelf.offers, shelf.products
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
        terms = display.unit_prices(
            request.user, audience, pricing, offer, customer, offer_term_choices(offer)
        )
        rows.append({"offer": offer, "terms": terms})
    form = None
    price = None
    confirming = False
    status = 200
    if selected is not None:
        choices = offer_term_choices(selected)

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
                initial={"offer": selected.pk, "quantity": rules.fewest_seats(selected)},
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
                order, status = run(form, place)
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
            "categories": shelf.categories,
            "category": shelf.category,
            "groups": shelf.groups,
            "group": shelf.group,
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
