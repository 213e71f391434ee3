"""django-filter on the API: the filter sets the pages use, with the pages' 400 (InvalidQuery,
one message per unknown value, in the error shape of seatkeeper.api.errors)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend

from seatkeeper.core.validation import filter_or_400


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend (so drf-spectacular describes the filters from the filter set), but a
    bad value answers the same 400 as on the pages."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        return filter_or_400(filterset_class, request, queryset)
