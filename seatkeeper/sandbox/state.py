"""The running sandbox: configuration, store, clock, signing key, faults, dialect and the call
log."""

from __future__ import annotations

import collections
import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .dialect import Dialect
from .faults import Faults, Throttler
from .store import Clock, Store

# Well-known first-party audiences (reference §2.1).
PARTNER_CENTER_AUDIENCE = "https://api.partnercenter.microsoft.com"
GRAPH_WINDOWS_AUDIENCE = "https://graph.windows.net"
# Microsoft Graph: the partner billing reports (reconciliation exports) take its tokens, with the
# application permission below among their `roles`.
MICROSOFT_GRAPH_AUDIENCE = "https://graph.microsoft.com"
PARTNER_BILLING_ROLE = "PartnerBilling.Read.All"
PARTNER_CENTER_APP_ID = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd"


@dataclass
class Call:
    at: str
    method: str
    path: str
    query: str
    status: int
    request_id: str
    correlation_id: str
    fault: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "requestId": self.request_id,
            "correlationId": self.correlation_id,
            "fault": self.fault,
        }


@dataclass
class Identity:
    partner_tenant_id: str
    partner_domain: str
    partner_name: str
    client_id: str
    client_secret: str
    agent_oid: str
    agent_upn: str
    admin_key: str


def _load_signing_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


@dataclass
class Sandbox:
    data_dir: Path
    base_url: str
    store: Store
    clock: Clock
    identity: Identity
    signing_key: rsa.RSAPrivateKey
    kid: str
    faults: Faults = field(default_factory=Faults)
    dialect: Dialect = field(default_factory=Dialect)
    throttler: Throttler = field(default_factory=Throttler)
    calls: collections.deque[Call] = field(default_factory=lambda: collections.deque(maxlen=20000))
    calls_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def authority_url(self) -> str:
        return f"{self.base_url}/{self.identity.partner_tenant_id}"

    def new_id(self) -> str:
        return str(uuid.uuid4())


def open_sandbox(data_dir: Path, base_url: str) -> Sandbox:
    """Open an existing store (built by ``generator.build``) for serving."""
    store = Store(data_dir / "sandbox.sqlite3")
    meta = {row[0]: row[1] for row in store.all("SELECT key, value FROM meta")}
    if "partner_tenant_id" not in meta:
        raise RuntimeError(f"{data_dir} holds no sandbox world; run generate first")
    identity = Identity(
        partner_tenant_id=meta["partner_tenant_id"],
        partner_domain=meta["partner_domain"],
        partner_name=meta["partner_name"],
        client_id=meta["client_id"],
        client_secret=meta["client_secret"],
        agent_oid=meta["agent_oid"],
        agent_upn=meta["agent_upn"],
        admin_key=meta["admin_key"],
    )
    key = _load_signing_key(data_dir / "signing-key.pem")
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = hashlib.sha256(public).hexdigest()[:27]
    clock = Clock(float(meta.get("clock_offset", "0")))
    return Sandbox(data_dir, base_url, store, clock, identity, key, kid)
