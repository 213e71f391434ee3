"""Errors every provider implementation raises, so callers can decide whether a retry can help.

Domain code catches these, never an HTTP library's exceptions. `retryable` answers one question:
"may the same request succeed later without anybody changing it?" — true for throttling, outages,
timeouts and the vendor's "not ready yet" conflicts; false for validation, missing objects,
authentication and closed windows.
"""

from __future__ import annotations

from collections.abc import Sequence


class ProviderError(Exception):
    """A vendor call failed; `code` is the vendor's own error code (as text) when it sent one."""

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        codes: Sequence[str] = (),
        http_status: int | None = None,
        retryable: bool | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # `codes`: every code the vendor sent (Entra lists several); `code` is the first.
        self.codes = tuple(str(c) for c in codes) or ((code,) if code else ())
        self.code = code if code is not None else (self.codes[0] if self.codes else None)
        self.http_status = http_status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.correlation_id = correlation_id

    def __str__(self) -> str:
        parts = [self.message]
        if len(self.codes) > 1:
            parts.append(f"codes={','.join(self.codes)}")
        elif self.code:
            parts.append(f"code={self.code}")
        if self.http_status:
            parts.append(f"http={self.http_status}")
        return " ".join(parts)


class NotFound(ProviderError):
    """The customer, subscription, order, user or catalog item does not exist (for this partner)."""


class Conflict(ProviderError):
    """The object is busy or in the wrong state; some conflicts clear by themselves (retryable)."""


class ValidationFailed(ProviderError):
    """The vendor refused the request's content; sending it again will fail the same way."""


class StaleVersion(ValidationFailed):
    """The ETag we sent is no longer current; re-read the object and apply the change again."""


class WindowClosed(ValidationFailed):
    """A cancellation or seat-reduction window has passed; only the next term can change it."""


class QuotaExceeded(ValidationFailed):
    """A vendor limit (sandbox quotas, seats per subscription, licences left) was reached."""


class Forbidden(ProviderError):
    """The partner has no right to do this (no relationship, app-only token, conditional access)."""


class AuthFailed(ProviderError):
    """Credentials were refused: bad secret, expired refresh token, missing consent."""


class Throttled(ProviderError):
    """The vendor asked us to slow down; `retry_after` is how long it asked us to wait (seconds)."""

    default_retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """The vendor did not answer usefully (5xx, timeout, connection refused)."""

    default_retryable = True


class UnexpectedResponse(ProviderError):
    """The vendor answered something we could not read; a bug on one side or the other."""
