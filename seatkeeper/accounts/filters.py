"""The one filter definition of the organisations list (django-filter): the page, its CSV export
and the REST API's list read the same parameters, so an export honours the filters applied in
place and the schema describes them from this class."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts import selectors
from seatkeeper.accounts.models import Organisation, OrganisationKind


class OrganisationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        max_length=200,
        help_text=_("Words found in the name, legal name, e-mail, VAT number or city."),
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=OrganisationKind.choices)

    class Meta:
        model = Organisation
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        return selectors.search_organisations(queryset, value)
