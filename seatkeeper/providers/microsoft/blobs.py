"""Reading an export's files: gzipped JSON lines behind a shared-access-signature URL, streamed.

Protocol facts relied on (billed invoice reconciliation API v2; Azure Blob Storage):
- A manifest names its files as `rootDirectory` + `/` + `blobs[].name`, read with `?sasToken`.
  The signature is the credential: no bearer token is ever sent to the storage host.
- `dataFormat` is compressed JSON lines: each file is gzip, one JSON object per line.
- Blob storage honours `Range: bytes=N-`, so a download cut half-way resumes where it stopped;
  the decompressor keeps its state across the cut, so nothing is read twice.
- An expired or tampered signature answers 403 (`AuthenticationFailed`, an XML body); a missing
  file 404 (`BlobNotFound`); 500/503 are transient ("server busy").

A file of an invoice with millions of lines is hundreds of megabytes once decompressed: it is
never held whole. Bytes are decompressed as they arrive and each complete line is handed on at
once; only the current line and one network chunk are in memory.
"""

from __future__ import annotations

import logging
import random
import re
import zlib
from collections.abc import Callable, Iterator

import httpx

from seatkeeper.providers.errors import (
    AuthFailed,
    NotFound,
    ProviderError,
    Unavailable,
    UnexpectedResponse,
)
from seatkeeper.providers.microsoft.retry import RetryPolicy

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
# One line is one reconciliation record (about 2 KB); a "line" far longer means the file is
# not what the manifest promised, and reading on would only eat memory.
MAX_LINE_BYTES = 1024 * 1024
STORAGE_API_VERSION = "2021-08-06"
_CODE = re.compile(rb"<Code>([^<]+)</Code>")


def _storage_error(response: httpx.Response, url_for_log: str) -> ProviderError:
    body = response.read()[:2000]
    match = _CODE.search(body)
    code = match.group(1).decode("ascii", "replace") if match else None
    status = response.status_code
    if status == 403:
        # An expired signature looks like any other refused one: ask for a new manifest.
        return AuthFailed(
            "the storage refused the export's link (expired or invalid signature); "
            "start the export again for a fresh one",
            code=code or "AuthenticationFailed",
            http_status=status,
        )
    if status == 404:
        return NotFound(
            f"the export file {url_for_log} does not exist",
            code=code or "BlobNotFound",
            http_status=status,
        )
    if status in (408, 429, 500, 502, 503, 504):
        return Unavailable(f"the storage answered HTTP {status}", code=code, http_status=status)
    return UnexpectedResponse(
        f"the storage answered HTTP {status} for {url_for_log}", code=code, http_status=status
    )


def _without_query(url: str) -> str:
    # The SAS token is a credential: it never goes to the logs.
    return url.split("?", 1)[0]


class BlobReader:
    """Streams the lines of gzipped JSON-lines files, resuming cut downloads with Range."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None],
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.bytes_read = 0  # compressed bytes, for monitoring and the benchmark

    def close(self) -> None:
        self.http.close()

    def lines(self, url: str) -> Iterator[bytes]:
        """Each line of the file, without its line break; blank lines are left out."""
        shown = _without_query(url)
        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        offset = 0
        pending = b""
        attempt = 0
        finished = False
        while not finished:
            attempt += 1
            headers = {"x-ms-version": STORAGE_API_VERSION}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            try:
                with self.http.stream("GET", url, headers=headers) as response:
                    if response.status_code not in (200, 206):
                        error = _storage_error(response, shown)
                        if error.retryable and attempt < self.retry.max_attempts:
                            self._wait(response, attempt, shown, error)
                            continue
                        raise error
                    if offset and response.status_code == 200:
                        # The server sent the whole file again: start over from its beginning.
                        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
                        offset, pending = 0, b""
                    for chunk in response.iter_raw(CHUNK_BYTES):
                        offset += len(chunk)
                        self.bytes_read += len(chunk)
                        data, decompressor = _inflate(decompressor, chunk)
                        if not data:
                            continue
                        pending += data
                        if b"\n" not in data:
                            if len(pending) > MAX_LINE_BYTES:
                                raise UnexpectedResponse(f"{shown}: a line longer than 1 MiB")
                            continue
                        *complete, pending = pending.split(b"\n")
                        for line in complete:
                            line = line.rstrip(b"\r")
                            if line.strip():
                                yield line
                finished = True
            except httpx.TransportError as error:
                # A cut connection: resume from the last byte received.
                if attempt >= self.retry.max_attempts:
                    raise Unavailable(
                        f"the export file {shown} could not be read: {error!r}"
                    ) from error
                logger.warning("export file %s cut at byte %d (%r); resuming", shown, offset, error)
                self.sleep(self.retry.backoff(attempt=attempt, rng=self.rng))
        if offset == 0:
            return  # an empty file: an export partition with no lines
        tail = decompressor.flush()
        if not decompressor.eof:
            raise UnexpectedResponse(f"{shown}: the file ends in the middle of its gzip data")
        pending += tail
        for line in pending.split(b"\n"):
            line = line.rstrip(b"\r")
            if line.strip():
                yield line

    def _wait(
        self, response: httpx.Response, attempt: int, shown: str, error: ProviderError
    ) -> None:
        header = response.headers.get("Retry-After")
        wait = (
            self.retry.retry_after(header)
            if header is not None
            else self.retry.backoff(attempt=attempt, rng=self.rng)
        )
        logger.warning("export file %s: %s; retrying in %.1f s", shown, error, wait)
        self.sleep(min(wait, self.retry.max_retry_after))


def _inflate(decompressor: zlib._Decompress, chunk: bytes) -> tuple[bytes, zlib._Decompress]:
    """Decompress `chunk`; a file may hold several gzip members one after the other."""
    try:
        out = decompressor.decompress(chunk)
        while decompressor.eof and decompressor.unused_data:
            rest = decompressor.unused_data
            decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
            out += decompressor.decompress(rest)
    except zlib.error as error:
        raise UnexpectedResponse(f"an export file is not valid gzip: {error}") from error
    return out, decompressor
