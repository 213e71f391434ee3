"""Small builders shared by the sandbox tests."""

from __future__ import annotations

import datetime as dt
import uuid

from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider

BUSINESS_BASIC = "CFQ7TTC0LH18:0001"  # a base licence
TEAMS_PHONE = "CFQ7TTC0LH0R:0001"  # an add-on requiring a Microsoft 365 base


def new_customer(
    provider: MicrosoftProvider, *, name: str | None = None, agreement: bool = True
) -> i.CreatedCustomer:
    """A new customer, its Microsoft Customer Agreement confirmed unless `agreement` is False
    (Partner Center refuses New Commerce orders without it)."""
    prefix = f"sk{uuid.uuid4().hex[:12]}"
    created = provider.create_customer(
        customer=i.NewCustomer(
            domain=f"{prefix}.onmicrosoft.com",
            company_name=name or f"Customer {prefix}",
            email=f"it@{prefix}.example",
            address=i.Address(
                country="US",
                state="WA",
                city="Redmond",
                postal_code="98052",
                address_line1="1 Microsoft Way",
                first_name="Ada",
                last_name="Lovelace",
            ),
        ),
        request_key=f"test-customer-{prefix}",
    )
    if agreement:
        provider.confirm_agreement(
            customer_id=created.customer.id,
            acceptance=i.AgreementAcceptance(
                first_name="Ada",
                last_name="Lovelace",
                email=f"it@{prefix}.example",
                accepted_at=dt.datetime(2020, 1, 6, tzinfo=dt.UTC),
            ),
        )
    return created


def catalog_item(provider: MicrosoftProvider, sku_key: str, *, country: str = "US") -> str:
    product_id, sku_id = sku_key.split(":")
    (availability,) = provider.list_availabilities(
        product_id=product_id, sku_id=sku_id, country=country
    )
    return availability.catalog_item_id


def order_line(
    provider: MicrosoftProvider, sku_key: str = BUSINESS_BASIC, *, quantity: int = 5, **extra: str
) -> i.OrderLine:
    return i.OrderLine(
        catalog_item_id=catalog_item(provider, sku_key),
        quantity=quantity,
        term_duration="P1M",
        billing_cycle=i.BillingCycle.MONTHLY,
        **extra,  # type: ignore[arg-type]
    )


def buy(
    provider: MicrosoftProvider, customer_id: str, *lines: i.OrderLine, key: str | None = None
) -> tuple[i.Order, list[i.Subscription]]:
    """Order and return the order with the subscriptions it provisioned."""
    (order,) = provider.create_order(
        customer_id=customer_id, lines=list(lines), request_key=key or uuid.uuid4().hex
    )
    subscriptions = provider.list_subscriptions(customer_id=customer_id, order_id=order.id)
    return order, subscriptions
