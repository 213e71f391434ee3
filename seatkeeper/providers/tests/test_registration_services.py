"""Registering a provider account, consent through "Login with Microsoft" against the real
sandbox (msal's auth-code flow), and what each refusal leaves behind: nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.providers import services
from seatkeeper.providers.consent_session import callback_url
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.models import ConsentStatus, ProviderAccount
from seatkeeper.providers.tests.registration import authority_reply, sandbox_account

GUID = "3f6c1a52-8d1e-4b7a-9c3e-2a1b0c9d8e7f"


@pytest.fixture(autouse=True)
def _fresh_token_sources():
    yield
    forget_token_sources()


def _values(**overrides):
    values = {
        "name": "Contoso CSP",
        "partner_tenant_id": GUID,
        "application_id": "9b2f4c1e-0a3d-4e5f-8a7b-6c5d4e3f2a1b",
        "application_secret": "s3cret~value",
        "authority_url": "https://login.microsoftonline.com",
        "api_base_url": "https://api.partnercenter.microsoft.com",
    }
    values.update(overrides)
    return values


def _records(operation: str) -> list[ActivityRecord]:
    return list(ActivityRecord.objects.filter(operation=operation))


def test_a_cloud_admin_registers_an_account_its_secret_encrypted_and_audited(cast):
    account = services.account_register(
        actor=cast.cloud_admin, partner=cast.partner, **_values(partner_tenant_id=GUID.upper())
    )
    account.refresh_from_db()
    assert account.partner_tenant_id == GUID  # GUIDs are kept in one form
    assert account.application_secret == "s3cret~value"
    assert "s3cret" not in account.application_secret_encrypted
    assert account.consent_status == ConsentStatus.NOT_GRANTED
    (record,) = _records("provider_account.register")
    assert record.actor == cast.cloud_admin and record.organisation == cast.partner
    assert record.details["partner_tenant_id"] == GUID
    assert "s3cret" not in str(record.details)


@pytest.mark.parametrize("who", ["operator", "reseller_admin", "read_only", "outsider"])
def test_only_the_partners_cloud_admins_register_and_a_refusal_writes_nothing(cast, who):
    with pytest.raises(PermissionRefused):
        services.account_register(actor=getattr(cast, who), partner=cast.partner, **_values())
    assert not ProviderAccount.objects.exists()
    assert not ActivityRecord.objects.filter(object_type="provideraccount").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "  "),
        ("partner_tenant_id", "contoso.onmicrosoft.com"),
        ("application_id", "not-a-guid"),
        ("application_secret", ""),
        ("authority_url", "http://login.microsoftonline.com"),
        ("api_base_url", "api.partnercenter.microsoft.com"),
        ("ca_bundle_path", "/no/such/ca.pem"),
        ("graph_base_url", "http://graph.microsoft.com"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(cast, field, value):
    with pytest.raises(ServiceError) as refusal:
        services.account_register(
            actor=cast.cloud_admin, partner=cast.partner, **_values(**{field: value})
        )
    assert refusal.value.field == field
    assert not ProviderAccount.objects.exists()
    assert not _records("provider_account.register")


def test_a_second_account_for_the_same_tenant_is_refused(cast):
    services.account_register(actor=cast.cloud_admin, partner=cast.partner, **_values())
    with pytest.raises(ServiceError) as refusal:
        services.account_register(
            actor=cast.cloud_admin, partner=cast.partner, **_values(name="Again")
        )
    assert refusal.value.field == "partner_tenant_id"
    assert ProviderAccount.objects.count() == 1


def test_rotating_the_secret_keeps_the_consent_but_a_new_app_drops_it(cast):
    account = services.account_register(actor=cast.cloud_admin, partner=cast.partner, **_values())
    account = services.account_consent_store(
        actor=cast.cloud_admin, account=account, refresh_token="rt-1", consented_by="agent@x"
    )
    unchanged = {k: v for k, v in _values().items() if k != "partner_tenant_id"}
    rotated = services.account_update(
        actor=cast.cloud_admin, account=account, **{**unchanged, "application_secret": "new~1"}
    )
    assert rotated.application_secret == "new~1" and rotated.refresh_token == "rt-1"
    update = ActivityRecord.objects.get(operation="provider_account.update")
    assert update.details["secret_changed"] is True and "new~1" not in str(update.details)
    moved = services.account_update(
        actor=cast.cloud_admin,
        account=rotated,
        **{**unchanged, "application_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"},
    )
    moved.refresh_from_db()
    assert moved.refresh_token is None and moved.consented_by == ""
    assert moved.consent_status == ConsentStatus.NOT_GRANTED
    # Saving the same values again is not a change and leaves no record.
    services.account_update(
        actor=cast.cloud_admin,
        account=moved,
        **{**unchanged, "application_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"},
    )
    assert len(_records("provider_account.update")) == 2


def test_login_with_microsoft_stores_the_consented_refresh_token(cast, clean_sandbox):
    # Given an account registered with the sandbox's app
    account = sandbox_account(cast, clean_sandbox)
    # When the partner agent signs in (password, MFA) and consents, and the code comes back
    flow = services.account_consent_begin(
        actor=cast.cloud_admin, account=account, redirect_uri=callback_url()
    )
    assert flow["auth_uri"].startswith(f"{clean_sandbox.authority_url}/oauth2/v2.0/authorize")
    reply = authority_reply(clean_sandbox, flow["auth_uri"])
    account = services.account_consent_complete(
        actor=cast.cloud_admin, account=account, flow=flow, reply=reply
    )
    # Then the refresh token is kept, encrypted, and the consent is on record
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.GRANTED
    assert account.consented_by == clean_sandbox.agent_upn
    assert account.refresh_token and account.refresh_token not in account.refresh_token_encrypted
    (record,) = _records("provider_account.consent")
    assert record.actor == cast.cloud_admin
    assert record.details == {"consented_by": clean_sandbox.agent_upn}
    # And it works: a connection test redeems it (App+User) and records the use
    assert account.refresh_token_used_at is None
    result = services.account_test_connection(actor=cast.cloud_admin, account=account)
    assert result.ok and result.user_consent, result.reason
    account.refresh_from_db()
    assert account.refresh_token_used_at is not None
    assert account.refresh_token_expires_at == account.refresh_token_used_at + dt.timedelta(days=90)


@pytest.mark.parametrize(
    ("sign_in", "code"),
    [({"decision": "cancel"}, "access_denied"), ({"mfa": False}, "no_mfa")],
    ids=["declined", "without-mfa"],
)
def test_a_declined_or_weak_sign_in_is_explained_and_stores_nothing(
    cast, clean_sandbox, sign_in, code
):
    account = sandbox_account(cast, clean_sandbox)
    flow = services.account_consent_begin(
        actor=cast.cloud_admin, account=account, redirect_uri=callback_url()
    )
    reply = authority_reply(clean_sandbox, flow["auth_uri"], **sign_in)
    with pytest.raises(ServiceError) as refusal:
        services.account_consent_complete(
            actor=cast.cloud_admin, account=account, flow=flow, reply=reply
        )
    assert refusal.value.code == code
    account.refresh_from_db()
    assert account.refresh_token is None
    assert not _records("provider_account.consent")


def test_an_answer_for_another_sign_in_is_refused(cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    first = services.account_consent_begin(
        actor=cast.cloud_admin, account=account, redirect_uri=callback_url()
    )
    second = services.account_consent_begin(
        actor=cast.cloud_admin, account=account, redirect_uri=callback_url()
    )
    reply = authority_reply(clean_sandbox, first["auth_uri"])
    with pytest.raises(ServiceError) as refusal:
        services.account_consent_complete(
            actor=cast.cloud_admin, account=account, flow=second, reply=reply
        )
    assert refusal.value.code == "state_mismatch"
    account.refresh_from_db()
    assert account.refresh_token is None


def test_only_cloud_admins_start_or_finish_a_consent(cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox)
    with pytest.raises(PermissionRefused):
        services.account_consent_begin(
            actor=cast.operator, account=account, redirect_uri=callback_url()
        )
    with pytest.raises(PermissionRefused):
        services.account_consent_store(
            actor=cast.outsider, account=account, refresh_token="x", consented_by="y"
        )
    account.refresh_from_db()
    assert account.refresh_token is None


def test_a_wrong_secret_fails_the_connection_test_and_says_why(cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox, application_secret="wrong")
    result = services.account_test_connection(actor=cast.cloud_admin, account=account)
    assert not result.ok
    assert "7000215" in result.reason
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.NOT_GRANTED
    assert not _records("provider_account.consent_lost")


def test_an_unreachable_authority_is_a_clear_refusal(cast, clean_sandbox):
    account = sandbox_account(cast, clean_sandbox, authority_url="https://127.0.0.1:9")
    with pytest.raises(ServiceError) as refusal:
        services.account_consent_begin(
            actor=cast.cloud_admin, account=account, redirect_uri=callback_url()
        )
    assert "could not be reached" in refusal.value.message


def test_the_graph_host_is_microsofts_unless_given_and_kept_when_not_mentioned(cast):
    account = services.account_register(actor=cast.cloud_admin, partner=cast.partner, **_values())
    assert account.graph_base_url == "https://graph.microsoft.com"

    moved = services.account_update(
        actor=cast.cloud_admin,
        account=account,
        name=account.name,
        application_id=account.application_id,
        authority_url=account.authority_url,
        api_base_url=account.api_base_url,
        graph_base_url="https://graph.example.test",
    )
    kept = services.account_update(
        actor=cast.cloud_admin,
        account=moved,
        name="Renamed",
        application_id=account.application_id,
        authority_url=account.authority_url,
        api_base_url=account.api_base_url,
    )

    assert kept.graph_base_url == "https://graph.example.test" and kept.name == "Renamed"
