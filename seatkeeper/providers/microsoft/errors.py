"""Partner Center error answers turned into our ProviderError classes.

Error bodies are `{"code": <number or string>, "description": ..., "data": [...], "source"}`
(PascalCase in legacy answers),
except 429, whose body comes from the API gateway (`{"statusCode": 429, "message": ...}`).
The mapping below is by HTTP status first, refined by the Partner Center code where the code says
something the status does not (a closed window, a stale ETag, a quota).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seatkeeper.providers import errors
from seatkeeper.providers.microsoft.parsing import get

# 400 codes meaning "the change is no longer allowed in this term": cancellation windows
# (900117 days, 900213 hours), seat-reduction windows (900214, 900257, 800090).
WINDOW_CODES = frozenset({"900117", "900213", "900214", "900257", "800090"})
# Vendor limits: sandbox quotas (800018, cart 10009, 900116), out of licences (60012),
# per-customer subscription and per-subscription seat limits (800066/67/88/89).
QUOTA_CODES = frozenset(
    {"800018", "10009", "900116", "60012", "800066", "800067", "800088", "800089"}
)
STALE_CODES = frozenset({"2055"})
# 409s that clear by themselves: "subscription not ready" (800082), "order in progress"
# (800060), "pending operation" (900278, after up to 24 h).
TRANSIENT_CONFLICT_CODES = frozenset({"800082", "800060", "900278"})


def error_from_response(
    *,
    status: int,
    body: Any,
    retry_after: float | None = None,
    correlation_id: str | None = None,
) -> errors.ProviderError:
    code, message = _code_and_message(body)
    common: dict[str, Any] = {"code": code, "http_status": status, "correlation_id": correlation_id}
    text = message or f"Partner Center answered HTTP {status}"
    if status == 429:
        return errors.Throttled(text, retry_after=retry_after, **common)
    if status in (408, 500, 502, 503, 504):
        return errors.Unavailable(text, **common)
    if status == 401:
        return errors.AuthFailed(text, **common)
    if status == 404:
        return errors.NotFound(text, **common)
    if status == 412 or code in STALE_CODES:
        return errors.StaleVersion(text, **common)
    if code in WINDOW_CODES:
        return errors.WindowClosed(text, **common)
    if code in QUOTA_CODES:
        return errors.QuotaExceeded(text, **common)
    if status == 403:
        return errors.Forbidden(text, **common)
    if status == 409:
        return errors.Conflict(text, retryable=code in TRANSIENT_CONFLICT_CODES, **common)
    if 400 <= status < 500:
        return errors.ValidationFailed(text, **common)
    return errors.UnexpectedResponse(text, **common)


def _code_and_message(body: Any) -> tuple[str | None, str]:
    # Keys are read in any casing: legacy answers send `Code` and `Description`.
    if not isinstance(body, Mapping):
        return None, ""
    code = get(body, "code", "errorCode")
    message = get(body, "description") or get(body, "message") or ""
    return (None if code is None else str(code)), str(message)
