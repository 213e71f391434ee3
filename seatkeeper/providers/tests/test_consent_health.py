"""The refresh token's health: each redemption recorded, a refusal by the authority turns the
account to "consent needed" and e-mails the partner's cloud admins once, and tokens close to
their 90 days without use are announced once per threshold, through a real SMTP server."""

from __future__ import annotations

import datetime as dt

import pytest

from seatkeeper.accounts import services as accounts_services
from seatkeeper.accounts.models import Role
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core import clock
from seatkeeper.core.scheduling import run_due
from seatkeeper.providers import notifications, services
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.models import ConsentStatus, ProviderAccount
from seatkeeper.providers.tests.registration import sandbox_account


@pytest.fixture(autouse=True)
def _fresh_token_sources():
    yield
    forget_token_sources()


@pytest.fixture
def second_cloud_admin(cast):
    return accounts_services.user_create(
        actor=None,
        organisation=cast.partner,
        username="cloudadmin2",
        email="cloudadmin2@test.example",
        password="Test-Password-2026!",
        role=Role.CLOUD_ADMIN,
        first_name="Camille",
        last_name="Test",
        language="fr",
    )


def _consented(cast, sandbox, refresh_token: str) -> ProviderAccount:
    account = sandbox_account(cast, sandbox)
    return services.account_consent_store(
        actor=cast.cloud_admin,
        account=account,
        refresh_token=refresh_token,
        consented_by=sandbox.agent_upn,
    )


def test_a_refused_refresh_token_needs_consent_and_tells_the_cloud_admins_once(
    cast, clean_sandbox, smtp_server, second_cloud_admin, django_capture_on_commit_callbacks
):
    # Given an account whose stored refresh token the authority does not know
    account = _consented(cast, clean_sandbox, "0.Anot-a-token-the-sandbox-issued")
    # When a connection test redeems it
    with django_capture_on_commit_callbacks(execute=True):
        result = services.account_test_connection(actor=cast.cloud_admin, account=account)
    # Then the test fails, the account needs consent, and it is on record
    assert not result.ok and "invalid_grant" in result.reason
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.NEEDED
    assert account.consent_error.startswith("invalid_grant: AADSTS9002313")
    (record,) = ActivityRecord.objects.filter(operation="provider_account.consent_lost")
    assert record.actor is None and record.details["error"] == "invalid_grant"
    # And the partner's cloud admins (only them), each in their language, got one e-mail
    recipients = sorted(message["To"] for message in smtp_server.messages)
    assert recipients == ["cloudadmin2@test.example", "cloudadmin@test.example"]
    by_recipient = {message["To"]: message for message in smtp_server.messages}
    assert by_recipient["cloudadmin@test.example"]["Subject"] == (
        "Consent needed for Partner Center sandbox"
    )
    assert "Consentement" in by_recipient["cloudadmin2@test.example"]["Subject"]
    assert f"/providers/{account.pk}/" in by_recipient["cloudadmin@test.example"].get_payload()
    # When it is refused again, nothing more is recorded or sent
    with django_capture_on_commit_callbacks(execute=True):
        services.account_test_connection(actor=cast.cloud_admin, account=account)
    assert ActivityRecord.objects.filter(operation="provider_account.consent_lost").count() == 1
    assert len(smtp_server.messages) == 2


def test_a_refusal_of_a_token_replaced_since_changes_nothing(cast, clean_sandbox, smtp_server):
    account = _consented(cast, clean_sandbox, clean_sandbox.admin.mint_refresh_token())
    assert not services.account_consent_lost(
        account_id=account.pk,
        refresh_token="an-older-token",
        error="invalid_grant",
        description="AADSTS50173: revoked",
    )
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.GRANTED
    assert not ActivityRecord.objects.filter(operation="provider_account.consent_lost").exists()
    assert smtp_server.messages == []


def test_a_new_consent_heals_the_account(cast, clean_sandbox, smtp_server):
    account = _consented(cast, clean_sandbox, "0.Aunknown")
    services.account_test_connection(actor=cast.cloud_admin, account=account)
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.NEEDED
    account = services.account_consent_store(
        actor=cast.cloud_admin,
        account=account,
        refresh_token=clean_sandbox.admin.mint_refresh_token(),
        consented_by=clean_sandbox.agent_upn,
    )
    assert account.consent_status == ConsentStatus.GRANTED and account.consent_error == ""
    assert services.account_test_connection(actor=cast.cloud_admin, account=account).ok


def test_expiry_is_announced_once_per_threshold_and_forgotten_once_used(
    cast, clean_sandbox, smtp_server, _clock_frozen_for_each_test
):
    frozen = _clock_frozen_for_each_test
    account = _consented(cast, clean_sandbox, clean_sandbox.admin.mint_refresh_token())
    # Given the token was last used 77 days ago: it lapses in 13 days
    ProviderAccount.objects.filter(pk=account.pk).update(
        refresh_token_used_at=clock.now() - dt.timedelta(days=77),
        refresh_token_updated_at=clock.now() - dt.timedelta(days=77),
        consent_granted_at=clock.now() - dt.timedelta(days=77),
    )
    # When the scheduler looks, twice
    assert notifications.expiring_consents(clock.now()) == 1
    assert notifications.expiring_consents(clock.now()) == 0
    (warning,) = smtp_server.messages
    assert warning["Subject"] == "The consent for Partner Center sandbox expires soon"
    assert "Test connection" in warning.get_payload()
    # Ten days on (3 days left) the next threshold is announced, then the lapse
    frozen.advance(days=10)
    assert notifications.expiring_consents(clock.now()) == 1
    frozen.advance(days=3)
    assert notifications.expiring_consents(clock.now()) == 1
    assert notifications.expiring_consents(clock.now()) == 0
    assert (
        smtp_server.messages[-1]["Subject"] == "The consent for Partner Center sandbox has lapsed"
    )
    account.refresh_from_db()
    assert account.consent_status == ConsentStatus.NEEDED
    # Using the token again starts a new 90 days, with no warning due
    services.account_token_redeemed(account_id=account.pk)
    account.refresh_from_db()
    assert account.expiry_warning_days is None
    assert account.consent_status == ConsentStatus.GRANTED
    assert notifications.expiring_consents(clock.now()) == 0
    assert len(smtp_server.messages) == 3


def test_the_scheduler_runs_the_consent_check(cast, clean_sandbox, smtp_server):
    account = _consented(cast, clean_sandbox, clean_sandbox.admin.mint_refresh_token())
    ProviderAccount.objects.filter(pk=account.pk).update(
        consent_granted_at=clock.now() - dt.timedelta(days=80),
        refresh_token_updated_at=clock.now() - dt.timedelta(days=80),
    )
    assert "providers.consent_health" in run_due(clock.now())
    assert [message["To"] for message in smtp_server.messages] == ["cloudadmin@test.example"]


def test_no_warning_for_healthy_refused_or_inactive_accounts(cast, clean_sandbox, smtp_server):
    healthy = _consented(cast, clean_sandbox, clean_sandbox.admin.mint_refresh_token())
    old = clock.now() - dt.timedelta(days=85)
    ProviderAccount.objects.filter(pk=healthy.pk).update(
        consent_lost_at=clock.now(), consent_granted_at=old, refresh_token_updated_at=old
    )
    assert notifications.expiring_consents(clock.now()) == 0
    ProviderAccount.objects.filter(pk=healthy.pk).update(consent_lost_at=None, is_active=False)
    assert notifications.expiring_consents(clock.now()) == 0
    assert smtp_server.messages == []
