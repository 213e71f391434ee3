"""Partner Center's throttling budget, expressed as buckets for the shared rate limiter.

Protocol facts relied on: Partner Center allows about 500 requests per minute per tenant
identifier; the identifier is the partner tenant, or the (partner, customer) pair for
customer-scoped resources, so one busy customer can be throttled while others are not. It answers
429 with `Retry-After` when a budget is spent. We keep one bucket per identifier, per provider
account, shared by all workers, sized so that no 60-second window ever holds more than the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from seatkeeper.providers.ratelimit import Limit

DEFAULT_REQUESTS_PER_WINDOW = 500
DEFAULT_WINDOW_SECONDS = 60
# A bucket holding `burst` tokens and refilled at (500 - burst) per minute never lets more than
# 500 through in any 60-second window, whatever the burst. A small burst spread every customer's
# calls at about 8 a second: a discovery of a customer with 30 users (36 calls, far from 500)
# took 4 s instead of 2. A hundred serves every customer of up to about 90 users at once and
# still sustains 400 a minute (6.7 a second) for the very big ones.
DEFAULT_BURST = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleBudget:
    requests: int = DEFAULT_REQUESTS_PER_WINDOW
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    burst: int = DEFAULT_BURST

    @classmethod
    def from_settings(cls) -> ThrottleBudget:
        return cls(
            requests=int(
                getattr(settings, "PARTNER_CENTER_REQUESTS_PER_WINDOW", DEFAULT_REQUESTS_PER_WINDOW)
            ),
            window_seconds=float(
                getattr(settings, "PARTNER_CENTER_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS)
            ),
            burst=int(getattr(settings, "PARTNER_CENTER_BURST", DEFAULT_BURST)),
        )

    def limits(self, *, account_key: str, path: str, customer_id: str | None) -> list[Limit]:
        """The bucket a request counts against: the (partner, customer) pair's for calls under
        one customer, the partner's for partner-wide customer calls (list, create). Other
        resources (catalog, invoices, audit) get a bucket of their own so that a catalog sweep
        does not eat into the budget customer work needs."""
        if customer_id:
            scope = f"customer:{customer_id.lower()}"
        elif path.lower().startswith("/v1/customers"):
            scope = "partner"
        else:
            scope = "other"
        return [
            Limit.for_window(
                key=f"pc:{account_key}:{scope}",
                requests=self.requests,
                window_seconds=self.window_seconds,
                burst=self.burst,
            )
        ]

    @property
    def sustained_rate(self) -> float:
        """Requests per second one throttle key can sustain without a 429."""
        return self.requests / self.window_seconds
