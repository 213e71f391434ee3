"""The one filter definition of the subscription lists (django-filter).

The list pages, their CSV and XLSX exports and the REST API's list all read their query string
through `SubscriptionFilter`, so a filter applied in place on the page is the filter of its
export link, and the API accepts the very parameters the page puts in the address bar. The
OpenAPI schema describes them from this class (drf-spectacular's django-filter extension)."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.core.validation import MAX_ID
from seatkeeper.subscriptions import selectors
from seatkeeper.subscriptions.models import Section, Subscription

# "failed" is not a status: it is a subscription whose provisioning failed.
STATUS_FILTERS = [
    ("active", _("Active")),
    ("suspended", _("Suspended")),
    ("expired", _("Expired")),
    ("cancelled", _("Cancelled")),
    ("pending", _("Pending")),
    ("failed", _("Failed")),
]


class WholeNumberFilter(django_filters.NumberFilter):
    """A whole number (a NumberFilter would take "1.5")."""

    field_class = forms.IntegerField


class IdFilter(django_filters.NumberFilter):
    """An object id: a whole number 1…MAX_ID (a NumberFilter would take "1.5")."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class SubscriptionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        label=_("Subscription status"),
        choices=STATUS_FILTERS,
        method="filter_status",
        help_text=_("A status, or “failed”: the vendor refused the subscription's provisioning."),
    )
    section = django_filters.ChoiceFilter(
        label=_("Section"), choices=Section.choices, field_name="offer__kind"
    )
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        max_length=200,
        help_text=_(
            "Words found in the friendly name, offer, customer, PO number, external identifier "
            "or vendor subscription id."
        ),
    )
    customer = IdFilter(
        label=_("Customer"),
        method="filter_customer",
        help_text=_("Only this customer's subscriptions (one you may see, else 404)."),
    )

    # The dashboard's figures link here: active subscriptions whose term ends within so many
    # days, and those with seats whose cancellation window closes within so many hours.
    renews_within = WholeNumberFilter(
        label=_("Renews within (days)"),
        method="filter_renews_within",
        min_value=1,
        max_value=366,
        help_text=_("Active subscriptions whose term ends within so many days (1-366)."),
    )
    cancellable_within = WholeNumberFilter(
        label=_("Cancellation window closing within (hours)"),
        method="filter_cancellable_within",
        min_value=1,
        max_value=24 * 31,
        help_text=_(
            "Active subscriptions with seats whose cancellation window closes within so many "
            "hours (1-744)."
        ),
    )

    class Meta:
        model = Subscription
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        return selectors.with_status(queryset, value)

    def filter_search(self, queryset, name, value):
        return selectors.search_subscriptions(queryset, value)

    def filter_renews_within(self, queryset, name, value):
        return selectors.renewing_within(queryset, value)

    def filter_cancellable_within(self, queryset, name, value):
        return selectors.cancellable_within(queryset, value)

    def filter_customer(self, queryset, name, value):
        return queryset.filter(customer=get_organisation_for_user(self.request.user, value))
