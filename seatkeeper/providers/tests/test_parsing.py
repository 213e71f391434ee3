"""Parsing of response shapes taken from the Partner Center documentation samples."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import UnexpectedResponse
from seatkeeper.providers.microsoft import parsing
from seatkeeper.providers.microsoft.adapter import apply_subscription_change

SUBSCRIPTION = {
    "id": "A1B2C3D4-0000-4000-8000-00000000000A",
    "offerId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971",
    "offerName": "Microsoft 365 Business Basic",
    "friendlyName": "Basic for sales",
    "quantity": 12,
    "unitType": "Licenses",
    "creationDate": "2021-01-14T16:57:15.0966728Z",
    "effectiveStartDate": "2021-01-14T00:00:00Z",
    "commitmentEndDate": "2022-01-13T00:00:00Z",
    "cancellationAllowedUntilDate": "2021-01-21T16:57:15.0966728Z",
    "status": "active",
    "autoRenewEnabled": True,
    "isTrial": False,
    "billingType": "license",
    "billingCycle": "monthly",
    "termDuration": "P1Y",
    "refundableQuantity": {"totalQuantity": 2, "details": []},
    "orderId": "a68736758d9c",
    "attributes": {"etag": "eyJpZCI6IjEifQ==", "objectType": "Subscription"},
}


def test_subscription_sample_parses_to_typed_fields() -> None:
    subscription = parsing.subscription(SUBSCRIPTION, customer_id="cust")

    assert subscription.status is i.SubscriptionStatus.ACTIVE
    assert subscription.billing_cycle is i.BillingCycle.MONTHLY
    assert subscription.quantity == 12
    assert subscription.auto_renew is True
    assert subscription.commitment_end == dt.date(2022, 1, 13)
    assert subscription.created_at == dt.datetime(2021, 1, 14, 16, 57, 15, 96672, tzinfo=dt.UTC)
    assert subscription.refundable_quantity == 2
    assert subscription.order_id == "a68736758d9c"


def test_subscription_change_keeps_the_etag_and_full_body() -> None:
    body = apply_subscription_change(
        SUBSCRIPTION, i.SubscriptionUpdate(quantity=15, status=i.SubscriptionStatus.SUSPENDED)
    )

    assert body["quantity"] == 15
    assert body["status"] == "suspended"
    assert body["attributes"]["etag"] == "eyJpZCI6IjEifQ=="
    assert body["offerName"] == SUBSCRIPTION["offerName"]
    assert SUBSCRIPTION["quantity"] == 12  # the fresh copy is not modified


def test_customer_and_creation_credentials() -> None:
    created = parsing.created_customer(
        {
            "id": "4c2bbd5b-9be9-44f2-8e5f-1d3a4d8a0b55",
            "commerceId": "1a2b",
            "companyProfile": {
                "tenantId": "4c2b",
                "domain": "contoso.onmicrosoft.com",
                "companyName": "Contoso",
            },
            "relationshipToPartner": "reseller",
            "userCredentials": {"userName": "admin", "password": "Pa55w0rd!"},
        }
    )

    assert created.customer.domain == "contoso.onmicrosoft.com"
    assert created.customer.company_name == "Contoso"
    assert created.admin_user_name == "admin"
    assert "Pa55w0rd" not in repr(created)


def test_availability_terms_and_catalog_item_id() -> None:
    availability = parsing.availability(
        {
            "id": "CFQ7TTC0K971",
            "productId": "CFQ7TTC0LH18",
            "skuId": "0001",
            "catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971",
            "defaultCurrency": {"code": "USD", "symbol": "$"},
            "segment": "commercial",
            "country": "US",
            "isPurchasable": True,
            "terms": [
                {
                    "id": "x",
                    "duration": "P1Y",
                    "description": "One-Year commitment",
                    "billingCycle": "Annual",
                },
                {"duration": "P1M", "billingCycle": "Monthly"},
            ],
        }
    )

    assert availability.catalog_item_id == "CFQ7TTC0LH18:0001:CFQ7TTC0K971"
    assert [(t.duration, t.billing_cycle) for t in availability.terms] == [
        ("P1Y", i.BillingCycle.ANNUAL),
        ("P1M", i.BillingCycle.MONTHLY),
    ]
    assert availability.terms[0].price is None


def test_addon_sku_lists_its_bases() -> None:
    sku = parsing.sku(
        {
            "id": "0002",
            "productId": "CFQ7TTC0LHSV",
            "title": "Teams Phone",
            "minimumQuantity": 1,
            "maximumQuantity": 300,
            "isTrial": False,
            "supportedBillingCycles": ["monthly", "annual"],
            "dynamicAttributes": {"isAddon": True, "prerequisiteSkus": ["CFQ7TTC0LH18:0001"]},
        }
    )

    assert sku.is_addon is True
    assert sku.prerequisite_skus == ("CFQ7TTC0LH18:0001",)
    assert sku.maximum_quantity == 300
    assert sku.key == "CFQ7TTC0LHSV:0002"


def test_recon_line_item_numbers_come_as_strings_and_stay_exact() -> None:
    line = parsing.invoice_line_item(
        {
            "customerId": "c",
            "invoiceNumber": "G000024130",
            "subscriptionId": "s",
            "chargeType": "addQuantity",
            "unitPrice": "16",
            "effectiveUnitPrice": "10.3225806451613",
            "quantity": "3",
            "subtotal": "30.97",
            "taxTotal": "0",
            "totalForCustomer": "30.97",
            "currency": "EUR",
            "chargeStartDate": "2021-06-18T00:00:00Z",
            "referenceId": "ref-1",
        },
        invoice_id="ignored",
    )

    assert line.invoice_id == "G000024130"
    assert line.effective_unit_price == Money(Decimal("10.3225806451613"), "EUR")
    assert line.quantity == Decimal(3)
    assert line.total == Money(Decimal("30.97"), "EUR")


def test_audit_record_keeps_vendor_json_as_text() -> None:
    record = parsing.audit_record(
        {
            "id": "p_c_x_create_order_1",
            "operationType": "create_order",
            "operationStatus": "succeeded",
            "operationDate": "2019-01-16T00:48:44.76+00:00",
            "resourceType": "order",
            "resourceNewValue": '{"Id":"a68736758d9c"}',
            "customizedData": [{"key": "OrderId", "value": "a68736758d9c"}],
        }
    )

    assert record.operation_date == dt.datetime(2019, 1, 16, 0, 48, 44, 760000, tzinfo=dt.UTC)
    assert record.details == {"OrderId": "a68736758d9c"}
    assert record.resource_new_value == '{"Id":"a68736758d9c"}'


def test_invoice_money_is_decimal_even_from_json_floats() -> None:
    invoice = parsing.invoice(
        {
            "id": "G0001",
            "totalCharges": 0.1,
            "paidAmount": 0,
            "currencyCode": "USD",
            "billingPeriodStartDate": "2021-06-01T00:00:00Z",
        }
    )

    assert invoice.total_charges == Money(Decimal("0.1"), "USD")
    assert invoice.period_start == dt.date(2021, 6, 1)


@pytest.mark.parametrize("value", ["yesterday", "2021-13-45"])
def test_unreadable_dates_are_reported(value: str) -> None:
    with pytest.raises(UnexpectedResponse):
        parsing.timestamp(value)


def test_unknown_enum_values_do_not_break_loading() -> None:
    assert parsing.subscription_status("frozen") is i.SubscriptionStatus.UNKNOWN
    assert parsing.order_status("pending review") is i.OrderStatus.PENDING
    assert parsing.billing_cycle("Triennial") is i.BillingCycle.TRIENNIAL
