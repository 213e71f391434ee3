"""Production behaviours the sandbox can switch on: latency, random 5xx, timeouts, eventual
consistency delays and throttling. Everything is off except throttling at documented limits.

SPEC syntax (``--faults`` and the admin API's ``spec`` field): comma-separated ``key=value`` pairs
and preset words, applied left to right, e.g. ``eventual,error_rate=0.05,latency_ms=200``.
See README.md for the list of keys.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # Delays close to what Partner Center shows: orders listed up to 15 min late, provisioning in
    # about a minute, subscriptions refusing updates for a few minutes after creation.
    "eventual": {
        "provisioning_delay_s": 60.0,
        "order_list_delay_s": 900.0,
        "subscription_ready_delay_s": 300.0,
    },
    "flaky": {"error_rate": 0.05, "timeout_rate": 0.01},
    "slow": {"latency_ms": 300},
    "nothrottle": {"throttling": False},
    "quotas": {"sandbox_quotas": True},
}


@dataclass
class ScriptedFault:
    """Answer the next ``times`` requests matching METHOD and a path glob with ``status`` (or
    ``timeout``: dropped unanswered and not carried out; or ``lost``: carried out, then the
    answer is dropped), so a test can script exactly which call fails."""

    method: str = "*"
    path: str = "*"
    status: int | str = 503
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method.upper())) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_s: float = 30.0
    path_prefix: str = ""
    seed: int = 0
    provisioning_delay_s: float = 0.0
    order_list_delay_s: float = 0.0
    subscription_ready_delay_s: float = 0.0
    throttling: bool = True
    throttle_limit: int = 500
    throttle_window_s: int = 60
    # Subscribed-SKU consumed counts ignore licences assigned less than this long ago.
    license_lag_s: float = 0.0
    # Share of subscription PATCHes answered 202 + Location instead of 200 + body.
    patch_accepted_rate: float = 0.0
    # Integration-sandbox account quotas (reference §1.7): off unless asked for.
    sandbox_quotas: bool = False
    quota_subscriptions_per_customer: int = 5
    quota_licenses_per_subscription: int = 25
    # Microsoft Graph billing exports: how long an export operation keeps running (sandbox
    # time), how many lines go in one file before the next is started, Graph's own request
    # budget per partner, whether the demo app holds PartnerBilling.Read.All, how many bytes of
    # the next `blob_cuts` file downloads are sent before the connection drops, and how long a
    # manifest's signed link stays valid.
    export_delay_s: float = 0.0
    export_blob_lines: int = 100_000
    graph_throttle_limit: int = 300
    graph_billing_permission: bool = True
    blob_cut_after_bytes: int = 0
    blob_cuts: int = 0
    sas_lifetime_s: int = 3600
    script: list[ScriptedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["script"] = [asdict(s) for s in self.script]
        return data

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name: f for f in fields(self)}
        for key, raw in values.items():
            if key not in names:
                raise ValueError(f"unknown fault setting {key!r}")
            if key == "script":
                self.script = [
                    s if isinstance(s, ScriptedFault) else ScriptedFault(**s) for s in raw
                ]
                continue
            current = getattr(self, key)
            setattr(self, key, _coerce(current, raw))
            if key == "seed":
                self._random = random.Random(self.seed)

    def apply_spec(self, spec: str | None) -> None:
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                if part not in PRESETS:
                    raise ValueError(f"unknown fault preset {part!r}")
                self.update(PRESETS[part])
                continue
            key, _, value = part.partition("=")
            self.update({key.strip(): value.strip()})

    def accepted(self) -> bool:
        """Should this subscription PATCH answer 202 Accepted?"""
        with self._lock:
            return (
                bool(self.patch_accepted_rate) and self._random.random() < self.patch_accepted_rate
            )

    def roll(self, method: str, path: str) -> str | int | None:
        """Decide this request's fault: a status code, ``"timeout"`` or None."""
        with self._lock:
            for scripted in self.script:
                if scripted.times > 0 and scripted.matches(method, path):
                    scripted.times -= 1
                    self.script = [s for s in self.script if s.times > 0]
                    return scripted.status
            if not path.startswith(self.path_prefix or "/"):
                return None
            if self.timeout_rate and self._random.random() < self.timeout_rate:
                return "timeout"
            if self.error_rate and self._random.random() < self.error_rate:
                return self._random.choice((500, 502, 503))
            return None


def _coerce(current: Any, raw: Any) -> Any:
    if isinstance(current, bool):
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("1", "true", "on", "yes")
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    return str(raw)


class Throttler:
    """Fixed 60-second windows per throttle key (the docs give a per-minute budget; the window
    shape is our inference). Keys: the partner tenant, or partner + customer for customer-scoped
    resources, so one hot customer is throttled while the others still work."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def hit(self, key: str, now: float, limit: int, window_s: int) -> int | None:
        """Count one request; return Retry-After seconds if the key is over its limit."""
        window = int(now // window_s)
        with self._lock:
            if len(self._counts) > 50000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0)
            if count >= limit:
                return max(1, math.ceil((window + 1) * window_s - now))
            self._counts[(key, window)] = count + 1
            return None
