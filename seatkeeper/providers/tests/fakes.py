"""Test doubles for the connector's seams: tokens, sleep, the rate-limit clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from seatkeeper.providers.microsoft.auth import TokenKind


@dataclass
class FakeTokens:
    """Hands out numbered tokens; `invalidate` makes the next one different."""

    generation: int = 0
    invalidated: list[TokenKind] = field(default_factory=list)

    def token(self, *, kind: TokenKind) -> str:
        return f"{kind}-token-{self.generation}"

    def invalidate(self, *, kind: TokenKind) -> None:
        self.invalidated.append(kind)
        self.generation += 1


@dataclass
class FakeTime:
    """A clock that only moves when somebody sleeps: injected as both `sleep` and `now`."""

    current: float = 1_700_000_000.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.current += seconds

    def now(self) -> float:
        return self.current
