"""Entra ID emulation: metadata, JWKS, token endpoints (v1/v2), consent + auth code, refresh, and
the real MSAL for Python acquiring tokens with only the authority changed."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlparse

import jwt
import msal
import pytest
import requests

from seatkeeper.sandbox.testing import SandboxInfo, sign_in_and_consent

PC = "https://api.partnercenter.microsoft.com"


def _session(info: SandboxInfo) -> requests.Session:
    session = requests.Session()
    session.verify = str(info.ca_cert)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    return session


def _msal_app(info: SandboxInfo, secret: str | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        info.client_id,
        client_credential=secret or info.client_secret,
        authority=info.authority_url,
        instance_discovery=False,
        http_client=_session(info),
    )


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_v2_openid_configuration_has_the_fields_msal_reads(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client() as client:
        response = client.get(
            f"/{shared_sandbox.partner_tenant_id}/v2.0/.well-known/openid-configuration"
        )
    assert response.status_code == 200
    assert "max-age=86400" in response.headers["cache-control"]
    doc = response.json()
    tid = shared_sandbox.partner_tenant_id
    assert doc["token_endpoint"] == f"{shared_sandbox.base_url}/{tid}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{shared_sandbox.base_url}/{tid}/oauth2/v2.0/authorize"
    assert doc["issuer"] == f"{shared_sandbox.base_url}/{tid}/v2.0"
    assert doc["jwks_uri"].endswith(f"/{tid}/discovery/v2.0/keys")
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"client_secret_post", "client_secret_basic"} <= set(
        doc["token_endpoint_auth_methods_supported"]
    )


def test_v1_openid_configuration_uses_sts_issuer(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client() as client:
        doc = client.get(
            f"/{shared_sandbox.partner_tenant_id}/.well-known/openid-configuration"
        ).json()
    assert doc["issuer"] == f"https://sts.windows.net/{shared_sandbox.partner_tenant_id}/"
    assert doc["token_endpoint"].endswith("/oauth2/token")
    assert doc["authorization_endpoint"].endswith("/oauth2/authorize")


def test_unknown_tenant_metadata_is_an_entra_error(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client() as client:
        response = client.get(
            "/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration"
        )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def test_jwks_verifies_issued_tokens(shared_sandbox: SandboxInfo) -> None:
    token = shared_sandbox.admin.access_token()
    with shared_sandbox.client() as client:
        for path in (
            f"/{shared_sandbox.partner_tenant_id}/discovery/v2.0/keys",
            "/common/discovery/keys",
        ):
            keys = client.get(path).json()["keys"]
            assert keys[0]["kty"] == "RSA" and keys[0]["use"] == "sig"
            key = jwt.PyJWK(keys[0]).key
            # The token's times are the sandbox's, which tests start on a fixed day.
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience=PC, options={"verify_exp": False}
            )
            assert claims["tid"] == shared_sandbox.partner_tenant_id


def test_instance_discovery_reply_shape(shared_sandbox: SandboxInfo) -> None:
    endpoint = f"{shared_sandbox.authority_url}/oauth2/v2.0/authorize"
    with shared_sandbox.client() as client:
        body = client.get(
            "/common/discovery/instance",
            params={"api-version": "1.1", "authorization_endpoint": endpoint},
        ).json()
        other = client.get(
            "/common/discovery/instance",
            params={"authorization_endpoint": "https://evil.example/x/oauth2/v2.0/authorize"},
        )
    assert body["api-version"] == "1.1"
    assert body["tenant_discovery_endpoint"].endswith("/v2.0/.well-known/openid-configuration")
    assert body["metadata"][0]["aliases"] == [urlparse(shared_sandbox.base_url).netloc]
    assert other.status_code == 400 and other.json()["error"] == "invalid_instance"


@pytest.mark.parametrize("scope", [f"{PC}/.default", "https://graph.windows.net/.default"])
def test_msal_client_credentials_for_both_audiences(
    shared_sandbox: SandboxInfo, scope: str
) -> None:
    result = _msal_app(shared_sandbox).acquire_token_for_client([scope])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    claims = _claims(result["access_token"])
    assert claims["aud"] == scope.removesuffix("/.default")
    assert claims["appid"] == shared_sandbox.client_id
    assert "scp" not in claims
    with shared_sandbox.client(result["access_token"]) as client:
        assert client.get("/v1/customers").status_code == 200


def test_v1_client_credentials_numbers_are_strings(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client() as client:
        response = client.post(
            f"/{shared_sandbox.partner_tenant_id}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": shared_sandbox.client_id,
                "client_secret": shared_sandbox.client_secret,
                "resource": "https://graph.windows.net",
            },
        )
    body = response.json()
    assert response.status_code == 200
    for key in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[key], str) and body[key].isdigit()
    assert body["resource"] == "https://graph.windows.net"
    assert body["token_type"] == "Bearer"


def test_v2_client_credentials_numbers_are_integers(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client() as client:
        body = client.post(
            f"/{shared_sandbox.partner_tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": shared_sandbox.client_id,
                "client_secret": shared_sandbox.client_secret,
                "scope": f"{PC}/.default",
            },
        ).json()
    assert isinstance(body["expires_in"], int) and isinstance(body["ext_expires_in"], int)
    assert "refresh_token" not in body


def test_bad_secret_is_401_invalid_client_7000215(shared_sandbox: SandboxInfo) -> None:
    result = _msal_app(shared_sandbox, secret="wrong").acquire_token_for_client([f"{PC}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215:")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(result)


def test_unknown_client_and_password_grant_errors(shared_sandbox: SandboxInfo) -> None:
    url = f"/{shared_sandbox.partner_tenant_id}/oauth2/v2.0/token"
    with shared_sandbox.client() as client:
        unknown = client.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": "nope",
                "client_secret": "x",
                "scope": f"{PC}/.default",
            },
        )
        password = client.post(
            url,
            data={
                "grant_type": "password",
                "client_id": shared_sandbox.client_id,
                "username": "a",
                "password": "b",
                "scope": f"{PC}/.default",
            },
        )
        no_default = client.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": shared_sandbox.client_id,
                "client_secret": shared_sandbox.client_secret,
                "scope": f"{PC}/user_impersonation",
            },
        )
    assert (
        unknown.status_code == 400
        and unknown.json()["error"] == "unauthorized_client"
        and unknown.json()["error_codes"] == [700016]
    )
    assert password.status_code == 400 and password.json()["error_codes"] == [50076]
    assert no_default.status_code == 400 and no_default.json()["error"] == "invalid_scope"


def _consent(info: SandboxInfo, auth_uri: str, *, mfa: bool = True) -> str:
    """Drive the sign-in pages like a browser (password, MFA, consent); return the redirect."""
    answer = sign_in_and_consent(info, auth_uri, mfa=mfa)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def test_msal_auth_code_flow_with_consent_page_then_refresh(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri("http://localhost:8400/callback")
    app = _msal_app(sandbox)
    scopes = [f"{PC}/user_impersonation"]
    flow = app.initiate_auth_code_flow(scopes, redirect_uri="http://localhost:8400/callback")
    location = _consent(sandbox, flow["auth_uri"])
    reply = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    assert reply["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, reply)
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["aud"] == PC and "mfa" in claims["amr"] and claims["scp"] == "user_impersonation"
    assert claims["upn"] == sandbox.agent_upn
    assert result["id_token_claims"]["aud"] == sandbox.client_id
    # MSAL sends sha256(nonce) and compares the id_token's nonce with that.
    assert result["id_token_claims"]["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    accounts = app.get_accounts()
    assert (
        accounts
        and accounts[0]["home_account_id"] == f"{claims['oid']}.{sandbox.partner_tenant_id}"
    )
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], scopes)
    assert "access_token" in refreshed, refreshed
    assert refreshed["refresh_token"] != result["refresh_token"]  # rotating refresh tokens
    with sandbox.client(refreshed["access_token"]) as client:
        assert (
            client.get(f"/v1/customers/{sandbox.demo_customers[0]['tenant_id']}/users").status_code
            == 200
        )


def test_auth_code_is_single_use_and_pkce_checked(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri("http://localhost:8400/cb")
    app = _msal_app(sandbox)
    flow = app.initiate_auth_code_flow(
        [f"{PC}/user_impersonation"], redirect_uri="http://localhost:8400/cb"
    )
    reply = {
        k: v[0] for k, v in parse_qs(urlparse(_consent(sandbox, flow["auth_uri"])).query).items()
    }
    url = f"/{sandbox.partner_tenant_id}/oauth2/v2.0/token"
    form = {
        "grant_type": "authorization_code",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "code": reply["code"],
        "redirect_uri": "http://localhost:8400/cb",
        "scope": f"{PC}/user_impersonation",
    }
    with sandbox.client() as client:
        wrong_verifier = client.post(url, data={**form, "code_verifier": "x" * 43})
        good = client.post(url, data={**form, "code_verifier": flow["code_verifier"]})
        again = client.post(url, data={**form, "code_verifier": flow["code_verifier"]})
    assert wrong_verifier.status_code == 400 and wrong_verifier.json()["error"] == "invalid_grant"
    assert good.status_code == 200
    assert again.status_code == 400 and again.json()["error_codes"] == [70008]


def test_v1_auth_code_redeem_and_refresh(sandbox: SandboxInfo) -> None:
    sandbox.admin.add_redirect_uri("https://localhost/cb")
    auth = (
        f"{sandbox.authority_url}/oauth2/authorize?client_id={sandbox.client_id}&response_type=code"
        f"&redirect_uri=https://localhost/cb&resource={PC}&state=s1"
    )
    code = parse_qs(urlparse(_consent(sandbox, auth)).query)["code"][0]
    with sandbox.client() as client:
        body = client.post(
            f"/{sandbox.partner_tenant_id}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "code": code,
                "redirect_uri": "https://localhost/cb",
                "resource": PC,
            },
        ).json()
        assert body["scope"] == "user_impersonation" and body["resource"] == PC
        assert isinstance(body["expires_in"], str) and body["refresh_token"] and body["id_token"]
        refreshed = client.post(
            f"/{sandbox.partner_tenant_id}/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "refresh_token": body["refresh_token"],
                "resource": PC,
            },
        ).json()
    assert _claims(refreshed["access_token"])["upn"] == sandbox.agent_upn


def test_refresh_token_expires_after_90_days_of_inactivity(sandbox: SandboxInfo) -> None:
    refresh = sandbox.admin.mint_refresh_token()
    sandbox.admin.advance_clock(91 * 24 * 3600)
    result = _msal_app(sandbox).acquire_token_by_refresh_token(
        refresh, [f"{PC}/user_impersonation"]
    )
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [700082]


def test_client_info_builds_the_msal_account(sandbox: SandboxInfo) -> None:
    refresh = sandbox.admin.mint_refresh_token()
    with sandbox.client() as client:
        body = client.post(
            f"/{sandbox.partner_tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "refresh_token": refresh,
                "scope": (f"{PC}/.default offline_access"),
                "client_info": "1",
            },
        ).json()
    raw = body["client_info"] + "=" * (-len(body["client_info"]) % 4)
    info = json.loads(base64.urlsafe_b64decode(raw))
    assert info["utid"] == sandbox.partner_tenant_id and info["uid"]


# -- token validation at the API ------------------------------------------------------------------


def test_api_rejects_missing_expired_and_foreign_tokens(sandbox: SandboxInfo) -> None:
    expired = sandbox.admin.access_token(lifetime=60)
    sandbox.admin.advance_clock(120)
    forged = jwt.encode(
        {"aud": PC, "tid": sandbox.partner_tenant_id, "exp": 4102444800},
        "secret",
        algorithm="HS256",
    )
    with sandbox.client() as client:
        missing = client.get("/v1/customers")
        old = client.get("/v1/customers", headers={"Authorization": f"Bearer {expired}"})
        fake = client.get("/v1/customers", headers={"Authorization": f"Bearer {forged}"})
    for response in (missing, old, fake):
        assert response.status_code == 401
        assert response.json()["source"] == "PartnerFD"
        assert "WWW-Authenticate" in response.headers


def test_app_user_token_without_mfa_is_401_mfa_required(sandbox: SandboxInfo) -> None:
    with sandbox.client(sandbox.admin.access_token(mfa=False)) as client:
        response = client.get("/v1/customers")
    assert response.status_code == 401
    assert response.json()["description"] == "MFA required"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_app_only_token_is_refused_where_app_user_is_required(shared_sandbox: SandboxInfo) -> None:
    customer = shared_sandbox.demo_customers[0]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        users = client.get(f"/v1/customers/{customer}/users")
        skus = client.get(f"/v1/customers/{customer}/subscribedskus")
        link = client.get("/v1/customers/relationshiprequests")
        user_id = "00000000-0000-0000-0000-000000000000"
        licences = client.post(
            f"/v1/customers/{customer}/users/{user_id}/licenseupdates",
            json={"licensesToAssign": []},
        )
    for response in (users, skus, link):
        assert response.status_code == 403 and response.json()["code"] == 900329
    assert licences.status_code == 400 and licences.json()["code"] == 900316


def test_msal_with_verify_parameter(
    shared_sandbox: SandboxInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify; without them the
    # plain ``verify=ca_cert`` form works.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    app = msal.ConfidentialClientApplication(
        shared_sandbox.client_id,
        client_credential=shared_sandbox.client_secret,
        authority=shared_sandbox.authority_url,
        instance_discovery=False,
        verify=str(shared_sandbox.ca_cert),
    )
    result = app.acquire_token_for_client([f"{PC}/.default"])
    assert "access_token" in result, result


def test_msal_with_oidc_authority_uses_v1_metadata(shared_sandbox: SandboxInfo) -> None:
    app = msal.ConfidentialClientApplication(
        shared_sandbox.client_id,
        client_credential=shared_sandbox.client_secret,
        oidc_authority=shared_sandbox.authority_url,
        http_client=_session(shared_sandbox),
    )
    result = app.acquire_token_for_client([f"{PC}/.default"])
    assert "access_token" in result, result
    assert result["expires_in"] == "3599"  # v1 endpoint: numbers as strings, MSAL copes
    assert _claims(result["access_token"])["aud"] == PC


def test_sam_consent_via_common_with_code_id_token_in_fragment(sandbox: SandboxInfo) -> None:
    # The Secure Application Model consent URL of the docs (reference §2.3).
    sandbox.admin.add_redirect_uri("https://localhost/sam")
    auth = (
        f"{sandbox.base_url}/common/oauth2/authorize?client_id={sandbox.client_id}"
        f"&response_type=code%20id_token&redirect_uri=https://localhost/sam&resource={PC}"
        "&nonce=n-0S6_WzA2Mj&state=12345&response_mode=fragment"
    )
    location = _consent(sandbox, auth)
    fragment = parse_qs(urlparse(location).fragment)
    assert location.startswith("https://localhost/sam#")
    assert fragment["state"] == ["12345"] and fragment["code"]
    claims = _claims(fragment["id_token"][0])
    assert claims["aud"] == sandbox.client_id and claims["nonce"] == "n-0S6_WzA2Mj"


def test_msal_with_validate_authority_false(shared_sandbox: SandboxInfo) -> None:
    app = msal.ConfidentialClientApplication(
        shared_sandbox.client_id,
        client_credential=shared_sandbox.client_secret,
        authority=shared_sandbox.authority_url,
        validate_authority=False,
        http_client=_session(shared_sandbox),
    )
    assert "access_token" in app.acquire_token_for_client([f"{PC}/.default"])
