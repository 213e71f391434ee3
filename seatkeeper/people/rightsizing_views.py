"""The right-sizing page: seats paid for and held by nobody, with what reducing them at renewal
would save, for everything the viewer sees, one customer or one subscription."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.core.validation import MAX_ID, clean_query
from seatkeeper.people.rightsizing import idle_seats
from seatkeeper.pricing.engine import Audience
from seatkeeper.subscriptions.display import audiences_for
from seatkeeper.subscriptions.selectors import get_subscription_for_user, subscriptions_visible_to

PAGE_SIZE = 50


class RightSizingFilterForm(forms.Form):
    """The filters of the page and of the API (one definition)."""

    customer = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    subscription = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    audience = forms.ChoiceField(
        choices=[("", ""), *((audience.value, audience.value) for audience in Audience)],
        required=False,
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)


def right_sizing_for(user, params):
    """The right-sizing of what `params` asks for; another organisation's customer or
    subscription answers 404, a bad value 400 naming its field."""
    values = clean_query(RightSizingFilterForm, params)
    queryset = subscriptions_visible_to(user)
    scope = {"customer": None, "subscription": None}
    if values["customer"]:
        scope["customer"] = get_organisation_for_user(user, values["customer"])
        queryset = queryset.filter(customer=scope["customer"])
    if values["subscription"]:
        scope["subscription"] = get_subscription_for_user(user, values["subscription"])
        queryset = queryset.filter(pk=scope["subscription"].pk)
    result = idle_seats(user, subscriptions=queryset, audience=values["audience"] or None)
    return result, scope, values


@login_required
def right_sizing(request):
    result, scope, values = right_sizing_for(request.user, request.GET)
    page = Paginator(result.rows, PAGE_SIZE).get_page(values["page"] or 1)
    return render(
        request,
        "people/right_sizing.html",
        {
            "result": result,
            "page": page,
            "audiences": audiences_for(request.user),
            "nav_active": "subscriptions",
            **scope,
        },
    )
