"""Lazy iteration over Partner Center collections, whatever their paging style.

Protocol facts relied on:
- Every collection is `{"totalCount", "items", "links": {"next"?}, "continuationToken"?}` where
  `totalCount` counts the items of THIS page only, so it cannot tell us when to stop. Legacy
  answers spell the same keys in PascalCase (`Items`, `Links.Next.Uri`, `ContinuationToken`).
- Seek paging (customers, users, audit records, recon line items): the next page is
  `links.next.uri` (ending `seekOperation=Next`) fetched with the headers listed in
  `links.next.headers`, i.e. `MS-ContinuationToken: <token>`. The token may instead be only in
  the body's `continuationToken`, or only in the response's `MS-ContinuationToken` header.
- Offset paging (invoices, offers): `links.next.uri` carries the next `offset`.
- The last page has no `links.next` (and no continuation token in its body).
- Some next links are malformed: `...&size=2?seekOperation=Next` (a second `?`), as in the
  documented reconciliation sample; every `?` after the first is read as `&`.
So one rule covers both: follow `links.next`, copying its headers. Link URIs are relative and may
lack the `/v1` prefix; like the official SDK we add it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from seatkeeper.providers.errors import UnexpectedResponse
from seatkeeper.providers.microsoft.parsing import get, text

CONTINUATION_HEADER = "MS-ContinuationToken"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A decoded page with the response headers it came with (a continuation token may be
    there and nowhere else)."""

    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


# fetch(path_with_query, extra_headers) -> the decoded page, bare or with its response headers
FetchPage = Callable[[str, Mapping[str, str]], "Mapping[str, Any] | list[Any] | Fetched"]

# Stops a server that keeps answering "next" from looping us forever (20M items at 2000/page).
MAX_PAGES = 10_000


def repair_query(uri: str) -> str:
    """`/x?size=2?seekOperation=Next` -> `/x?size=2&seekOperation=Next`."""
    path, mark, query = uri.partition("?")
    return path + mark + query.replace("?", "&") if mark else uri


def normalise_link(uri: str) -> str:
    """A link from a response as a path (with query) under `/v1`."""
    uri = repair_query(uri.strip())
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        # Absolute links are reduced to their path: the bearer token only ever goes to the
        # configured API host, never to a host named in a response.
        uri = parts.path + (f"?{parts.query}" if parts.query else "")
    if not uri.startswith("/"):
        uri = "/" + uri
    if not (uri.startswith("/v1/") or uri.startswith("/v1?")):
        uri = "/v1" + uri
    return uri


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    for key, value in (headers or {}).items():
        if str(key).lower() == name.lower():
            return str(value)
    return ""


def _with_seek_next(path: str) -> str:
    if "seekoperation=next" in path.lower():
        return path
    return f"{path}{'&' if '?' in path else '?'}seekOperation=Next"


def next_request(
    page: Mapping[str, Any],
    *,
    response_headers: Mapping[str, str] | None = None,
    current_path: str | None = None,
) -> tuple[str, dict[str, str]] | None:
    """The path and headers of the page after `page`, or None when `page` is the last.

    The continuation token is taken from the next link's headers, else from the body, else from
    the response's `MS-ContinuationToken` header. A body token without a next link (seek paging
    whose link was left out) continues from `current_path` with `seekOperation=Next`; a header
    token alone does not, since a server may echo it on the last page too."""
    link = get(get(page, "links"), "next")
    body_token = text(page, "continuationToken")
    if not isinstance(link, Mapping) or not text(link, "uri"):
        if body_token and current_path:
            return normalise_link(_with_seek_next(current_path)), {CONTINUATION_HEADER: body_token}
        return None
    headers: dict[str, str] = {}
    for entry in get(link, "headers") or []:
        key, value = text(entry, "key"), get(entry, "value")
        if key and value is not None:
            headers[key] = str(value)
    token = body_token or _header(response_headers, CONTINUATION_HEADER)
    if token and not _header(headers, CONTINUATION_HEADER):
        headers[CONTINUATION_HEADER] = token
    return normalise_link(text(link, "uri")), headers


def _unwrap(result: Mapping[str, Any] | list[Any] | Fetched) -> tuple[Any, Mapping[str, str]]:
    if isinstance(result, Fetched):
        return result.body, result.headers
    return result, {}


def page_items(page: Any) -> list[Any]:
    """The items of a page: a bare array is its own items."""
    if isinstance(page, list):
        return page
    items = get(page, "items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise UnexpectedResponse("a Partner Center collection whose items are not a list")
    return items


def iterate_pages(*, fetch: FetchPage, path: str) -> Iterator[Mapping[str, Any]]:
    """Yield pages one at a time; the next is only requested when the caller asks for it."""
    request: tuple[str, Mapping[str, str]] | None = (path, {})
    seen: set[tuple[str, str]] = {(path, repr([]))}
    for _ in range(MAX_PAGES):
        if request is None:
            return
        page, response_headers = _unwrap(fetch(*request))
        if isinstance(page, list):  # a few endpoints answer a bare array: one page
            yield {"items": page}
            return
        if not isinstance(page, Mapping):
            raise UnexpectedResponse(f"Partner Center answered {path} with no collection")
        yield page
        request = next_request(page, response_headers=response_headers, current_path=request[0])
        if request is not None:
            marker = (request[0], repr(sorted(request[1].items())))
            if marker in seen:
                raise UnexpectedResponse(f"Partner Center paging loops back to {request[0]}")
            seen.add(marker)
    raise UnexpectedResponse(f"more than {MAX_PAGES} pages from {path}")


def iterate_items(*, fetch: FetchPage, path: str) -> Iterator[Any]:
    for page in iterate_pages(fetch=fetch, path=path):
        yield from page_items(page)


def encode_cursor(request: tuple[str, Mapping[str, str]]) -> str:
    """An opaque text a caller can store to fetch the next page later (a resumable discovery)."""
    raw = json.dumps({"path": request[0], "headers": dict(request[1])}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, dict[str, str]]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        path, headers = str(data["path"]), data["headers"]
    except (ValueError, KeyError, TypeError) as error:
        raise UnexpectedResponse("unreadable paging cursor") from error
    # Normalised again: a stored cursor can only ever name a path on the configured API host.
    return normalise_link(path), {str(k): str(v) for k, v in dict(headers).items()}


def fetch_page(*, fetch: FetchPage, path: str, cursor: str | None) -> tuple[list[Any], str | None]:
    """One page (the first, or the one `cursor` points at) and the cursor of the next, if any."""
    request = decode_cursor(cursor) if cursor else (path, {})
    page, response_headers = _unwrap(fetch(*request))
    if isinstance(page, list):
        return list(page), None
    if not isinstance(page, Mapping):
        raise UnexpectedResponse(f"Partner Center answered {request[0]} with no collection")
    following = next_request(page, response_headers=response_headers, current_path=request[0])
    if following is not None and following == (request[0], dict(request[1])):
        raise UnexpectedResponse(f"Partner Center paging loops back to {request[0]}")
    return page_items(page), encode_cursor(following) if following else None
