"""Partner billing exports on Microsoft Graph: the billed invoice reconciliation API v2.

Protocol facts relied on (Microsoft Graph v1.0 `reports/partners/billing`, and the Partner
Center page "Billed invoice reconciliation API v2"):
- The API is on Graph, not on Partner Center: its own host and its own token. The token is an
  app-only one for `https://graph.microsoft.com/.default`; the application needs the
  `PartnerBilling.Read.All` permission (refused with 403 otherwise).
- `POST /v1.0/reports/partners/billing/reconciliation/billed/export` with
  `{"invoiceId", "attributeSet": "full"|"basic"}` answers 202 with a `Location` header: the
  operation to poll. The unbilled export (`.../reconciliation/unbilled/export`) takes
  `{"billingPeriod": "current"|"last", "currencyCode", "attributeSet"}` instead.
- `GET /v1.0/reports/partners/billing/operations/{id}` answers 200 with `status` notStarted,
  running, succeeded or failed; while not done a `Retry-After` header says when to look again;
  a succeeded one links its manifest in `resourceLocation@odata.navigationLink`, a failed one
  carries `error{code, message}` (the documented sample: 5000 "No data available").
- `GET /v1.0/reports/partners/billing/manifests/{id}`: `rootDirectory`, `sasToken`, `blobCount`,
  `blobs[{name, partitionValue}]`, `dataFormat` (compressed JSON lines), `eTag` (changes when the
  data does), `schemaVersion`, `partitionType`, `partnerTenantId`, `createdDateTime`.
- Graph errors are `{"error": {"code", "message", "innerError": {"request-id", "date"}}}`; 429
  and 503 carry `Retry-After`.
Links in answers are absolute; the bearer token only ever goes to the configured Graph host.
The files themselves are read by `blobs.BlobReader`, with the signature and no token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from seatkeeper.core import clock
from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft import parsing
from seatkeeper.providers.microsoft.auth import Credentials, shared_token_source
from seatkeeper.providers.microsoft.blobs import BlobReader
from seatkeeper.providers.microsoft.client import PartnerCenterClient, decode, ssl_context
from seatkeeper.providers.microsoft.recon_files import read_file_lines
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.ratelimit import Limit, RateLimiter

if TYPE_CHECKING:
    from seatkeeper.providers.models import ProviderAccount

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_SCOPES = [f"{GRAPH_RESOURCE}/.default"]
API_VERSION = "/v1.0"
BILLING = f"{API_VERSION}/reports/partners/billing"
BILLED_EXPORT = f"{BILLING}/reconciliation/billed/export"
UNBILLED_EXPORT = f"{BILLING}/reconciliation/unbilled/export"
# No published budget for the billing reports; a poll every few seconds is all an import needs,
# so the bucket is small and shared by every worker (inferred, adjustable in settings).
DEFAULT_REQUESTS_PER_WINDOW = 60
DEFAULT_WINDOW_SECONDS = 60
# When a running operation sends no Retry-After: Microsoft's sample waits this long.
DEFAULT_POLL_SECONDS = 10.0


def graph_error_from_response(
    *,
    status: int,
    body: Any,
    retry_after: float | None = None,
    correlation_id: str | None = None,
) -> errors.ProviderError:
    """A Graph error answer as our error classes (by HTTP status; Graph's codes are words)."""
    error = parsing.get(body, "error") if isinstance(body, Mapping) else None
    code = parsing.text(error, "code") or None
    message = parsing.text(error, "message") or f"Microsoft Graph answered HTTP {status}"
    common: dict[str, Any] = {"code": code, "http_status": status, "correlation_id": correlation_id}
    if status == 429:
        return errors.Throttled(message, retry_after=retry_after, **common)
    if status in (408, 500, 502, 503, 504):
        return errors.Unavailable(message, **common)
    if status == 401:
        return errors.AuthFailed(message, **common)
    if status == 403:
        return errors.Forbidden(message, **common)
    if status == 404:
        return errors.NotFound(message, **common)
    if status == 409:
        return errors.Conflict(message, retryable=False, **common)
    if 400 <= status < 500:
        return errors.ValidationFailed(message, **common)
    return errors.UnexpectedResponse(message, **common)


class GraphBilling:
    """The export half of the connector: start an export, follow its operation, read its files."""

    def __init__(
        self,
        *,
        client: PartnerCenterClient,
        blobs: BlobReader,
        base_url: str,
    ) -> None:
        self.client = client
        self.blobs = blobs
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_account(
        cls,
        account: ProviderAccount,
        *,
        credentials: Credentials,
        limiter: RateLimiter,
        sleep: Callable[[float], None] = clock.sleep,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> GraphBilling:
        from django.conf import settings

        tokens = shared_token_source(
            credentials=credentials,
            refresh_token=None,  # app-only: the billing reports take application permissions
            on_refresh_token=None,
            scope=f"account:{account.pk}",
            app_scopes=GRAPH_SCOPES,
        )
        bucket = Limit.for_window(
            key=f"graph:{account.pk}:billing",
            requests=int(
                getattr(settings, "GRAPH_BILLING_REQUESTS_PER_WINDOW", DEFAULT_REQUESTS_PER_WINDOW)
            ),
            window_seconds=float(
                getattr(settings, "GRAPH_BILLING_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS)
            ),
            burst=5,
        )
        ca_bundle = account.ca_bundle_path or None
        timeout = timeout or httpx.Timeout(60.0, connect=10.0)
        client = PartnerCenterClient(
            base_url=account.graph_base_url,
            tokens=tokens,
            limits=lambda path, customer_id: [bucket],
            limiter=limiter,
            retry=retry,
            sleep=sleep,
            timeout=timeout,
            ca_bundle=ca_bundle,
            max_connections=4,
            service="Microsoft Graph",
            error_mapper=graph_error_from_response,
        )
        storage = httpx.Client(timeout=timeout, verify=ssl_context(ca_bundle))
        return cls(
            client=client,
            blobs=BlobReader(http=storage, retry=retry, sleep=sleep),
            base_url=account.graph_base_url,
        )

    def close(self) -> None:
        self.client.close()
        self.blobs.close()

    # --- starting exports ------------------------------------------------------------------

    def start_billed_export(
        self, *, invoice_id: str, attribute_set: i.AttributeSet = i.AttributeSet.FULL
    ) -> i.ExportOperation:
        body = {"invoiceId": invoice_id, "attributeSet": str(attribute_set)}
        return self._start(BILLED_EXPORT, body)

    def start_unbilled_export(
        self,
        *,
        billing_period: i.BillingPeriod,
        currency: str,
        attribute_set: i.AttributeSet = i.AttributeSet.FULL,
    ) -> i.ExportOperation:
        body = {
            "billingPeriod": str(billing_period),
            "currencyCode": currency.upper(),
            "attributeSet": str(attribute_set),
        }
        return self._start(UNBILLED_EXPORT, body)

    def _start(self, path: str, body: Mapping[str, Any]) -> i.ExportOperation:
        response = self.client.send("POST", path, json=body, ok_statuses=(200, 201, 202))
        location = response.headers.get("Location") or response.headers.get("Operation-Location")
        if not location:
            raise errors.UnexpectedResponse(
                "Microsoft Graph accepted the export without saying where to follow it",
                http_status=response.status_code,
            )
        self._local_path(location)  # refuse at once a link to another host
        return i.ExportOperation(
            location=location,
            id=location.rstrip("/").rsplit("/", 1)[-1],
            status=i.ExportStatus.NOT_STARTED,
            retry_after=_retry_after(response),
        )

    # --- following them -----------------------------------------------------------------------

    def export_operation(self, *, location: str) -> i.ExportOperation:
        response = self.client.send("GET", self._local_path(location))
        data = decode(response)
        if not isinstance(data, Mapping):
            raise errors.UnexpectedResponse("Microsoft Graph answered an operation with no object")
        operation = parsing.export_operation(
            data, location=location, retry_after=_retry_after(response)
        )
        if operation.status is i.ExportStatus.SUCCEEDED and not operation.manifest_location:
            raise errors.UnexpectedResponse("a succeeded export operation names no manifest")
        if not operation.is_done and operation.retry_after is None:
            return _with_retry_after(operation, DEFAULT_POLL_SECONDS)
        return operation

    def export_manifest(self, *, location: str) -> i.ExportManifest:
        data = self.client.get_json(self._local_path(location))
        if not isinstance(data, Mapping):
            raise errors.UnexpectedResponse("Microsoft Graph answered a manifest with no object")
        return parsing.export_manifest(data)

    def export_blob_lines(
        self, *, manifest: i.ExportManifest, blob: i.ExportBlob, invoice_id: str = ""
    ) -> i.Listing[i.InvoiceLineItem]:
        skips = i.SkipLog()
        lines = read_file_lines(
            self.blobs.lines(manifest.blob_url(blob)), invoice_id=invoice_id, skips=skips
        )
        return i.Listing(lines, skips)

    def _local_path(self, url: str) -> str:
        """The path of a link the API sent, if it points at the configured Graph host."""
        parts = urlsplit(url)
        configured = urlsplit(self.base_url)
        if parts.scheme or parts.netloc:
            if (parts.scheme, parts.netloc.lower()) != (
                configured.scheme,
                configured.netloc.lower(),
            ):
                raise errors.UnexpectedResponse(
                    f"Microsoft Graph linked to another host ({parts.netloc}); not followed"
                )
        path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
        return path + (f"?{parts.query}" if parts.query else "")


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        return max(0.0, float(header.strip()))
    except ValueError:
        return None


def _with_retry_after(operation: i.ExportOperation, seconds: float) -> i.ExportOperation:
    return replace(operation, retry_after=seconds)


__all__ = ["GRAPH_SCOPES", "GraphBilling", "graph_error_from_response"]
