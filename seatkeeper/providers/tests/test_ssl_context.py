"""Connectors share one TLS context per CA bundle instead of loading the trust store anew."""

from __future__ import annotations

import os

from seatkeeper.providers.microsoft.client import ssl_context
from seatkeeper.sandbox.tls import ensure_certificates


def _sandbox_cas(context) -> set[str]:
    """The serial numbers of the sandbox CAs the context trusts."""
    return {
        cert["serialNumber"]
        for cert in context.get_ca_certs()
        if (("commonName", "Seatkeeper Sandbox CA"),) in cert["subject"]
    }


def test_one_context_serves_every_client_of_a_bundle_and_trusts_it(tmp_path) -> None:
    bundle = str(ensure_certificates(tmp_path / "one").ca_cert)

    first, second = ssl_context(bundle), ssl_context(bundle)

    assert first is second
    assert len(_sandbox_cas(first)) == 1
    assert ssl_context(None) is not first
    assert _sandbox_cas(ssl_context(None)) == set()


def test_a_bundle_whose_file_changed_is_read_again(tmp_path) -> None:
    bundle = ensure_certificates(tmp_path / "one").ca_cert
    before = ssl_context(str(bundle))
    other = ensure_certificates(tmp_path / "two").ca_cert

    # when: the file is replaced by another CA (a later modification time)
    bundle.write_bytes(other.read_bytes())
    stat = bundle.stat()
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = ssl_context(str(bundle))

    # then
    assert after is not before
    assert _sandbox_cas(after) == _sandbox_cas(ssl_context(str(other)))
    assert _sandbox_cas(after) != _sandbox_cas(before)
