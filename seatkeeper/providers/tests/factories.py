"""Rows the provider tests need: a partner organisation and its provider account."""

from __future__ import annotations

import itertools

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.providers.models import ProviderAccount, ProviderKind

_numbers = itertools.count(1)


def partner_organisation(*, name: str | None = None) -> Organisation:
    number = next(_numbers)
    organisation = Organisation.objects.create(
        kind=OrganisationKind.PARTNER,
        name=name or f"Partner {number}",
        legal_name=f"Partner {number} SAS",
        address_line1="1 rue de la Paix",
        city="Paris",
        postal_code="75002",
        country="FR",
        contact_name="Ada Admin",
        contact_email=f"admin{number}@partner.example",
    )
    Organisation.objects.filter(pk=organisation.pk).update(path=f"/{organisation.pk}/")
    organisation.refresh_from_db()
    return organisation


def provider_account(
    *,
    organisation: Organisation | None = None,
    api_base_url: str = "https://api.partnercenter.microsoft.com",
    authority_url: str = "https://login.microsoftonline.com",
    partner_tenant_id: str = "11111111-1111-4111-8111-111111111111",
    application_id: str = "22222222-2222-4222-8222-222222222222",
    application_secret: str = "app-secret",  # noqa: S107 - a test value
    refresh_token: str | None = None,
    ca_bundle_path: str = "",
    graph_base_url: str = "https://graph.microsoft.com",
) -> ProviderAccount:
    account = ProviderAccount(
        organisation=organisation or partner_organisation(),
        kind=ProviderKind.MICROSOFT,
        name="Partner Center",
        partner_tenant_id=partner_tenant_id,
        application_id=application_id,
        authority_url=authority_url,
        api_base_url=api_base_url,
        ca_bundle_path=ca_bundle_path,
        graph_base_url=graph_base_url,
    )
    account.set_application_secret(application_secret)
    account.set_refresh_token(refresh_token)
    account.save()
    return account
