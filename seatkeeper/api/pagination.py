"""Pages of every API list: `limit` 1…MAX_PAGE_SIZE (default DEFAULT_PAGE_SIZE) and `offset`
0…MAX_OFFSET. A value out of range, or not a whole number, answers 400 naming the parameter
(DRF's own class would ignore it, or pass a number too large for the database to the query)."""

from __future__ import annotations

from django import forms
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from seatkeeper.core.validation import (
    DEFAULT_PAGE_SIZE,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    clean_query,
)


class PageForm(forms.Form):
    limit = forms.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)
    offset = forms.IntegerField(min_value=0, max_value=MAX_OFFSET, required=False)


class Pagination(LimitOffsetPagination):
    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        page = clean_query(PageForm, request.query_params)
        self._page = page
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request) -> int:
        return self._page.get("limit") or self.default_limit

    def get_offset(self, request) -> int:
        return self._page.get("offset") or 0

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"].update(minimum=1, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)
        limit["description"] = (
            f"Rows per page, 1 to {MAX_PAGE_SIZE} ({DEFAULT_PAGE_SIZE} unless given)."
        )
        offset["schema"].update(minimum=0, maximum=MAX_OFFSET, default=0)
        return [limit, offset]


def paginated(request, view, rows, serialize) -> Response:
    """One page of `rows` (a queryset or a list), serialized by `serialize(page)`. The view
    declares `pagination_class = Pagination`, so that its schema says it answers pages."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(serialize(page))
