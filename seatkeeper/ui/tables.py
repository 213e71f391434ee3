"""Lists that search, sort, page and export to CSV, the same way on every page.

A view declares its columns; `build_table` applies the requested sort (only to declared
columns, so a query string cannot order by arbitrary fields) and pagination, and
`csv_response` streams every matching row with `.iterator()` so memory stays flat.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from seatkeeper.core.spreadsheet import safe_cell

PAGE_SIZES = (25, 50, 100)
EXPORT_CHUNK = 2000


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    value: Callable[[Any], Any]
    sort_field: str | None = None
    link: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        # Templates call any callable they meet with no arguments: `column.link` would be
        # called (and fail) instead of handed to `call_with`. Mark the functions as values.
        for function in (self.value, self.link):
            if function is not None:
                try:
                    function.do_not_call_in_templates = True  # type: ignore[attr-defined]
                except AttributeError:
                    pass  # a bound method: nothing to mark, and templates would not see it


@dataclass
class Table:
    columns: list[Column]
    page: Any
    sort: str
    descending: bool
    search: str
    page_size: int

    page_sizes = PAGE_SIZES

    @property
    def rows(self) -> Iterator[tuple[Any, list[tuple[Column, Any]]]]:
        for obj in self.page.object_list:
            yield obj, [(column, column.value(obj)) for column in self.columns]


def _sort(request, columns: list[Column], default: str) -> tuple[str, bool, list[str]]:
    requested = request.GET.get("sort", default)
    descending = requested.startswith("-")
    key = requested.lstrip("-")
    by_key = {column.key: column for column in columns if column.sort_field}
    if key not in by_key:
        key, descending = default.lstrip("-"), default.startswith("-")
    field = by_key[key].sort_field
    return key, descending, [f"-{field}" if descending else field, "-pk" if descending else "pk"]


def build_table(
    request,
    queryset: QuerySet,
    columns: list[Column],
    *,
    default_sort: str,
    shown: list[Column] | None = None,
) -> Table:
    """A sorted page of `queryset`; `shown` (default: all) are the columns drawn, while any of
    `columns` may sort, hidden ones included."""
    key, descending, ordering = _sort(request, columns, default_sort)
    try:
        page_size = int(request.GET.get("size", PAGE_SIZES[0]))
    except ValueError:
        page_size = PAGE_SIZES[0]
    if page_size not in PAGE_SIZES:
        page_size = PAGE_SIZES[0]
    paginator = Paginator(queryset.order_by(*ordering), page_size)
    page = paginator.get_page(request.GET.get("page"))
    return Table(
        columns=columns if shown is None else shown,
        page=page,
        sort=key,
        descending=descending,
        search=request.GET.get("q", ""),
        page_size=page_size,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    request, queryset: QuerySet, columns: list[Column], *, default_sort: str, filename: str
) -> StreamingHttpResponse:
    _key, _descending, ordering = _sort(request, columns, default_sort)
    writer = csv.writer(_Echo())

    def lines() -> Iterable[str]:
        yield "\ufeff"  # a byte-order mark so spreadsheet programs read UTF-8 accents right
        yield writer.writerow([str(column.label) for column in columns])
        for obj in queryset.order_by(*ordering).iterator(chunk_size=EXPORT_CHUNK):
            yield writer.writerow([safe_cell(column.value(obj)) for column in columns])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- lists whose columns a person chooses --------------------------------------------------------
# A list registers its columns (key, label) and the ones hidden until a person asks for them, so
# that it fits a 1,366 px laptop by default. The choice is kept per person
# (`User.table_columns`, set by `accounts.services.user_set_table_columns`).

_CHOOSABLE: dict[str, tuple[list[Column], frozenset[str]]] = {}


def register_choosable(table: str, columns: list[Column], *, hidden: set[str]) -> None:
    _CHOOSABLE[table] = (columns, frozenset(hidden))


def column_choices(table: str) -> list[tuple[str, str]]:
    columns, _hidden = _CHOOSABLE.get(table, ([], frozenset()))
    return [(column.key, column.label) for column in columns]


def visible_columns(user, table: str, columns: list[Column]) -> list[Column]:
    """The columns of `table` this person sees, in the list's order."""
    chosen = (getattr(user, "table_columns", None) or {}).get(table)
    if chosen is None:
        _columns, hidden = _CHOOSABLE.get(table, ([], frozenset()))
        return [column for column in columns if column.key not in hidden]
    return [column for i, column in enumerate(columns) if i == 0 or column.key in chosen]
