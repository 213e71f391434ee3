"""Microsoft Graph's partner billing exports (reconciliation API v2) and the storage they point at.

Served from the sandbox's own host (`graph_base_url` in sandbox.json is the sandbox's base URL):

- `POST /v1.0/reports/partners/billing/reconciliation/billed/export` `{invoiceId, attributeSet}`
  and `.../unbilled/export` `{billingPeriod: current|last, currencyCode, attributeSet}` answer
  202 with a `Location` of the operation;
- `GET /v1.0/reports/partners/billing/operations/{id}`: `notStarted` / `running` (with
  `Retry-After`) until the files are written and `export_delay_s` of sandbox time has passed,
  then `succeeded` with `resourceLocation@odata.navigationLink`, or `failed` with `error`
  (an unknown invoice: 5000 "No data available", as Microsoft's sample);
- `GET /v1.0/reports/partners/billing/manifests/{id}`: the manifest;
- `GET /_storage/{container}/...{file}?{sasToken}`: the gzipped JSON-lines files, `Range`
  honoured, the signature checked against the sandbox clock (403 `AuthenticationFailed`).

Graph's rules: app-only tokens for `https://graph.microsoft.com` whose `roles` hold
`PartnerBilling.Read.All` (401 `InvalidAuthenticationToken`, 403 `Authorization_RequestDenied`
otherwise), errors as `{"error": {"code", "message", "innerError"}}`, 429 with `Retry-After` past
`graph_throttle_limit` requests a minute. A file holds at most `export_blob_lines` lines: a large
invoice is split into several. Files are written by a thread with its own database connection,
so a million-line export never holds the store's lock.

File lines carry the reconciliation file's columns (PascalCase, `Total`, `Tier2MpnId`), amounts as
JSON numbers, built from the same line items the v1 API serves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import hmac
import math
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jwt
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .state import MICROSOFT_GRAPH_AUDIENCE, PARTNER_BILLING_ROLE, Sandbox
from .store import dumps, iso, loads
from .web import json_response, read_body, sandbox_of

BILLING = "/v1.0/reports/partners/billing"
STORAGE = "/_storage"
STORAGE_API_VERSION = "2021-08-06"
# A POST waits this long for a small export's files, so that tests see it done at once.
INLINE_WAIT_S = 0.5
CHUNK = 256 * 1024

# (column in the file, key of the stored v1 line, is a number). The reconciliation file's
# columns, in its order.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("PartnerId", "partnerId", False),
    ("CustomerId", "customerId", False),
    ("CustomerName", "customerName", False),
    ("CustomerDomainName", "customerDomainName", False),
    ("CustomerCountry", "customerCountry", False),
    ("InvoiceNumber", "invoiceNumber", False),
    ("MpnId", "mpnId", False),
    ("Tier2MpnId", "resellerMpnId", False),
    ("OrderId", "orderId", False),
    ("OrderDate", "orderDate", False),
    ("ProductId", "productId", False),
    ("SkuId", "skuId", False),
    ("AvailabilityId", "availabilityId", False),
    ("SkuName", "skuName", False),
    ("ProductName", "productName", False),
    ("ChargeType", "chargeType", False),
    ("UnitPrice", "unitPrice", True),
    ("Quantity", "quantity", True),
    ("Subtotal", "subtotal", True),
    ("TaxTotal", "taxTotal", True),
    ("Total", "totalForCustomer", True),
    ("Currency", "currency", False),
    ("PriceAdjustmentDescription", "priceAdjustmentDescription", False),
    ("PublisherName", "publisherName", False),
    ("PublisherId", "publisherId", False),
    ("SubscriptionDescription", "subscriptionDescription", False),
    ("SubscriptionId", "subscriptionId", False),
    ("ChargeStartDate", "chargeStartDate", False),
    ("ChargeEndDate", "chargeEndDate", False),
    ("TermAndBillingCycle", "termAndBillingCycle", False),
    ("EffectiveUnitPrice", "effectiveUnitPrice", True),
    ("UnitType", "unitType", False),
    ("AlternateId", "alternateId", False),
    ("BillableQuantity", "billableQuantity", True),
    ("BillingFrequency", "billingFrequency", False),
    ("PricingCurrency", "pricingCurrency", False),
    ("PCToBCExchangeRate", "pcToBCExchangeRate", True),
    ("PCToBCExchangeRateDate", "pcToBCExchangeRateDate", False),
    ("MeterDescription", "meterDescription", False),
    ("ReservationOrderId", "reservationOrderId", False),
    ("CreditReasonCode", "creditReasonCode", False),
    ("SubscriptionStartDate", "subscriptionStartDate", False),
    ("SubscriptionEndDate", "subscriptionEndDate", False),
    ("ReferenceId", "referenceId", False),
    ("ProductQualifiers", "productQualifiers", False),
    ("PromotionId", "promotionId", False),
)
# The "basic" attribute set: what identifies and prices a line (our choice of subset; the docs
# only say that basic is a subset of full).
BASIC = frozenset(
    {
        "PartnerId", "CustomerId", "CustomerName", "InvoiceNumber", "OrderId", "OrderDate",
        "ProductId", "SkuId", "AvailabilityId", "ProductName", "ChargeType", "UnitPrice",
        "Quantity", "Subtotal", "TaxTotal", "Total", "Currency", "SubscriptionId",
        "ChargeStartDate", "ChargeEndDate", "TermAndBillingCycle", "EffectiveUnitPrice",
        "UnitType", "BillableQuantity", "BillingFrequency", "PricingCurrency",
        "PCToBCExchangeRate", "SubscriptionStartDate", "SubscriptionEndDate", "ReferenceId",
        "ProductQualifiers",
    }
)  # fmt: skip


class GraphError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class BlobCut(Exception):
    """Raised mid-body so the server drops the connection (the `blob_cut_*` faults)."""


def _graph_error(request: Request, error: GraphError) -> Response:
    sandbox = sandbox_of(request)
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": iso(sandbox.clock.now())[:19],
                "request-id": str(uuid.uuid4()),
                "client-request-id": request.headers.get("client-request-id")
                or request.headers.get("MS-RequestId")
                or str(uuid.uuid4()),
            },
        }
    }
    return json_response(body, error.status, error.headers)


def _graph(handler: Any) -> Any:
    async def wrapped(request: Request) -> Response:
        try:
            _authenticate(request)
            _throttle(request)
            return await handler(request, sandbox_of(request))
        except GraphError as error:
            return _graph_error(request, error)

    return wrapped


def _authenticate(request: Request) -> None:
    sandbox = sandbox_of(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = jwt.decode(
            token.strip(),
            sandbox.signing_key.public_key(),
            algorithms=["RS256"],
            audience=MICROSOFT_GRAPH_AUDIENCE,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError as error:
        raise GraphError(
            401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
        ) from error
    except jwt.PyJWTError as error:
        raise GraphError(
            401, "InvalidAuthenticationToken", f"Access token validation failure: {error}"
        ) from error
    if claims.get("exp", 0) <= sandbox.clock.timestamp():
        raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed.")
    if claims.get("tid") != sandbox.identity.partner_tenant_id:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is for another tenant.")
    if PARTNER_BILLING_ROLE not in (claims.get("roles") or []):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def _throttle(request: Request) -> None:
    sandbox = sandbox_of(request)
    faults = sandbox.faults
    if not faults.throttling:
        return
    retry = sandbox.throttler.hit(
        f"graph:{sandbox.identity.partner_tenant_id}",
        sandbox.clock.timestamp(),
        faults.graph_throttle_limit,
        60,
    )
    if retry is not None:
        raise GraphError(
            429,
            "TooManyRequests",
            "Too many requests. Retry after the time given in Retry-After.",
            {"Retry-After": str(retry)},
        )


# --- starting an export -----------------------------------------------------------------------


def _attribute_set(body: Any) -> str:
    value = str(body.get("attributeSet") or "full").lower()
    if value not in ("full", "basic"):
        raise GraphError(
            400, "BadRequest", f"attributeSet '{value}' is not one of 'full' or 'basic'."
        )
    return value


async def billed_export(request: Request, sandbox: Sandbox) -> Response:
    from .billing import close_periods

    body = await _body(request)
    invoice_id = str(body.get("invoiceId") or "").strip()
    if not invoice_id:
        raise GraphError(400, "BadRequest", "invoiceId is required.")
    fragment = _attribute_set(body)
    close_periods(sandbox)
    row = sandbox.store.one(
        "SELECT id, period FROM invoices WHERE id = ? COLLATE NOCASE", (invoice_id,)
    )
    params = {"invoiceId": row[0] if row else invoice_id, "fragment": fragment}
    if row:
        params["period"] = row[1]
    return await _start(request, sandbox, "billed", params, known=row is not None)


async def unbilled_export(request: Request, sandbox: Sandbox) -> Response:
    from .billing import close_periods

    body = await _body(request)
    currency = str(body.get("currencyCode") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise GraphError(400, "BadRequest", "currencyCode is required (an ISO 4217 code).")
    period = str(body.get("billingPeriod") or "").strip().lower()
    if period not in ("current", "last"):
        raise GraphError(400, "BadRequest", "billingPeriod must be 'current' or 'last'.")
    fragment = _attribute_set(body)
    close_periods(sandbox)
    now = sandbox.clock.now()
    month = now if period == "current" else now.replace(day=1) - dt.timedelta(days=1)
    params = {
        "currency": currency,
        "period": month.strftime("%Y-%m"),
        "billingPeriod": period,
        "fragment": fragment,
    }
    return await _start(request, sandbox, "unbilled", params, known=True)


async def _body(request: Request) -> Any:
    from .web import PCError

    try:
        return await read_body(request)
    except PCError as error:
        raise GraphError(400, "BadRequest", error.description) from error


async def _start(
    request: Request, sandbox: Sandbox, kind: str, params: dict[str, Any], *, known: bool
) -> Response:
    export_id = str(uuid.uuid4())
    now = sandbox.clock.timestamp()
    error = None if known else {"code": "5000", "message": "No data available"}
    with sandbox.store.tx():
        sandbox.store.run(
            "INSERT INTO exports (id, kind, params, status, created, ready_at, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                export_id,
                kind,
                dumps(params),
                "notStarted" if known else "failed",
                now,
                now + sandbox.faults.export_delay_s,
                dumps(error) if error else None,
            ),
        )
    if known:
        thread = threading.Thread(
            target=_build, args=(sandbox, export_id), name=f"export-{export_id[:8]}", daemon=True
        )
        thread.start()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, INLINE_WAIT_S)
    location = f"{sandbox.base_url}{BILLING}/operations/{export_id}"
    return Response(status_code=202, headers={"Location": location, "Retry-After": "1"})


# --- writing the files ------------------------------------------------------------------------


def _number(value: Any) -> Any:
    """A stored amount (a string) as a JSON number; exact for the amounts the sandbox makes."""
    if value in (None, ""):
        return 0
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def file_line(line: dict[str, Any], fragment: str) -> dict[str, Any]:
    """One stored (v1-shaped) line in the export files' shape."""
    out: dict[str, Any] = {}
    for column, key, is_number in COLUMNS:
        if fragment == "basic" and column not in BASIC:
            continue
        value = line.get(key, "")
        out[column] = _number(value) if is_number else value
    return out


def _directory(sandbox: Sandbox, kind: str, params: dict[str, Any], stamp: str) -> str:
    partner = sandbox.identity.partner_tenant_id
    month = params["period"].replace("-", "")
    fragment = params["fragment"]
    if kind == "billed":
        return (
            f"billedusagefastpath/v1/PartnerTenantId={partner}/BillingMonth={month}/"
            f"InvoiceId={params['invoiceId']}/InvoiceVersion={stamp}/Fragment={fragment}/"
            "PartitionType=default"
        )
    return (
        f"unbilledusagefastpath/v1/{stamp}/PartnerTenantId={partner}/BillingMonth={month}/"
        f"Currency={params['currency']}/Fragment={fragment}/PartitionType=default"
    )


def _rows(connection: sqlite3.Connection, kind: str, params: dict[str, Any]) -> Iterator[str]:
    if kind == "billed":
        cursor = connection.execute(
            "SELECT data FROM line_items WHERE invoice_id = ? ORDER BY seq", (params["invoiceId"],)
        )
    else:
        cursor = connection.execute(
            "SELECT data FROM line_items WHERE invoice_id = '' AND period = ? AND currency = ? "
            "ORDER BY seq",
            (params["period"], params["currency"]),
        )
    for (data,) in cursor:
        yield data


def _build(sandbox: Sandbox, export_id: str) -> None:
    """Write the export's files (in this thread, on a connection of its own) and its manifest."""
    row = sandbox.store.one("SELECT kind, params FROM exports WHERE id = ?", (export_id,))
    kind, params = row[0], loads(row[1])
    sandbox.store.run("UPDATE exports SET status = 'running' WHERE id = ?", (export_id,))
    try:
        stamp = sandbox.clock.now().strftime("%Y%m%d%H%M")
        directory = _directory(sandbox, kind, params, stamp)
        folder = sandbox.data_dir / "storage" / directory
        folder.mkdir(parents=True, exist_ok=True)
        per_file = max(1, int(sandbox.faults.export_blob_lines))
        blobs: list[dict[str, str]] = []
        digest = hashlib.sha256()
        connection = sqlite3.connect(sandbox.store.path, check_same_thread=False)
        try:
            handle: gzip.GzipFile | None = None
            batch: list[bytes] = []
            written = 0
            for data in _rows(connection, kind, params):
                if handle is None or written == per_file:
                    if handle is not None:
                        handle.write(b"".join(batch))
                        batch.clear()
                        handle.close()
                    name = f"part-{len(blobs):05d}-{uuid.uuid4()}.c000.json.gz"
                    blobs.append({"name": name, "partitionValue": "default"})
                    # Level 1: the sandbox trades file size for the time a large export takes.
                    handle = gzip.GzipFile(folder / name, "wb", compresslevel=1, mtime=0)
                    written = 0
                text = dumps(file_line(loads(data), params["fragment"])).encode() + b"\n"
                digest.update(text)
                batch.append(text)
                written += 1
                if len(batch) >= 2000:
                    handle.write(b"".join(batch))
                    batch.clear()
            if handle is not None:
                handle.write(b"".join(batch))
                handle.close()
        finally:
            connection.close()
        manifest = {
            "id": str(uuid.uuid4()),
            "schemaVersion": "2",
            "dataFormat": "compressedJSON",
            "createdDateTime": iso(sandbox.clock.now()),
            "eTag": digest.hexdigest()[:17],
            "partnerTenantId": sandbox.identity.partner_tenant_id,
            "rootDirectory": f"{sandbox.base_url}{STORAGE}/{directory}",
            "directory": directory,  # ours: the signature is made when the manifest is read
            "partitionType": "default",
            "blobCount": len(blobs),
            "blobs": blobs,
        }
        with sandbox.store.tx():
            sandbox.store.run(
                "UPDATE exports SET status = 'built', manifest = ? WHERE id = ?",
                (dumps(manifest), export_id),
            )
    except Exception as error:  # the operation reports it; the sandbox keeps serving
        with sandbox.store.tx():
            sandbox.store.run(
                "UPDATE exports SET status = 'failed', error = ? WHERE id = ?",
                (dumps({"code": "500", "message": f"Export failed: {error}"}), export_id),
            )


# --- following it ---------------------------------------------------------------------------


async def get_operation(request: Request, sandbox: Sandbox) -> Response:
    export_id = request.path_params["operation_id"]
    row = sandbox.store.one(
        "SELECT status, created, ready_at, manifest, error FROM exports WHERE id = ?",
        (export_id,),
    )
    if row is None:
        raise GraphError(404, "ResourceNotFound", f"Operation {export_id} was not found.")
    status, created, ready_at, manifest, error = row
    now = sandbox.clock.timestamp()
    body: dict[str, Any] = {
        "id": export_id,
        "createdDateTime": iso(created)[:19],
        "lastActionDateTime": iso(now),
    }
    headers: dict[str, str] = {}
    if status == "failed":
        body.update(
            {
                "@odata.type": "#microsoft.graph.partners.billing.failedOperation",
                "status": "failed",
                "error": loads(error),
            }
        )
    elif status == "built" and now >= ready_at:
        manifest_id = loads(manifest)["id"]
        body.update(
            {
                "@odata.type": "#microsoft.graph.partners.billing.exportSuccessOperation",
                "status": "succeeded",
                "resourceLocation@odata.navigationLink": (
                    f"{sandbox.base_url}{BILLING}/manifests/{manifest_id}"
                ),
            }
        )
    else:
        body.update(
            {
                "@odata.type": "#microsoft.graph.partners.billing.runningOperation",
                "status": "notStarted" if status == "notStarted" else "running",
            }
        )
        wait = max(1, math.ceil(ready_at - now)) if status == "built" else 2
        headers["Retry-After"] = str(wait)
    return json_response(body, headers=headers)


async def get_manifest(request: Request, sandbox: Sandbox) -> Response:
    manifest_id = request.path_params["manifest_id"]
    for (data,) in sandbox.store.all(
        "SELECT manifest FROM exports WHERE status = 'built' AND manifest LIKE ?",
        (f'%"id":"{manifest_id}"%',),
    ):
        manifest = loads(data)
        if manifest["id"] == manifest_id:
            directory = manifest.pop("directory")
            expiry = sandbox.clock.now() + dt.timedelta(seconds=sandbox.faults.sas_lifetime_s)
            manifest["sasToken"] = sas_token(sandbox, directory, expiry)
            return json_response(manifest)
    raise GraphError(404, "ResourceNotFound", f"Manifest {manifest_id} was not found.")


def _signature(sandbox: Sandbox, directory: str, expiry: str) -> str:
    key = sandbox.identity.admin_key.encode()
    return hmac.new(key, f"{directory}\n{expiry}".encode(), hashlib.sha256).hexdigest()


def sas_token(sandbox: Sandbox, directory: str, expiry: dt.datetime) -> str:
    """A directory-scoped, read+list signature, shaped like Azure's (`sr=d&sp=rl`)."""
    stamp = expiry.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"sv={STORAGE_API_VERSION}&se={quote(stamp, safe='')}&sr=d&sp=rl"
        f"&sig={_signature(sandbox, directory, stamp)}"
    )


# --- the storage ------------------------------------------------------------------------------


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status, media_type="application/xml")


async def get_blob(request: Request) -> Response:
    sandbox = sandbox_of(request)
    path = unquote(request.path_params["path"])
    directory, _, name = path.rpartition("/")
    params = request.query_params
    expiry = params.get("se", "")
    given = params.get("sig", "")
    wanted = _signature(sandbox, directory, expiry)
    if not given or not hmac.compare_digest(given, wanted):
        return _storage_error(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization "
            "header is formed correctly including the signature.",
        )
    try:
        expires = dt.datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        expires = None
    if expires is None or expires <= sandbox.clock.now():
        return _storage_error(
            403, "AuthenticationFailed", "Signed expiry time has passed: the signature expired."
        )
    file = (sandbox.data_dir / "storage" / directory / name).resolve()
    root = (sandbox.data_dir / "storage").resolve()
    if root not in file.parents or not file.is_file():
        return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
    size = file.stat().st_size
    start = 0
    status = 200
    headers = {"Accept-Ranges": "bytes", "x-ms-version": STORAGE_API_VERSION}
    wanted_range = request.headers.get("Range", "")
    if wanted_range.startswith("bytes="):
        first, _, _last = wanted_range[6:].partition("-")
        try:
            start = int(first)
        except ValueError:
            start = 0
        if start >= size:
            return _storage_error(
                416, "InvalidRange", "The range specified is invalid for the current size."
            )
        status = 206
        headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
    headers["Content-Length"] = str(size - start)
    cut = None
    faults = sandbox.faults
    if faults.blob_cuts > 0 and faults.blob_cut_after_bytes > 0:
        faults.blob_cuts -= 1
        cut = faults.blob_cut_after_bytes
    return StreamingResponse(
        _file_chunks(file, start, cut),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )


async def _file_chunks(file: Path, start: int, cut: int | None) -> Any:
    sent = 0
    with file.open("rb") as handle:
        handle.seek(start)
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            if cut is not None and sent + len(chunk) >= cut:
                yield chunk[: cut - sent]
                raise BlobCut("connection dropped mid-file (blob_cut fault)")
            sent += len(chunk)
            yield chunk


def routes() -> list[Route]:
    return [
        Route(f"{BILLING}/reconciliation/billed/export", _graph(billed_export), methods=["POST"]),
        Route(
            f"{BILLING}/reconciliation/unbilled/export", _graph(unbilled_export), methods=["POST"]
        ),
        Route(f"{BILLING}/operations/{{operation_id}}", _graph(get_operation), methods=["GET"]),
        Route(f"{BILLING}/manifests/{{manifest_id}}", _graph(get_manifest), methods=["GET"]),
        Route(f"{STORAGE}/{{path:path}}", get_blob, methods=["GET"]),
    ]
