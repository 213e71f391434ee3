from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from seatkeeper.providers.errors import UnexpectedResponse
from seatkeeper.providers.microsoft import paging


def seek_pages(total: int, size: int) -> dict[str, dict[str, Any]]:
    """Pages shaped like the documented customer list: continuation token + links.next."""
    pages: dict[str, dict[str, Any]] = {}
    for start in range(0, total, size):
        token = "" if start == 0 else f"token-{start}"
        items = [{"id": n} for n in range(start, min(start + size, total))]
        page: dict[str, Any] = {"totalCount": len(items), "items": items, "links": {}}
        if start + size < total:
            following = f"token-{start + size}"
            page["continuationToken"] = following
            page["links"]["next"] = {
                "uri": "/customers?size=2&seekOperation=Next",  # relative, without /v1
                "method": "GET",
                "headers": [{"key": "MS-ContinuationToken", "value": following}],
            }
        pages[token] = page
    return pages


def test_seek_paging_follows_continuation_tokens_lazily() -> None:
    # given
    pages = seek_pages(total=5, size=2)
    requests: list[tuple[str, Mapping[str, str]]] = []

    def fetch(path: str, headers: Mapping[str, str]) -> Mapping[str, Any]:
        requests.append((path, dict(headers)))
        return pages[headers.get("MS-ContinuationToken", "")]

    # when
    items = paging.iterate_items(fetch=fetch, path="/v1/customers?size=2")
    first_two = [next(items)["id"], next(items)["id"]]

    # then: only one page was fetched so far
    assert first_two == [0, 1]
    assert len(requests) == 1
    assert [item["id"] for item in items] == [2, 3, 4]
    assert requests == [
        ("/v1/customers?size=2", {}),
        ("/v1/customers?size=2&seekOperation=Next", {"MS-ContinuationToken": "token-2"}),
        ("/v1/customers?size=2&seekOperation=Next", {"MS-ContinuationToken": "token-4"}),
    ]


def test_offset_paging_follows_next_links() -> None:
    pages = {
        "/v1/invoices?size=2&offset=0": {
            "items": [{"id": "a"}, {"id": "b"}],
            "links": {"next": {"uri": "/v1/invoices?size=2&offset=2"}},
        },
        "/v1/invoices?size=2&offset=2": {"items": [{"id": "c"}], "links": {}},
    }

    items = paging.iterate_items(
        fetch=lambda path, headers: pages[path], path="/v1/invoices?size=2&offset=0"
    )

    assert [item["id"] for item in items] == ["a", "b", "c"]


def test_a_bare_array_is_one_page() -> None:
    items = paging.iterate_items(fetch=lambda path, headers: [{"a": 1}], path="/v1/x")  # type: ignore[arg-type,return-value]
    assert list(items) == [{"a": 1}]


def test_a_next_link_pointing_back_stops_with_an_error() -> None:
    page = {"items": [{"id": 1}], "links": {"next": {"uri": "/v1/loop"}}}

    with pytest.raises(UnexpectedResponse):
        list(paging.iterate_items(fetch=lambda path, headers: page, path="/v1/loop"))


@pytest.mark.parametrize(
    ("_case", "uri", "expected"),
    [
        ("relative without v1", "/customers?size=40", "/v1/customers?size=40"),
        ("relative with v1", "/v1/customers?size=40", "/v1/customers?size=40"),
        ("no leading slash", "customers/1", "/v1/customers/1"),
        ("absolute reduced to path", "https://evil.example/v1/x?a=1", "/v1/x?a=1"),
    ],
)
def test_links_are_normalised_under_v1(_case: str, uri: str, expected: str) -> None:
    assert paging.normalise_link(uri) == expected


def test_a_cursor_round_trips_and_cannot_leave_the_api_host() -> None:
    cursor = paging.encode_cursor(
        ("/v1/customers?seekOperation=Next", {"MS-ContinuationToken": "t"})
    )
    assert paging.decode_cursor(cursor) == (
        "/v1/customers?seekOperation=Next",
        {"MS-ContinuationToken": "t"},
    )

    forged = paging.encode_cursor(("https://evil.example/steal", {}))
    assert paging.decode_cursor(forged) == ("/v1/steal", {})

    with pytest.raises(UnexpectedResponse):
        paging.decode_cursor("not a cursor")
