"""When to send a request again, and how long to wait first.

Partner Center guidance: on 429 wait the `Retry-After` it sent, then back off exponentially;
answer failures (5xx, timeouts) are transient. 4xx answers are verdicts on the request itself and
are never retried here. The .NET SDK likewise gives transient failures 3 attempts; we allow a few
more because throttling storms are normal during discovery runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Answers that say "not now" rather than "no". 501 (not implemented) is a permanent "no".
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A Retry-After longer than this is handed to the caller (a task can be rescheduled; a
    # worker should not sit idle for many minutes).
    max_retry_after: float = 120.0
    default_retry_after: float = 5.0

    def backoff(self, *, attempt: int, rng: random.Random) -> float:
        """Capped exponential back-off with jitter after failed attempt number `attempt` (1-based).

        Half the delay is fixed and half random ("equal jitter"): workers that failed together
        spread out, and none retries immediately.
        """
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def retry_after(self, header: str | None) -> float:
        """Seconds from a Retry-After header (delta-seconds; HTTP dates are not used by PC)."""
        if header is None:
            return self.default_retry_after
        try:
            seconds = float(header.strip())
        except ValueError:
            return self.default_retry_after
        return max(0.0, seconds)

    def should_retry_status(self, *, status: int, attempt: int) -> bool:
        return status in RETRYABLE_STATUSES and attempt < self.max_attempts
