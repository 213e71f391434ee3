"""Builders shared by the registration tests: an account of the cast's partner at the sandbox,
and the sandbox's sign-in driven to its answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from seatkeeper.conftest import Cast
from seatkeeper.providers import services
from seatkeeper.providers.consent_session import callback_url
from seatkeeper.providers.models import ProviderAccount


def sandbox_account(cast: Cast, sandbox: Any, **overrides: Any) -> ProviderAccount:
    values = {
        "name": "Partner Center sandbox",
        "partner_tenant_id": sandbox.partner_tenant_id,
        "application_id": sandbox.client_id,
        "application_secret": sandbox.client_secret,
        "authority_url": sandbox.base_url,
        "api_base_url": sandbox.base_url,
        "ca_bundle_path": str(sandbox.ca_cert),
        **overrides,
    }
    return services.account_register(actor=cast.cloud_admin, partner=cast.partner, **values)


def authority_reply(sandbox: Any, auth_uri: str, **sign_in: Any) -> dict[str, str]:
    """Sign in at the sandbox as its partner agent; the query the browser brings back to us."""
    from seatkeeper.sandbox.testing import sign_in_and_consent

    sandbox.admin.add_redirect_uri(callback_url())
    answer = sign_in_and_consent(sandbox, auth_uri, **sign_in)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(callback_url())
    return {key: values[0] for key, values in parse_qs(urlparse(location).query).items()}
