"""One subscription's page: its prices for every audience, lots, add-ons, members and history."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from seatkeeper.subscriptions import display, selectors
from seatkeeper.subscriptions.forms import term_cycle_label
from seatkeeper.subscriptions.views.common import subscription_for


@login_required
def subscription_detail(request, pk: int):
    subscription = subscription_for(request, pk)
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    gate = display.ActionGate(request.user)
    addons = selectors.subscription_list(request.user).filter(parent=subscription)
    context = {
        "subscription": subscription,
        "actions": gate.row_actions(subscription),
        "prices": display.tier_prices(request.user, subscription),
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
        # While the vendor works on a change, the page refreshes itself until it settles.
        "live": selectors.has_operation_in_flight(subscription),
        "term_label": term_cycle_label(subscription.term, subscription.billing_cycle),
        "renewal_label": term_cycle_label(
            subscription.renewal_term or subscription.term,
            subscription.renewal_billing_cycle or subscription.billing_cycle,
        ),
    }
    return render(request, "subscriptions/subscription_detail.html", context)
