from __future__ import annotations

import pytest
from django.db import connection

from seatkeeper.providers import registry
from seatkeeper.providers.interface import Provider
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.tests.factories import provider_account


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest() -> None:
    # given
    account = provider_account(application_secret="s3cret-value", refresh_token="rt-value")

    # when
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_secret_encrypted, refresh_token_encrypted "
            "FROM providers_provideraccount WHERE id = %s",
            [account.pk],
        )
        stored_secret, stored_token = cursor.fetchone()

    # then
    assert "s3cret-value" not in stored_secret
    assert "rt-value" not in stored_token
    reloaded = ProviderAccount.objects.get(pk=account.pk)
    assert reloaded.application_secret == "s3cret-value"
    assert reloaded.refresh_token == "rt-value"
    assert reloaded.refresh_token_updated_at is not None


@pytest.mark.django_db
def test_registry_builds_the_microsoft_connector_for_an_account() -> None:
    account = provider_account()

    provider = registry.get_provider(account)

    assert isinstance(provider, MicrosoftProvider)
    assert isinstance(provider, Provider)
    provider.close()


@pytest.mark.django_db
def test_registry_refuses_unknown_and_disabled_kinds(settings: object) -> None:
    account = provider_account()
    account.kind = "acme"
    with pytest.raises(registry.UnknownProvider):
        registry.get_provider(account)

    account.kind = "microsoft"
    settings.MICROSOFT_ENABLED = False  # type: ignore[attr-defined]
    with pytest.raises(registry.UnknownProvider):
        registry.get_provider(account)
