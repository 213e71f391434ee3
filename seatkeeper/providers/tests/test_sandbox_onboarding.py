"""The connector's onboarding calls over HTTPS against the sandbox: market rules, domain check,
relationship request link, MCA confirmation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.tests.helpers import new_customer, order_line

pytestmark = pytest.mark.django_db


def test_country_rules_are_read_into_the_interface(provider: MicrosoftProvider) -> None:
    rules = provider.country_rules(country="us")
    assert rules.country == "US" and rules.state_required and "WA" in rules.states
    assert rules.postal_code_regex
    with pytest.raises(errors.ValidationFailed):
        provider.country_rules(country="ZZ")


def test_domain_check_and_relationship_request(provider: MicrosoftProvider) -> None:
    created = new_customer(provider)
    assert provider.check_domain_available(domain=created.customer.domain) is False
    assert provider.check_domain_available(domain="nobody-yet-42.onmicrosoft.com") is True
    assert created.admin_user_name and len(created.admin_password) >= 8
    url = provider.relationship_request_url()
    assert "invType=ResellerRelationship" in url and "partnerId=" in url


def test_mca_acceptance_is_confirmed_with_who_and_when(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    created = new_customer(provider, agreement=False)
    accepted_at = dt.datetime(2026, 1, 5, 10, 30, tzinfo=dt.UTC)
    agreement = provider.confirm_agreement(
        customer_id=created.customer.id,
        acceptance=i.AgreementAcceptance(
            first_name="Ada", last_name="Lovelace", email="ada@x.example", accepted_at=accepted_at
        ),
    )
    assert agreement.type == "MicrosoftCustomerAgreement"
    assert agreement.accepted_at == accepted_at and agreement.email == "ada@x.example"
    assert agreement.confirmed_by
    (listed,) = provider.list_agreements(customer_id=created.customer.id)
    assert listed.template_id == agreement.template_id
    with pytest.raises(errors.ProviderError) as again:
        provider.confirm_agreement(
            customer_id=created.customer.id,
            acceptance=i.AgreementAcceptance(
                first_name="Ada",
                last_name="Lovelace",
                email="ada@x.example",
                accepted_at=accepted_at,
            ),
        )
    assert again.value.code == "600061"


def test_new_commerce_orders_wait_for_the_agreement(provider: MicrosoftProvider) -> None:
    created = new_customer(provider, agreement=False)
    line = order_line(provider, quantity=1)
    with pytest.raises(errors.ProviderError) as refused:
        provider.create_order(
            customer_id=created.customer.id, lines=[line], request_key=f"o-{created.customer.id}"
        )
    assert refused.value.code == "13605"
    provider.confirm_agreement(
        customer_id=created.customer.id,
        acceptance=i.AgreementAcceptance(
            first_name="Ada",
            last_name="Lovelace",
            email="ada@x.example",
            accepted_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        ),
    )
    (order,) = provider.create_order(
        customer_id=created.customer.id, lines=[line], request_key=f"o2-{created.customer.id}"
    )
    assert order.id


def test_a_customer_is_found_by_its_exact_domain(provider: MicrosoftProvider, sandbox: Any) -> None:
    created = new_customer(provider)
    domain = created.customer.domain
    found = provider.find_customer_by_domain(domain=domain.upper())
    assert found is not None and found.id == created.customer.id
    assert provider.find_customer_by_domain(domain=domain[:-3]) is None  # a prefix is not it
    assert provider.find_customer_by_domain(domain="tailspintoys.onmicrosoft.com") is None
