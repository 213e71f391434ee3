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


def test_a_token_only_in_the_response_header_is_sent_with_the_next_link() -> None:
    # given: the next link has no headers and the body no token
    first = {"items": [{"id": 1}], "links": {"next": {"uri": "/users?size=1&seekOperation=Next"}}}
    last = {"items": [{"id": 2}], "links": {}}
    requests: list[tuple[str, dict[str, str]]] = []

    def fetch(path: str, headers: Mapping[str, str]) -> paging.Fetched:
        requests.append((path, dict(headers)))
        if headers:
            return paging.Fetched(last, {"ms-continuationtoken": "ignored-on-the-last-page"})
        return paging.Fetched(first, {"MS-ContinuationToken": "from-the-header"})

    # when
    ids = [item["id"] for item in paging.iterate_items(fetch=fetch, path="/v1/users?size=1")]

    # then: and a token echoed on the last page does not invent another page
    assert ids == [1, 2]
    assert requests == [
        ("/v1/users?size=1", {}),
        ("/v1/users?size=1&seekOperation=Next", {"MS-ContinuationToken": "from-the-header"}),
    ]


def test_a_token_only_in_the_body_travels_with_a_bare_next_link() -> None:
    page = {
        "continuationToken": "body-token",
        "items": [],
        "links": {"next": {"uri": "/auditrecords?size=2&seekOperation=Next", "headers": []}},
    }

    assert paging.next_request(page) == (
        "/v1/auditrecords?size=2&seekOperation=Next",
        {"MS-ContinuationToken": "body-token"},
    )


def test_a_body_token_without_a_next_link_continues_the_seek() -> None:
    page = {"continuationToken": "more", "items": [{"id": 1}], "links": {"self": {"uri": "/x"}}}

    following = paging.next_request(page, current_path="/v1/customers?size=1")

    assert following == (
        "/v1/customers?size=1&seekOperation=Next",
        {"MS-ContinuationToken": "more"},
    )


@pytest.mark.parametrize(
    ("_case", "uri", "expected"),
    [
        (
            "second question mark",
            "/invoices/G1/lineitems?provider=OneTime&size=2?seekOperation=Next",
            "/v1/invoices/G1/lineitems?provider=OneTime&size=2&seekOperation=Next",
        ),
        (
            "well formed",
            "/customers?size=2&seekOperation=Next",
            "/v1/customers?size=2&seekOperation=Next",
        ),
        ("no query", "/customers", "/v1/customers"),
    ],
)
def test_malformed_next_links_are_repaired(_case: str, uri: str, expected: str) -> None:
    assert paging.normalise_link(uri) == expected


def test_a_stored_cursor_made_from_a_header_token_resumes() -> None:
    # given: a page whose token came only in the response header
    page = {"items": [{"id": 1}], "links": {"next": {"uri": "/customers?seekOperation=Next"}}}

    def fetch(path: str, headers: Mapping[str, str]) -> paging.Fetched:
        return paging.Fetched(page, {"MS-ContinuationToken": "t1"})

    # when
    items, cursor = paging.fetch_page(fetch=fetch, path="/v1/customers", cursor=None)

    # then
    assert items == [{"id": 1}]
    assert cursor is not None
    assert paging.decode_cursor(cursor) == (
        "/v1/customers?seekOperation=Next",
        {"MS-ContinuationToken": "t1"},
    )
