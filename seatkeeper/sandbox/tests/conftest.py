"""Fixtures: a real sandbox over TLS. ``sandbox`` is fresh per test; ``shared_sandbox`` is one
demo world per test module for read-only tests (faster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seatkeeper.sandbox.testing import SandboxInfo, running_sandbox

# Tests move the sandbox clock by days: their tokens must outlive that.
LONG = 400 * 24 * 3600


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxInfo]:
    with running_sandbox(tmp_path) as info:
        yield info


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running_sandbox(tmp_path_factory.mktemp("shared")) as info:
        yield info


@pytest.fixture
def user_client(sandbox: SandboxInfo) -> Iterator[httpx.Client]:
    """App+User (MFA) client on the per-test sandbox."""
    with sandbox.client(sandbox.admin.access_token(lifetime=LONG)) as client:
        yield client


@pytest.fixture
def app_client(sandbox: SandboxInfo) -> Iterator[httpx.Client]:
    """App-only client on the per-test sandbox."""
    with sandbox.client(sandbox.admin.access_token(app_only=True, lifetime=LONG)) as client:
        yield client
