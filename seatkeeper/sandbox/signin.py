"""The authorize endpoint: Entra's sign-in pages for a partner agent, then an authorization code.

What a partner's admin goes through when an application asks for consent (the Secure Application
Model's one interactive step), page by page:

1. **Sign in**: the agent's user principal name and password.
2. **MFA**: a six-digit one-time code from an authenticator app (TOTP, RFC 6238, 30-second
   steps, one step of tolerance either side). The agent's secret is derived from the sandbox's
   admin key (`totp_secret`); sandbox.json shows it as `agent_totp_secret` and the admin API
   answers the current code (`GET /_sandbox/mfa-code`). "Skip for now" signs in without MFA, so
   tokens lack `mfa` in `amr` and Partner Center answers 401 "MFA required".
3. **Consent**: the permissions the application asks for; Accept issues the code, Cancel sends
   the browser back with `error=access_denied`. Skipped when the agent already consented to that
   application, unless the request says `prompt=consent`.

The request is checked before any page is shown, as Entra does: unknown tenant or application,
or a redirect URI that is not registered for the application (exact match), gives an error page
and never a redirect. Between pages the state travels in a signed, short-lived `flowToken` field,
so nothing the browser sends back can change the redirect URI, the scope or who signed in.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import html
import secrets
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .identity import (
    b64url,
    issue_id_token,
    known_tenant,
    read_form,
    redirect_uris_of,
    resource_from_scopes,
)
from .state import PARTNER_CENTER_AUDIENCE, Sandbox
from .web import sandbox_of

FLOW_LIFETIME = 900  # seconds a sign-in may take, page to page
TOTP_STEP = 30
TOTP_DIGITS = 6
AUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "resource",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
)


class Step(enum.StrEnum):
    PASSWORD = "password"
    MFA = "mfa"
    CONSENT = "consent"


# -- one-time codes -------------------------------------------------------------------------------


def totp_secret(sandbox: Sandbox, oid: str) -> str:
    """The agent's authenticator secret (base32, as authenticator apps take it)."""
    key = sandbox.identity.admin_key.encode()
    digest = hmac.new(key, f"totp:{oid}".encode(), hashlib.sha256).digest()[:20]
    return base64.b32encode(digest).decode().rstrip("=")


def totp_code(secret: str, at: float) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(at // TOTP_STEP))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**TOTP_DIGITS).zfill(TOTP_DIGITS)


def totp_matches(secret: str, code: str, at: float) -> bool:
    code = code.strip().replace(" ", "")
    return any(
        secrets.compare_digest(totp_code(secret, at + drift * TOTP_STEP), code)
        for drift in (-1, 0, 1)
    )


# -- the flow between pages -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Flow:
    """Where a sign-in stands: the original request, the step, and who has signed in so far."""

    params: dict[str, str]
    v1: bool
    step: Step
    oid: str | None = None
    mfa: bool = False
    expires: float = field(default=0.0, compare=False)

    def next(self, step: Step, **changes: Any) -> Flow:
        values = {"params": self.params, "v1": self.v1, "oid": self.oid, "mfa": self.mfa}
        return Flow(**{**values, **changes, "step": step, "expires": self.expires})

    def seal(self, sandbox: Sandbox) -> str:
        claims = {
            "params": self.params,
            "v1": self.v1,
            "step": self.step.value,
            "oid": self.oid,
            "mfa": self.mfa,
            "exp": int(self.expires),
        }
        return jwt.encode(claims, _flow_key(sandbox), algorithm="HS256")

    @classmethod
    def open(cls, sandbox: Sandbox, token: str) -> Flow | None:
        try:
            # Expiry is checked against the sandbox's clock, not the machine's.
            claims = jwt.decode(
                token, _flow_key(sandbox), algorithms=["HS256"], options={"verify_exp": False}
            )
            flow = cls(
                params={str(k): str(v) for k, v in dict(claims["params"]).items()},
                v1=bool(claims["v1"]),
                step=Step(claims["step"]),
                oid=claims.get("oid"),
                mfa=bool(claims.get("mfa")),
                expires=float(claims["exp"]),
            )
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return None
        return flow if flow.expires >= sandbox.clock.timestamp() else None


def _flow_key(sandbox: Sandbox) -> bytes:
    return hashlib.sha256(f"sandbox-signin:{sandbox.identity.admin_key}".encode()).digest()


# -- the endpoint ---------------------------------------------------------------------------------


async def authorize(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "GET":
        params = dict(request.query_params)
    else:
        params = await read_form(request)
        if "flowToken" in params:
            flow = Flow.open(sandbox, params["flowToken"])
            if flow is None:
                return _error_page(
                    "AADSTS50058",
                    "Your sign-in session has expired or is not valid. Go back to the "
                    "application and sign in again.",
                )
            return _STEPS[flow.step](sandbox, flow, params)
    refusal = _check_request(sandbox, request.path_params["tenant"], params)
    if refusal is not None:
        return refusal
    flow = Flow(
        params={name: params[name] for name in AUTH_PARAMS if params.get(name)},
        v1=not request.url.path.endswith("/v2.0/authorize"),
        step=Step.PASSWORD,
        expires=sandbox.clock.timestamp() + FLOW_LIFETIME,
    )
    return _password_page(sandbox, flow, login=params.get("login_hint", ""))


def _check_request(sandbox: Sandbox, tenant: str, params: dict[str, str]) -> Response | None:
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if known_tenant(sandbox, tenant) is None:
        return _error_page("AADSTS90002", f"Tenant '{tenant}' not found.")
    if sandbox.store.one("SELECT 1 FROM apps WHERE client_id = ?", (client_id,)) is None:
        return _error_page(
            "AADSTS700016",
            f"Application with identifier '{client_id}' was not found in the directory.",
        )
    if redirect_uri not in redirect_uris_of(sandbox, client_id):
        return _error_page(
            "AADSTS50011",
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{client_id}'. Make sure the "
            "redirect URI sent in the request matches one added to your application.",
        )
    return None


def _password_step(sandbox: Sandbox, flow: Flow, form: dict[str, str]) -> Response:
    login = form.get("login", "").strip()
    agent = sandbox.store.one(
        "SELECT oid, password FROM agents WHERE upn = ? COLLATE NOCASE", (login,)
    )
    if agent is None or not secrets.compare_digest(agent[1], form.get("password", "")):
        return _password_page(
            sandbox,
            flow,
            login=login,
            error="AADSTS50126: Error validating credentials due to invalid username or password.",
        )
    return _mfa_page(sandbox, flow.next(Step.MFA, oid=agent[0]))


def _mfa_step(sandbox: Sandbox, flow: Flow, form: dict[str, str]) -> Response:
    assert flow.oid is not None
    if form.get("decision") == "skip":
        return _after_sign_in(sandbox, flow.next(Step.CONSENT, mfa=False))
    secret = totp_secret(sandbox, flow.oid)
    if not totp_matches(secret, form.get("otc", ""), sandbox.clock.timestamp()):
        return _mfa_page(
            sandbox,
            flow,
            error="AADSTS500121: You didn't enter the expected verification code. Try again.",
        )
    return _after_sign_in(sandbox, flow.next(Step.CONSENT, mfa=True))


def _after_sign_in(sandbox: Sandbox, flow: Flow) -> Response:
    consented = sandbox.store.one(
        "SELECT 1 FROM consents WHERE client_id = ? AND oid = ?",
        (flow.params["client_id"], flow.oid),
    )
    if consented and flow.params.get("prompt") != "consent":
        return _issue_code(sandbox, flow)
    return _consent_page(sandbox, flow)


def _consent_step(sandbox: Sandbox, flow: Flow, form: dict[str, str]) -> Response:
    if form.get("decision") != "accept":
        return _redirect(
            flow.params,
            {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "state": flow.params.get("state", ""),
            },
        )
    return _issue_code(sandbox, flow)


_STEPS = {Step.PASSWORD: _password_step, Step.MFA: _mfa_step, Step.CONSENT: _consent_step}


def _requested(flow: Flow) -> tuple[str, str]:
    """(resource, scope) the request asks for."""
    if flow.v1:
        resource = flow.params.get("resource") or PARTNER_CENTER_AUDIENCE
        return resource, f"{resource}/user_impersonation"
    scope = flow.params.get("scope", "openid")
    return resource_from_scopes(scope.split())[0] or PARTNER_CENTER_AUDIENCE, scope


def _issue_code(sandbox: Sandbox, flow: Flow) -> Response:
    params = flow.params
    agent = sandbox.store.one("SELECT upn, name FROM agents WHERE oid = ?", (flow.oid,))
    if agent is None:  # the agent was removed while signing in
        return _error_page("AADSTS50034", "The user account does not exist in the directory.")
    resource, scope = _requested(flow)
    code = "1.A" + b64url(secrets.token_bytes(40))
    challenge = (
        params.get("code_challenge")
        if params.get("code_challenge_method", "S256") == "S256"
        else None
    )
    with sandbox.store.tx():
        sandbox.store.run(
            "INSERT INTO auth_codes (code, client_id, oid, redirect_uri, scope, resource, nonce, "
            "challenge, mfa, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                params["client_id"],
                flow.oid,
                params["redirect_uri"],
                scope,
                resource,
                params.get("nonce"),
                challenge,
                int(flow.mfa),
                sandbox.clock.timestamp(),
            ),
        )
        sandbox.store.run(
            "INSERT OR IGNORE INTO consents (client_id, oid) VALUES (?, ?)",
            (params["client_id"], flow.oid),
        )
    reply = {"code": code, "state": params.get("state", ""), "session_state": str(uuid.uuid4())}
    if "id_token" in params.get("response_type", "").split():
        reply["id_token"] = issue_id_token(
            sandbox,
            client_id=params["client_id"],
            oid=str(flow.oid),
            upn=agent[0],
            name=agent[1],
            nonce=params.get("nonce"),
            v1=flow.v1,
            mfa=flow.mfa,
        )
    return _redirect(params, reply)


def _redirect(params: dict[str, str], reply: dict[str, str]) -> Response:
    redirect_uri = params["redirect_uri"]
    reply = {k: v for k, v in reply.items() if v}
    mode = params.get("response_mode") or (
        "fragment" if "id_token" in params.get("response_type", "") else "query"
    )
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in reply.items()
        )
        return HTMLResponse(
            '<html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(redirect_uri)}">{fields}'
            "<noscript><button>Continue</button></noscript></form></body></html>"
        )
    separator = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(reply)}", 302)


# -- pages ----------------------------------------------------------------------------------------

_LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer"><title>{title} - Partner Center sandbox</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}}
main{{max-width:440px;margin:60px auto;background:#fff;padding:32px 40px;
box-shadow:0 2px 6px #0003}}
h1{{font-size:1.5rem;font-weight:600}} .who{{color:#555}}
input[type=text],input[type=password],input[type=email]{{width:100%;padding:6px;margin:4px 0 12px;
box-sizing:border-box}}
button{{padding:8px 20px;margin-right:8px}} .err{{color:#a00}} .hint{{color:#666;font-size:.85rem}}
</style></head>
<body><main><p class="who">Seatkeeper Partner Center sandbox</p><h1>{title}</h1>
{error}{body}</main></body></html>"""


def _page(title: str, body: str, *, error: str = "", status: int = 200) -> HTMLResponse:
    message = f'<p class="err" id="error" role="alert">{html.escape(error)}</p>' if error else ""
    return HTMLResponse(
        _LAYOUT.format(title=html.escape(title), error=message, body=body),
        status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def _form(sandbox: Sandbox, flow: Flow, fields: str) -> str:
    token = html.escape(flow.seal(sandbox))
    return (
        f'<form method="post"><input type="hidden" name="flowToken" value="{token}">{fields}</form>'
    )


def _app_name(sandbox: Sandbox, flow: Flow) -> str:
    row = sandbox.store.one(
        "SELECT name FROM apps WHERE client_id = ?", (flow.params["client_id"],)
    )
    return row[0] if row else flow.params["client_id"]


def _password_page(sandbox: Sandbox, flow: Flow, *, login: str, error: str = "") -> HTMLResponse:
    fields = (
        f"<p>to continue to <strong>{html.escape(_app_name(sandbox, flow))}</strong></p>"
        '<label for="login">Email, phone or Skype</label>'
        f'<input type="email" id="login" name="login" value="{html.escape(login)}" '
        'autocomplete="username" required autofocus>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password" '
        "required>"
        '<p><button type="submit" id="next">Sign in</button></p>'
        '<p class="hint">Sandbox: the partner agent and its password are in sandbox.json '
        "(<code>agent_upn</code>, <code>agent_password</code>).</p>"
    )
    return _page("Sign in", _form(sandbox, flow, fields), error=error)


def _mfa_page(sandbox: Sandbox, flow: Flow, *, error: str = "") -> HTMLResponse:
    upn = sandbox.store.one("SELECT upn FROM agents WHERE oid = ?", (flow.oid,))
    fields = (
        f"<p>{html.escape(upn[0] if upn else '')}</p>"
        "<p>Enter the code displayed in the authenticator app on your mobile device.</p>"
        '<label for="otc">Code</label>'
        '<input type="text" id="otc" name="otc" inputmode="numeric" pattern="[0-9 ]*" '
        'maxlength="8" autocomplete="one-time-code" autofocus>'
        '<p><button type="submit" id="verify" name="decision" value="verify">Verify</button>'
        '<button type="submit" id="skip-mfa" name="decision" value="skip" formnovalidate>'
        "Skip for now</button></p>"
        '<p class="hint">Sandbox: the code comes from <code>agent_totp_secret</code> in '
        "sandbox.json (any authenticator app), or from <code>GET /_sandbox/mfa-code</code> with "
        "the admin key. Skipping gives tokens without MFA, which Partner Center refuses.</p>"
    )
    return _page("Enter code", _form(sandbox, flow, fields), error=error)


def _consent_page(sandbox: Sandbox, flow: Flow) -> HTMLResponse:
    resource, _ = _requested(flow)
    fields = (
        f"<p><strong>{html.escape(_app_name(sandbox, flow))}</strong> "
        '<span class="hint">unverified</span></p>'
        "<p>This app would like to:</p><ul>"
        f"<li>Access {html.escape(resource)} as the signed-in partner agent "
        "(<code>user_impersonation</code>)</li>"
        "<li>Maintain access to data you have given it access to (<code>offline_access</code>)"
        "</li><li>Sign you in and read your profile</li></ul>"
        "<p>Accepting allows this app to use your data as specified in its terms of service.</p>"
        '<p><button type="submit" id="accept" name="decision" value="accept">Accept</button>'
        '<button type="submit" id="cancel" name="decision" value="cancel">Cancel</button></p>'
    )
    return _page("Permissions requested", _form(sandbox, flow, fields))


def _error_page(code: str, message: str) -> HTMLResponse:
    body = (
        "<p>Sorry, but we're having trouble signing you in.</p>"
        f'<p id="error-code"><strong>{html.escape(code)}</strong>: {html.escape(message)}</p>'
    )
    return _page("Sign in", body, status=400)
