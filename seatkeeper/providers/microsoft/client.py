"""Thin HTTP calls to Partner Center: headers, tokens, throttling, retries, error mapping.

Protocol facts relied on:
- `MS-RequestId` is the idempotency key: a call retried after a timeout or a 5xx carries the
  SAME value, so the server answers the first result instead of creating a second customer,
  cart or order. A new logical call gets a new value.
- `MS-CorrelationId` ties together the calls of one logical operation (a cart and its checkout,
  a GET and its PATCH) for tracing on both sides; we log it with every call.
- 429 carries `Retry-After` (seconds); 5xx, 408 and timeouts are transient; other 4xx are final.
- A 401 may just mean our cached token expired early on the server's clock: fetch a new one once.
- Some answers start with a UTF-8 byte-order mark; it is not part of the JSON and is dropped.
"""

from __future__ import annotations

import codecs
import functools
import json as jsonlib
import logging
import os
import random
import ssl
import time
import uuid
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlencode

import httpx

from seatkeeper.core import clock
from seatkeeper.providers.errors import ProviderError, Throttled, Unavailable, UnexpectedResponse
from seatkeeper.providers.microsoft import paging
from seatkeeper.providers.microsoft.auth import TokenKind, TokenSource
from seatkeeper.providers.microsoft.errors import error_from_response
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.ratelimit import Limit, RateLimiter

logger = logging.getLogger(__name__)

APPLICATION_NAME = "Seatkeeper"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class CallStats:
    """Counters for monitoring and the benchmark."""

    requests: int = 0
    throttled: int = 0
    retried: int = 0
    timeouts: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trust store plus `ca_bundle` when given. Verification is never disabled.

    Loading the system's trust store costs about 30 ms of CPU, and every connector builds
    three clients (Partner Center, Microsoft Graph, Graph's file downloads): a worker that
    opens a connector per task spent most of a discovery task on it. One context serves every
    client of the process (a context is safe to share between threads once built); a CA
    bundle whose file changed is read again."""
    changed = os.stat(ca_bundle).st_mtime_ns if ca_bundle else 0
    return _ssl_context(ca_bundle or "", changed)


@functools.lru_cache(maxsize=16)
def _ssl_context(ca_bundle: str, _changed: int) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class PartnerCenterClient:
    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        limits: Callable[[str, str | None], list[Limit]],
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = clock.sleep,
        rng: random.Random | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        ca_bundle: str | None = None,
        max_connections: int = 20,
        transport: httpx.BaseTransport | None = None,
        service: str = "Partner Center",
        error_mapper: Callable[..., ProviderError] = error_from_response,
    ) -> None:
        # The same calling discipline serves Microsoft Graph's billing reports: only the name
        # in logs and messages and the shape of error bodies differ.
        self.service = service
        self.error_mapper = error_mapper
        self.tokens = tokens
        self.limits = limits
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = CallStats()
        # One pooled client per adapter: keep-alive connections are reused across calls.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            verify=ssl_context(ca_bundle),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            headers={
                "Accept": "application/json",
                "MS-PartnerCenter-Application": APPLICATION_NAME,
                "X-Locale": "en-US",
            },
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        token_kind: TokenKind = TokenKind.APP,
        customer_id: str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        ok_statuses: Collection[int] = (200, 201, 202, 204),
        gone_after_retry_is_done: bool = False,
        into: IO[bytes] | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying transient failures with the same MS-RequestId.

        `gone_after_retry_is_done`: for deletes, a 404 on a RETRY means an earlier attempt
        whose answer we lost (timeout, dropped connection) already did the work.
        `into`: a successful answer's body is streamed into this file (from its start, on every
        attempt) instead of being held in memory: for files of tens of megabytes."""
        request_id = request_id or new_id()
        correlation_id = correlation_id or new_id()
        limits = self.limits(path, customer_id)
        token_refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                self.limiter.acquire(limits)
            try:
                token = self.tokens.token(kind=token_kind)
            except ProviderError as error:
                # The token endpoint's own outages are as transient as the API's.
                if not error.retryable or attempt >= self.retry.max_attempts:
                    raise
                self.stats.retried += 1
                self.sleep(self.retry.backoff(attempt=attempt, rng=self.rng))
                continue
            request_headers = {
                "Authorization": f"Bearer {token}",
                "MS-RequestId": request_id,
                "MS-CorrelationId": correlation_id,
                **(headers or {}),
            }
            self.stats.requests += 1
            started = time.monotonic()
            try:
                if into is None:
                    response = self._http.request(
                        method, path, params=params, json=json, headers=request_headers
                    )
                else:
                    response = self._stream_into(
                        into, method, path, params, request_headers, ok_statuses
                    )
            except httpx.TimeoutException as error:
                self.stats.timeouts += 1
                self._transient(attempt, method, path, correlation_id, f"timeout: {error!r}")
                continue
            except httpx.TransportError as error:
                self._transient(attempt, method, path, correlation_id, f"network: {error!r}")
                continue
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            logger.info(
                "%s %s %s -> %s in %.0f ms (attempt %d, request %s, correlation %s)",
                self.service,
                method,
                path,
                status,
                (time.monotonic() - started) * 1000,
                attempt,
                request_id,
                correlation_id,
            )
            if status in ok_statuses:
                return response
            if status == 404 and attempt > 1 and gone_after_retry_is_done:
                return response
            if status == 401 and not token_refreshed:
                token_refreshed = True
                self.tokens.invalidate(kind=token_kind)
                attempt -= 1  # a token refresh is not a failed attempt
                continue
            if status == 429:
                self._throttled(response, attempt, limits, correlation_id)
                continue
            if self.retry.should_retry_status(status=status, attempt=attempt):
                self.stats.retried += 1
                self.sleep(self.retry.backoff(attempt=attempt, rng=self.rng))
                continue
            raise self.error_mapper(
                status=status,
                body=_body(response),
                retry_after=_retry_after_or_none(response, self.retry),
                correlation_id=correlation_id,
            )

    def _stream_into(
        self,
        into: IO[bytes],
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        ok_statuses: Collection[int],
    ) -> httpx.Response:
        request = self._http.build_request(method, path, params=params, headers=headers)
        response = self._http.send(request, stream=True)
        try:
            if response.status_code in ok_statuses:
                into.seek(0)
                into.truncate()
                copy_body(response, into)
            else:
                response.read()  # an error answer is small: read for its JSON
        finally:
            response.close()
        return response

    def _transient(
        self, attempt: int, method: str, path: str, correlation_id: str, reason: str
    ) -> None:
        logger.warning(
            "%s %s %s failed (%s, attempt %d, correlation %s)",
            self.service,
            method,
            path,
            reason,
            attempt,
            correlation_id,
        )
        if attempt >= self.retry.max_attempts:
            raise Unavailable(
                f"{self.service} did not answer {method} {path}: {reason}",
                correlation_id=correlation_id,
            )
        self.stats.retried += 1
        self.sleep(self.retry.backoff(attempt=attempt, rng=self.rng))

    def _throttled(
        self, response: httpx.Response, attempt: int, limits: list[Limit], correlation_id: str
    ) -> None:
        self.stats.throttled += 1
        wait = self.retry.retry_after(response.headers.get("Retry-After"))
        if wait > self.retry.max_retry_after or attempt >= self.retry.max_attempts:
            if self.limiter is not None:
                # The caller goes on with other work; the others sharing the bucket still wait.
                self.limiter.hold_off(limits, seconds=wait)
            raise Throttled(
                f"{self.service} throttled the request",
                retry_after=wait,
                code="429",
                http_status=429,
                correlation_id=correlation_id,
            )
        self.stats.retried += 1
        if self.limiter is not None:
            # Every worker sharing the bucket waits, not just this one; the next acquire()
            # sleeps until the vendor's Retry-After has passed.
            self.limiter.hold_off(limits, seconds=wait)
        else:
            self.sleep(wait)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return decode(self.send("GET", path, **kwargs))

    def iterate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        token_kind: TokenKind = TokenKind.APP,
        customer_id: str | None = None,
        correlation_id: str | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        """Lazily yield the items of a paged collection; one request per page, on demand."""
        correlation_id = correlation_id or new_id()
        first = f"{path}?{urlencode(params)}" if params else path

        def fetch(page_path: str, headers: Mapping[str, str]) -> paging.Fetched:
            response = self.send(
                "GET",
                page_path,
                headers=headers,
                token_kind=token_kind,
                customer_id=customer_id,
                correlation_id=correlation_id,
            )
            return paging.Fetched(decode(response), response.headers)

        yield from paging.iterate_items(fetch=fetch, path=first)

    def page(
        self,
        path: str,
        *,
        cursor: str | None,
        params: Mapping[str, Any] | None = None,
        token_kind: TokenKind = TokenKind.APP,
        customer_id: str | None = None,
    ) -> tuple[list[Any], str | None]:
        """One page of a collection and the cursor of the next (None on the last page)."""
        first = f"{path}?{urlencode(params)}" if params else path

        def fetch(page_path: str, headers: Mapping[str, str]) -> paging.Fetched:
            response = self.send(
                "GET", page_path, headers=headers, token_kind=token_kind, customer_id=customer_id
            )
            return paging.Fetched(decode(response), response.headers)

        return paging.fetch_page(fetch=fetch, path=first, cursor=cursor)


def copy_body(response: httpx.Response, into: IO[bytes]) -> None:
    """Write a streamed answer's body to `into`, undoing a gzip or deflate transfer encoding,
    unless the body is itself a zip archive sent with such a header (a zipped price sheet is a
    file, not an encoding of one)."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    decoder = None
    first = True
    for chunk in response.iter_raw(1 << 16):
        if first:
            first = False
            if encoding in ("gzip", "deflate") and not chunk.startswith(b"PK\x03\x04"):
                decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
        if decoder is not None:
            try:
                chunk = decoder.decompress(chunk)
            except zlib.error as error:
                raise UnexpectedResponse(
                    f"the {encoding} answer could not be decoded: {error}",
                    http_status=response.status_code,
                ) from None
        into.write(chunk)
    if decoder is not None:
        into.write(decoder.flush())
    into.flush()


def json_body(content: bytes) -> Any:
    """JSON from a response body, without the byte-order mark some answers start with; None
    for an empty body. Raises ValueError when the body is not JSON."""
    content = content.removeprefix(codecs.BOM_UTF8)
    if not content.strip():
        return None
    return jsonlib.loads(content.decode("utf-8"))


def decode(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        return json_body(response.content)
    except ValueError as error:  # UnicodeDecodeError is a ValueError too
        raise UnexpectedResponse(
            f"Partner Center sent non-JSON ({response.headers.get('Content-Type')})",
            http_status=response.status_code,
        ) from error


def _body(response: httpx.Response) -> Any:
    try:
        return json_body(response.content)
    except ValueError:
        return None


def _retry_after_or_none(response: httpx.Response, retry: RetryPolicy) -> float | None:
    header = response.headers.get("Retry-After")
    return None if header is None else retry.retry_after(header)


__all__ = ["CallStats", "PartnerCenterClient", "ProviderError", "decode", "new_id"]
