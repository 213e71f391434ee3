"""Start a real sandbox (TLS, random free port, uvicorn in a background thread) for tests.

with running_sandbox(tmp_path) as sbx:
    app = msal.ConfidentialClientApplication(sbx.client_id, client_credential=sbx.client_secret,
                                             authority=sbx.authority_url, instance_discovery=False,
                                             verify=str(sbx.ca_cert))
    sbx.admin.advance_clock(3600)
"""

from __future__ import annotations

import datetime as dt
import html
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .generator import GeneratorOptions, generate
from .state import Sandbox, open_sandbox
from .tls import ensure_certificates


class AdminClient:
    """Thin client of the ``/_sandbox/`` admin API."""

    def __init__(self, base_url: str, admin_key: str, ca_cert: Path) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            verify=ssl.create_default_context(cafile=str(ca_cert)),
            headers={"X-Sandbox-Key": admin_key},
            timeout=30,
        )

    def close(self) -> None:
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        response.raise_for_status()
        return response.json() if response.content else None

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/info")

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/faults")

    def set_faults(
        self, spec: str | None = None, *, reset: bool = False, **values: Any
    ) -> dict[str, Any]:
        """``set_faults("eventual", error_rate=0.1)``;
        ``script=[{"method": "POST", "path": "/v1/...", "status": 503, "times": 1}]`` makes exactly
        the next matching calls fail."""
        body: dict[str, Any] = dict(values)
        if spec:
            body["spec"] = spec
        if reset:
            body["reset"] = True
        return self._call("PUT", "/_sandbox/faults", body)

    def reset_faults(self) -> dict[str, Any]:
        return self.set_faults(reset=True)

    def dialect(self) -> dict[str, bool]:
        return self._call("GET", "/_sandbox/dialect")

    def set_dialect(
        self, spec: str | None = None, *, reset: bool = False, **variants: bool
    ) -> dict[str, bool]:
        """``set_dialect("bom,pascal_case")``, ``set_dialect(offset_dates=True)``,
        ``set_dialect(reset=True)`` (every variant off); see dialect.py."""
        body: dict[str, Any] = dict(variants)
        if spec:
            body["spec"] = spec
        if reset:
            body["reset"] = True
        return self._call("PUT", "/_sandbox/dialect", body)

    def now(self) -> dt.datetime:
        value = self._call("GET", "/_sandbox/clock")["now"]
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")[:26] + "+00:00")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/_sandbox/clock", {"advanceSeconds": seconds})

    def set_clock(self, moment: dt.datetime | str) -> dict[str, Any]:
        value = moment if isinstance(moment, str) else moment.isoformat()
        return self._call("POST", "/_sandbox/clock", {"set": value})

    def calls(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("method", method), ("path", path)) if v}
        return self._call("GET", "/_sandbox/calls", params=params)["items"]

    def clear_calls(self) -> None:
        self._call("DELETE", "/_sandbox/calls")

    def mint_refresh_token(self, **body: Any) -> str:
        return self._call("POST", "/_sandbox/refresh-token", body)["refresh_token"]

    def access_token(
        self,
        *,
        app_only: bool = False,
        mfa: bool = True,
        resource: str | None = None,
        lifetime: int | None = None,
    ) -> str:
        body: dict[str, Any] = {"appOnly": app_only, "mfa": mfa}
        if resource:
            body["resource"] = resource
        if lifetime is not None:
            body["lifetime"] = lifetime
        return self._call("POST", "/_sandbox/access-token", body)["access_token"]

    def mfa_code(self, upn: str | None = None) -> str:
        """The partner agent's current one-time code (its authenticator app, by sandbox time)."""
        params = {"upn": upn} if upn else None
        return self._call("GET", "/_sandbox/mfa-code", params=params)["code"]

    def add_redirect_uri(self, redirect_uri: str, client_id: str | None = None) -> list[str]:
        """Register a redirect URI for the demo application (or `client_id`)."""
        body: dict[str, Any] = {"redirectUri": redirect_uri}
        if client_id:
            body["clientId"] = client_id
        return self._call("POST", "/_sandbox/apps/redirect-uris", body)["redirectUris"]

    def accept_relationship(self, domain: str, **body: Any) -> dict[str, Any]:
        """The foreign tenant ``domain`` accepts the reseller relationship: returns the Customer."""
        return self._call("POST", "/_sandbox/accept-relationship", {"domain": domain, **body})

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/_sandbox/reset")

    def synthesize_invoice(self, **body: Any) -> dict[str, Any]:
        """Load-test lines and their invoice: ``period="2026-10", currency="EUR",
        lines=1000000, customers=5000`` (see volume.py)."""
        return self._call("POST", "/_sandbox/billing/synthesize", body)


@dataclass
class SandboxInfo:
    base_url: str
    authority_url: str
    partner_tenant_id: str
    client_id: str
    client_secret: str
    ca_cert: Path
    admin_key: str
    agent_upn: str
    agent_password: str
    data_dir: Path
    demo_customers: list[dict[str, str]]
    graph_base_url: str
    admin: AdminClient
    sandbox: Sandbox = field(repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client for the Partner Center API trusting the sandbox CA."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(
            base_url=self.base_url,
            verify=self.ssl_context(),
            headers=headers,
            timeout=kwargs.pop("timeout", 30),
            **kwargs,
        )


_FLOW_TOKEN = re.compile(r'name="flowToken" value="([^"]+)"')


def sign_in_and_consent(
    info: SandboxInfo,
    auth_uri: str,
    *,
    password: str | None = None,
    mfa: bool = True,
    decision: str = "accept",
) -> httpx.Response:
    """Go through the sandbox's sign-in pages like a browser: the partner agent's password, the
    one-time code (or "Skip for now" when `mfa` is false), then the consent page when it is
    shown. Returns the last answer: the redirect back to the application, or the page that
    stopped the sign-in."""

    def submit(page: httpx.Response, fields: dict[str, str]) -> httpx.Response:
        match = _FLOW_TOKEN.search(page.text)
        if page.status_code != 200 or match is None:
            return page
        return browser.post(auth_uri, data={"flowToken": html.unescape(match[1]), **fields})

    with httpx.Client(verify=info.ssl_context(), timeout=30) as browser:
        page = browser.get(auth_uri)
        page = submit(page, {"login": info.agent_upn, "password": password or info.agent_password})
        if "Enter code" in page.text:
            answer = (
                {"otc": info.admin.mfa_code(), "decision": "verify"}
                if mfa
                else {"decision": "skip"}
            )
            page = submit(page, answer)
        if "Permissions requested" in page.text:
            page = submit(page, {"decision": decision})
        return page


def _server_class() -> type:
    import uvicorn

    class _TestServer(uvicorn.Server):
        """Aborts idle keep-alive connections at shutdown: a TLS close otherwise waits up to 30 s
        for the client's close_notify, which idle test clients never send."""

        async def shutdown(self, sockets: Any = None) -> None:
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
            await super().shutdown(sockets)

    return _TestServer


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_sandbox(
    tmp_path: Path,
    *,
    seed: str = "demo",
    latency_ms: int = 0,
    faults: str | None = None,
    throttling: bool = True,
    start: dt.datetime | None = None,
    dialect: str | None = None,
    **generator_options: Any,
) -> Iterator[SandboxInfo]:
    """Generate a world in ``tmp_path/sandbox`` and serve it on a free port until the block ends.

    ``generator_options``: ``customers``, ``subscriptions_per_customer``, ``users_per_customer``,
    ``random_seed`` (see GeneratorOptions). ``faults`` takes the SPEC syntax of README.md,
    ``dialect`` the variants of dialect.py (``"all"``, or ``"bom,pascal_case"``...).
    ``start`` starts the sandbox's clock at that moment; by default, when the platform's clock is
    frozen (as in every test), the sandbox starts where it stands, so both sides agree on the
    day whatever the machine's date.
    """
    import uvicorn

    from seatkeeper.core import clock

    from .admin import sandbox_info
    from .app import create_app

    if start is None and clock.is_frozen():
        start = clock.now()
    data_dir = Path(tmp_path) / "sandbox"
    generate(data_dir, GeneratorOptions(seed=seed, **generator_options), start=start)
    tls = ensure_certificates(data_dir / "tls")
    port = free_port()
    sandbox = open_sandbox(data_dir, f"https://127.0.0.1:{port}")
    sandbox.faults.apply_spec(faults)
    sandbox.dialect.apply_spec(dialect)
    sandbox.faults.latency_ms = latency_ms or sandbox.faults.latency_ms
    sandbox.faults.throttling = throttling and sandbox.faults.throttling
    config = uvicorn.Config(
        create_app(sandbox),
        host="127.0.0.1",
        port=port,
        ssl_certfile=str(tls.server_cert),
        ssl_keyfile=str(tls.server_key),
        log_level="warning",
        lifespan="off",
    )
    server = _server_class()(config)
    thread = threading.Thread(target=server.run, name=f"sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.02)
    info = sandbox_info(sandbox)
    admin = AdminClient(sandbox.base_url, sandbox.identity.admin_key, tls.ca_cert)
    try:
        yield SandboxInfo(
            base_url=sandbox.base_url,
            authority_url=sandbox.authority_url,
            partner_tenant_id=sandbox.identity.partner_tenant_id,
            client_id=sandbox.identity.client_id,
            client_secret=sandbox.identity.client_secret,
            ca_cert=tls.ca_cert,
            admin_key=sandbox.identity.admin_key,
            agent_upn=sandbox.identity.agent_upn,
            agent_password=info["agent_password"],
            data_dir=data_dir,
            demo_customers=info["demo_customers"],
            graph_base_url=info["graph_base_url"],
            admin=admin,
            sandbox=sandbox,
        )
    finally:
        admin.close()
        server.should_exit = True
        server.force_exit = True  # do not wait for keep-alive connections of test clients
        thread.join(timeout=30)
        sandbox.store.close()
