"""Known money and seats for the dashboard and right-sizing tests.

Charge lines of two months (the cycles ending on the 15th of last month and of this month),
written as a billing run would write them, at the three audiences' prices:

                          month   partner cost  reseller price  customer price
Customer One (Reseller One) last        45.00           50.00           60.00
Customer One (Reseller One) this        90.00          100.00          120.00
Customer Three (Reseller Two) this      10.00           20.00           30.00
Direct Customer (partner)   this        40.00               —           70.00

So, this month: the partner sells 190.00 (100 + 20 + 70) for a cost of 140.00, margin 50.00;
Reseller One sells 120.00 for 100.00, margin 20.00; Customer One spends 120.00.

Seats: Customer One's subscription of 5 seats, 2 of them held by the tenant's users.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from seatkeeper.billing.models import BillingCycle, BillingRun, ChargeLine
from seatkeeper.catalog.models import add_months
from seatkeeper.core import clock
from seatkeeper.people.models import DirectoryUser, LicenceSku, UserLicence
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.tests.helpers import order


def this_month() -> dt.date:
    return clock.today().replace(day=1)


def cycle_end(months_back: int) -> dt.date:
    return add_months(this_month(), -months_back).replace(day=15)


def charge(subscription, *, months_back: int, cost: str, reseller: str | None, customer: str):
    account = subscription.reseller or subscription.customer.parent
    end = cycle_end(months_back)
    start = add_months(end, -1) + dt.timedelta(days=1)
    cycle, _created = BillingCycle.objects.get_or_create(
        account=account, start_date=start, defaults={"end_date": end}
    )
    run = BillingRun.objects.create(cycle=cycle, state="done", requested_by_name="test")
    occurred = dt.datetime.combine(start, dt.time(9), tzinfo=dt.UTC)
    return ChargeLine.objects.create(
        cycle=cycle,
        run=run,
        subscription=subscription,
        customer=subscription.customer,
        reseller=subscription.reseller,
        offer=subscription.offer,
        kind="cycle_fee",
        source_key=f"fee:{start}",
        charged_on=start,
        occurred_at=occurred,
        period_start=start,
        period_end=end + dt.timedelta(days=1),
        days=30,
        period_days=30,
        term=subscription.term,
        billing_cycle=subscription.billing_cycle,
        quantity=1,
        currency="GBP",
        partner_cost_unit=Decimal(cost),
        partner_cost_amount=Decimal(cost),
        reseller_price_unit=None if reseller is None else Decimal(reseller),
        reseller_price_amount=None if reseller is None else Decimal(reseller),
        customer_price_unit=Decimal(customer),
        customer_price_amount=Decimal(customer),
    )


def hold_seats(subscription, count: int, *, prefix: str = "user") -> None:
    """`count` of the tenant's users holding a licence of the subscription's product."""
    sku, _created = LicenceSku.objects.get_or_create(
        tenant=subscription.tenant,
        sku_id=f"sku-{subscription.offer.external_id}",
        defaults={"product_key": subscription.offer.external_id, "name": subscription.offer.title},
    )
    for number in range(count):
        user = DirectoryUser.objects.create(
            tenant=subscription.tenant,
            customer=subscription.customer,
            vendor_user_id=f"{prefix}-{subscription.pk}-{number}",
            display_name=f"User {number}",
            user_principal_name=f"{prefix}{number}@{subscription.tenant.domain}",
        )
        UserLicence.objects.create(user=user, sku=sku)


def link_tenant(shop, customer, number: int) -> None:
    services.tenant_link(
        actor=None,
        customer=customer,
        account=shop.world.vendor.provider_account,
        vendor_customer_id=f"c0ffee00-0000-4000-8000-00000000000{number}",
        domain=f"customer{number}.onmicrosoft.com",
    )


def build(cast, shop) -> dict:
    link_tenant(shop, cast.customer_three, 3)
    link_tenant(shop, cast.direct_customer, 4)
    one = order(cast, shop, quantity=5, name="Office seats")
    three = order(cast, shop, actor=cast.cloud_admin, customer=cast.customer_three, name="R2 seats")
    direct = order(
        cast, shop, actor=cast.cloud_admin, customer=cast.direct_customer, name="Direct seats"
    )
    charge(one, months_back=1, cost="45.00", reseller="50.00", customer="60.00")
    charge(one, months_back=0, cost="90.00", reseller="100.00", customer="120.00")
    charge(three, months_back=0, cost="10.00", reseller="20.00", customer="30.00")
    charge(direct, months_back=0, cost="40.00", reseller=None, customer="70.00")
    hold_seats(one, 2)
    return {"one": one, "three": three, "direct": direct}
