"""The sign-in pages of the authorize endpoint: registered redirect URIs only, password, a
one-time code (MFA), consent, and the refusals a partner's admin can meet on the way."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt

from seatkeeper.sandbox.signin import totp_code, totp_matches
from seatkeeper.sandbox.testing import SandboxInfo, sign_in_and_consent

PC = "https://api.partnercenter.microsoft.com"
CALLBACK = "https://seatkeeper.example/providers/consent/callback/"


def _authorize_uri(info: SandboxInfo, *, redirect_uri: str = CALLBACK, **extra: str) -> str:
    query = {
        "client_id": info.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": f"{PC}/user_impersonation openid profile offline_access",
        "state": "state-1",
        **extra,
    }
    return f"{info.authority_url}/oauth2/v2.0/authorize?{urlencode(query)}"


def _reply(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK)
    return {key: values[0] for key, values in parse_qs(urlparse(location).query).items()}


def _redeem(info: SandboxInfo, code: str) -> dict:
    with info.client() as client:
        return client.post(
            f"/{info.partner_tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "authorization_code",
                "client_id": info.client_id,
                "client_secret": info.client_secret,
                "code": code,
                "redirect_uri": CALLBACK,
                "scope": f"{PC}/user_impersonation",
            },
        ).json()


def test_a_redirect_uri_the_application_did_not_register_gets_an_error_page(
    sandbox: SandboxInfo,
) -> None:
    # Given no redirect URI registered for the demo application
    # When a sign-in starts with one
    with httpx.Client(verify=sandbox.ssl_context()) as browser:
        answer = browser.get(_authorize_uri(sandbox))
    # Then Entra's error page answers, and the browser is sent nowhere
    assert answer.status_code == 400
    assert "AADSTS50011" in answer.text and "location" not in answer.headers
    assert 'name="password"' not in answer.text


def test_registering_a_redirect_uri_is_idempotent_and_checked(sandbox: SandboxInfo) -> None:
    assert sandbox.admin.add_redirect_uri(CALLBACK) == [CALLBACK]
    assert sandbox.admin.add_redirect_uri(CALLBACK) == [CALLBACK]
    with httpx.Client(verify=sandbox.ssl_context()) as admin:
        refused = admin.post(
            f"{sandbox.base_url}/_sandbox/apps/redirect-uris",
            json={"redirectUri": "not a uri"},
            headers={"X-Sandbox-Key": sandbox.admin_key},
        )
    assert refused.status_code == 400


def test_password_then_code_then_consent_issues_a_code_for_tokens_with_mfa(
    sandbox: SandboxInfo,
) -> None:
    sandbox.admin.add_redirect_uri(CALLBACK)
    reply = _reply(sign_in_and_consent(sandbox, _authorize_uri(sandbox)))
    assert reply["state"] == "state-1"
    tokens = _redeem(sandbox, reply["code"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "mfa"] and claims["upn"] == sandbox.agent_upn
    assert tokens["refresh_token"]


def test_a_wrong_password_or_code_keeps_the_agent_on_the_page(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri(CALLBACK)
    wrong_password = sign_in_and_consent(sandbox, _authorize_uri(sandbox), password="nope")
    assert wrong_password.status_code == 200 and "AADSTS50126" in wrong_password.text
    with httpx.Client(verify=sandbox.ssl_context()) as browser:
        page = browser.get(_authorize_uri(sandbox))
        token = re.search(r'name="flowToken" value="([^"]+)"', page.text)[1]
        mfa = browser.post(
            _authorize_uri(sandbox),
            data={
                "flowToken": token,
                "login": sandbox.agent_upn,
                "password": sandbox.agent_password,
            },
        )
        token = re.search(r'name="flowToken" value="([^"]+)"', mfa.text)[1]
        good = sandbox.admin.mfa_code()
        wrong = str((int(good) + 1) % 1_000_000).zfill(6)
        refused = browser.post(
            _authorize_uri(sandbox), data={"flowToken": token, "otc": wrong, "decision": "verify"}
        )
    assert "Enter code" in mfa.text
    assert refused.status_code == 200 and "AADSTS500121" in refused.text


def test_skipping_mfa_gives_tokens_partner_center_refuses(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri(CALLBACK)
    reply = _reply(sign_in_and_consent(sandbox, _authorize_uri(sandbox), mfa=False))
    tokens = _redeem(sandbox, reply["code"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert "mfa" not in claims["amr"]
    with sandbox.client(tokens["access_token"]) as client:
        assert client.get("/v1/customers").status_code == 401


def test_cancelling_consent_sends_the_browser_back_with_access_denied(
    sandbox: SandboxInfo,
) -> None:
    sandbox.admin.add_redirect_uri(CALLBACK)
    reply = _reply(sign_in_and_consent(sandbox, _authorize_uri(sandbox), decision="cancel"))
    assert reply["error"] == "access_denied" and reply["state"] == "state-1"
    assert reply["error_description"].startswith("AADSTS65004")
    assert "code" not in reply


def test_consent_is_asked_once_unless_the_application_asks_again(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri(CALLBACK)
    _reply(sign_in_and_consent(sandbox, _authorize_uri(sandbox)))
    # The second sign-in needs no consent page (sign_in_and_consent would cancel it: it accepts
    # only when told, so a shown page would answer access_denied).
    again = _reply(sign_in_and_consent(sandbox, _authorize_uri(sandbox), decision="cancel"))
    asked = _reply(
        sign_in_and_consent(sandbox, _authorize_uri(sandbox, prompt="consent"), decision="cancel")
    )
    assert "code" in again
    assert asked["error"] == "access_denied"


def test_a_sign_in_left_too_long_must_start_again(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri(CALLBACK)
    with httpx.Client(verify=sandbox.ssl_context()) as browser:
        page = browser.get(_authorize_uri(sandbox))
        token = re.search(r'name="flowToken" value="([^"]+)"', page.text)[1]
        sandbox.admin.advance_clock(16 * 60)
        late = browser.post(
            _authorize_uri(sandbox),
            data={
                "flowToken": token,
                "login": sandbox.agent_upn,
                "password": sandbox.agent_password,
            },
        )
        forged = browser.post(_authorize_uri(sandbox), data={"flowToken": token + "x"})
    assert late.status_code == 400 and "AADSTS50058" in late.text
    assert forged.status_code == 400 and "AADSTS50058" in forged.text


def test_the_one_time_code_follows_rfc_6238() -> None:
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 8 digits truncated to 6.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp_code(secret, 59) == "287082"
    assert totp_code(secret, 1111111109) == "081804"
    assert totp_matches(secret, "287082", 59 + 30)  # one step late is tolerated
    assert not totp_matches(secret, "287082", 59 + 90)


def test_sandbox_json_carries_the_agent_totp_secret(shared_sandbox: SandboxInfo) -> None:
    info = shared_sandbox.admin.info()
    code = shared_sandbox.admin.mfa_code()
    now = shared_sandbox.admin.now().timestamp()
    assert totp_matches(info["agent_totp_secret"], code, now)
