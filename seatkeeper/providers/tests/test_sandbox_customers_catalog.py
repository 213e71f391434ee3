"""Customers and catalog, over HTTPS against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.tests.helpers import BUSINESS_BASIC, TEAMS_PHONE, new_customer

pytestmark = pytest.mark.django_db


def test_customers_are_listed_page_by_page(provider: MicrosoftProvider, sandbox: Any) -> None:
    # when
    customers = list(provider.list_customers(page_size=2))

    # then: every customer once, fetched over several seek pages
    ids = [c.id for c in customers]
    assert len(ids) == len(set(ids)) >= 6
    pages = sandbox.admin.calls(method="GET", path="/v1/customers")
    assert len(pages) == -(-len(ids) // 2)
    assert all(c.domain.endswith(".onmicrosoft.com") for c in customers)


def test_a_new_customer_is_created_once_per_request_key(
    provider: MicrosoftProvider, sandbox: Any
) -> None:
    # given
    before = len(list(provider.list_customers()))
    created = new_customer(provider)

    # when: the same operation is carried out again (a task retried after a crash)
    again = provider.create_customer(
        customer=i.NewCustomer(
            domain=created.customer.domain,
            company_name=created.customer.company_name,
            email="it@x.example",
            address=i.Address(
                country="US",
                state="WA",
                city="R",
                postal_code="98052",
                address_line1="1 Way",
                first_name="A",
                last_name="L",
            ),
        ),
        request_key=f"test-customer-{created.customer.domain.split('.')[0]}",
    )

    # then
    assert again.customer.id == created.customer.id
    assert len(list(provider.list_customers())) == before + 1
    assert created.admin_user_name
    assert provider.get_customer(customer_id=created.customer.id).domain == created.customer.domain


def test_domain_check_tells_taken_from_free(provider: MicrosoftProvider, sandbox: Any) -> None:
    taken = sandbox.demo_customers[0]["domain"]

    assert provider.check_domain_available(domain=taken) is False
    assert provider.check_domain_available(domain="nobody-has-this-9f1e.onmicrosoft.com") is True


def test_an_unknown_customer_is_not_found(provider: MicrosoftProvider) -> None:
    with pytest.raises(errors.NotFound) as raised:
        provider.get_customer(customer_id="00000000-0000-4000-8000-000000000000")
    assert raised.value.retryable is False


def test_invalid_customer_details_are_refused_with_the_vendor_code(
    provider: MicrosoftProvider,
) -> None:
    with pytest.raises(errors.ValidationFailed) as raised:
        provider.create_customer(
            customer=i.NewCustomer(
                domain="bad.onmicrosoft.com",
                company_name="Bad",
                email="it@bad.example",
                address=i.Address(country="US", city="", postal_code="", address_line1=""),
            ),
            request_key="bad-customer",
        )
    assert raised.value.code == "3000"


def test_catalog_has_terms_cycles_quantities_addons_and_prices(
    provider: MicrosoftProvider,
) -> None:
    # when
    offers = {f"{o.product.id}:{o.sku.id}": o for o in provider.catalog(country="US")}

    # then
    basic = offers[BUSINESS_BASIC]
    assert basic.sku.minimum_quantity >= 1 and basic.sku.maximum_quantity
    (availability,) = basic.availabilities
    assert availability.catalog_item_id.startswith(BUSINESS_BASIC + ":")
    assert availability.currency == "USD"
    durations = {(t.duration, t.billing_cycle) for t in availability.terms}
    assert ("P1M", i.BillingCycle.MONTHLY) in durations
    assert ("P1Y", i.BillingCycle.ANNUAL) in durations
    assert all(t.price is not None and t.price.currency == "USD" for t in availability.terms)
    phone = offers[TEAMS_PHONE]
    assert phone.sku.is_addon is True
    assert BUSINESS_BASIC in phone.sku.prerequisite_skus


def test_products_and_skus_can_be_listed_directly(provider: MicrosoftProvider) -> None:
    products = list(provider.list_products(country="US"))
    basic = next(p for p in products if p.id == BUSINESS_BASIC.split(":")[0])

    skus = provider.list_skus(product_id=basic.id, country="US")

    assert basic.title == "Microsoft 365 Business Basic"
    assert [s.key for s in skus] == [BUSINESS_BASIC]
