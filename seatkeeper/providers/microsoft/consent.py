"""The Secure Application Model's one interactive step: "Login with Microsoft".

A partner agent signs in at the authority (with MFA) and consents to the partner's application;
the authority sends the browser back to our callback with a code, which we redeem (with the
application's secret and the PKCE verifier) for the refresh token we keep. msal does the protocol:
`begin` builds the flow (state, nonce, PKCE, the authority's authorize URL), `complete` checks the
answer against it and redeems the code. The flow is a plain dict: the caller keeps it server-side
between the two legs, bound to whoever started it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from seatkeeper.providers.errors import AuthFailed, Unavailable
from seatkeeper.providers.microsoft.auth import USER_SCOPES, Credentials, build_msal_app


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    refresh_token: str
    consented_by: str  # the partner agent's user principal name
    tenant_id: str  # the directory the agent signed in to


def begin(credentials: Credentials, *, redirect_uri: str) -> dict[str, Any]:
    """The flow to keep until the callback; `flow["auth_uri"]` is where to send the browser."""
    app, session = _app(credentials)
    try:
        # prompt=consent: the consent page is shown even to an agent who consented before, so a
        # re-consent really renews the grant.
        return app.initiate_auth_code_flow(USER_SCOPES, redirect_uri=redirect_uri, prompt="consent")
    finally:
        session.close()


def complete(
    credentials: Credentials, *, flow: dict[str, Any], reply: Mapping[str, str]
) -> Consent:
    """Check the authority's answer against `flow` and redeem its code.

    Raises AuthFailed with `code` "access_denied" (the agent declined), "state_mismatch" (the
    answer belongs to another sign-in), "no_mfa" (signed in without multi-factor authentication,
    which Partner Center refuses), "wrong_tenant", or the authority's own AADSTS code."""
    if not flow.get("state") or reply.get("state") != flow["state"]:
        raise AuthFailed("the sign-in answer belongs to another sign-in", code="state_mismatch")
    if reply.get("error"):
        error = str(reply["error"])
        description = str(reply.get("error_description", "")).split("\r\n")[0]
        raise AuthFailed(f"the authority answered {error}: {description}", code=error)
    app, session = _app(credentials)
    try:
        result = app.acquire_token_by_auth_code_flow(dict(flow), dict(reply))
    except ValueError as error:
        # msal: a state that does not match the flow (a forged or stale answer).
        raise AuthFailed(f"sign-in answer refused: {error}", code="state_mismatch") from error
    except OSError as error:
        raise Unavailable(f"token endpoint unreachable: {error}", retryable=True) from error
    finally:
        session.close()
    if "access_token" not in result or not result.get("refresh_token"):
        error = str(result.get("error", "no_refresh_token"))
        description = str(result.get("error_description", "")).split("\r\n")[0]
        codes = result.get("error_codes") or []
        raise AuthFailed(
            f"code redemption refused ({error}): {description}",
            code=str(codes[0]) if codes else error,
        )
    claims = result.get("id_token_claims") or {}
    tenant_id = str(claims.get("tid", ""))
    if tenant_id and tenant_id.lower() != credentials.tenant_id.lower():
        raise AuthFailed(
            f"the agent signed in to directory {tenant_id}, not the partner's", code="wrong_tenant"
        )
    if not _has_mfa(result["access_token"]):
        raise AuthFailed("the agent signed in without multi-factor authentication", code="no_mfa")
    return Consent(
        refresh_token=result["refresh_token"],
        consented_by=str(claims.get("preferred_username") or claims.get("upn") or ""),
        tenant_id=tenant_id or credentials.tenant_id,
    )


def _app(credentials: Credentials) -> Any:
    try:
        return build_msal_app(credentials)
    except (OSError, ValueError) as error:
        # msal reads the authority's metadata when it is built: an unreachable or unknown
        # authority ends here.
        raise Unavailable(f"authority unreachable: {error}", retryable=True) from error


def _has_mfa(access_token: str) -> bool:
    """Partner Center's access tokens are JWTs carrying `amr`; one without "mfa" is refused by
    the API on every App+User call. A token we cannot read is given the benefit of the doubt:
    the connection test will tell."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return True
    methods = claims.get("amr")
    return not isinstance(methods, list) or "mfa" in methods
