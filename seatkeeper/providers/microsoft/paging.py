"""Lazy iteration over Partner Center collections, whatever their paging style.

Protocol facts relied on:
- Every collection is `{"totalCount", "items", "links": {"next"?}, "continuationToken"?}` where
  `totalCount` counts the items of THIS page only, so it cannot tell us when to stop.
- Seek paging (customers, users, audit records, recon line items): the next page is
  `links.next.uri` (ending `seekOperation=Next`) fetched with the headers listed in
  `links.next.headers`, i.e. `MS-ContinuationToken: <token>`.
- Offset paging (invoices, offers): `links.next.uri` carries the next `offset`.
- The last page has no `links.next`.
So one rule covers both: follow `links.next`, copying its headers. Link URIs are relative and may
lack the `/v1` prefix; like the official SDK we add it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from seatkeeper.providers.errors import UnexpectedResponse

# fetch(path_with_query, extra_headers) -> the decoded page
FetchPage = Callable[[str, Mapping[str, str]], Mapping[str, Any]]

# Stops a server that keeps answering "next" from looping us forever (20M items at 2000/page).
MAX_PAGES = 10_000


def normalise_link(uri: str) -> str:
    """A link from a response as a path (with query) under `/v1`."""
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


def next_request(page: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The path and headers of the page after `page`, or None when `page` is the last."""
    links = page.get("links") or {}
    link = links.get("next") if isinstance(links, Mapping) else None
    if not link or not link.get("uri"):
        return None
    headers = {
        str(entry["key"]): str(entry["value"])
        for entry in link.get("headers") or []
        if entry.get("key") and entry.get("value") is not None
    }
    token = page.get("continuationToken")
    if token and not any(key.lower() == "ms-continuationtoken" for key in headers):
        headers["MS-ContinuationToken"] = str(token)
    return normalise_link(str(link["uri"])), headers


def iterate_pages(*, fetch: FetchPage, path: str) -> Iterator[Mapping[str, Any]]:
    """Yield pages one at a time; the next is only requested when the caller asks for it."""
    request: tuple[str, Mapping[str, str]] | None = (path, {})
    seen: set[tuple[str, str]] = set()
    for _ in range(MAX_PAGES):
        if request is None:
            return
        page = fetch(*request)
        if isinstance(page, list):  # a few endpoints answer a bare array: one page
            yield {"items": page}
            return
        yield page
        request = next_request(page)
        if request is not None:
            marker = (request[0], repr(sorted(request[1].items())))
            if marker in seen:
                raise UnexpectedResponse(f"Partner Center paging loops back to {request[0]}")
            seen.add(marker)
    raise UnexpectedResponse(f"more than {MAX_PAGES} pages from {path}")


def iterate_items(*, fetch: FetchPage, path: str) -> Iterator[Mapping[str, Any]]:
    for page in iterate_pages(fetch=fetch, path=path):
        yield from page.get("items") or []


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


def fetch_page(
    *, fetch: FetchPage, path: str, cursor: str | None
) -> tuple[list[Mapping[str, Any]], str | None]:
    """One page (the first, or the one `cursor` points at) and the cursor of the next, if any."""
    request = decode_cursor(cursor) if cursor else (path, {})
    page = fetch(*request)
    if isinstance(page, list):
        return list(page), None
    following = next_request(page)
    return list(page.get("items") or []), encode_cursor(following) if following else None
