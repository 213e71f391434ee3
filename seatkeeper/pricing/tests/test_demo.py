from decimal import Decimal

from seatkeeper.accounts import demo as accounts_demo
from seatkeeper.accounts.models import Organisation
from seatkeeper.core import clock
from seatkeeper.pricing import demo
from seatkeeper.pricing.engine import PriceRequest, PricingContext
from seatkeeper.providers.models import ProviderAccount, ProviderKind


def test_the_demo_loads_twice_and_prices_every_customer(db, monkeypatch):
    accounts_demo.load()
    partner = Organisation.objects.get(name=accounts_demo.PARTNER["name"])
    account = ProviderAccount(organisation=partner, kind=ProviderKind.MICROSOFT, name="Sandbox",
                              partner_tenant_id="t", application_id="a")  # fmt: skip
    account.set_application_secret("s")
    account.save()

    def unreachable(account):
        raise ConnectionError("sandbox not running")

    monkeypatch.setattr("seatkeeper.providers.registry.get_provider", unreachable)
    first = demo.load()
    second = demo.load()
    assert first == second
    assert first["offers"] == 14  # 6 Microsoft, 8 Rainbow and first["microsoft"]
    context = PricingContext.load(partner=partner)
    for customer in Organisation.objects.filter(kind="customer", path__startswith=partner.path):
        for offer in context.offers.values():
            terms = (
                [("P1Y", "monthly")] if offer.vendor_name == "Microsoft" else [("P1M", "monthly")]
            )
            for term, cycle in terms:
                request = PriceRequest(
                    offer_id=offer.id, customer_id=customer.pk, term=term, billing_cycle=cycle,
                    on=clock.today(),
                )  # fmt: skip
                priced = context.price(request)
                assert priced.customer_price.unit_price >= priced.partner_cost.unit_price
                assert priced.customer_price.unit_price >= Decimal(0)


def test_the_demo_sets_margins_at_each_level(db):
    from seatkeeper.pricing.models import MarginRule, Tier

    accounts_demo.load()
    demo.load()
    partner = Organisation.objects.get(name=accounts_demo.PARTNER["name"])
    resellers = Organisation.objects.filter(kind="reseller")
    assert resellers.count() == 3
    rules = MarginRule.objects.all()
    assert rules.filter(owner=partner, tier=Tier.RESELLER, target=None).exists()
    assert rules.filter(owner=partner, tier=Tier.CUSTOMER, target=None).exists()
    for reseller in resellers:
        # each reseller's own margin towards all its customers, each of a different method
        assert rules.filter(owner=reseller, tier=Tier.CUSTOMER, target=None).count() == 1
    methods = set(rules.filter(owner__in=resellers, target=None).values_list("method", flat=True))
    assert len(methods) == 3
    # one customer of the first reseller has its own rule
    assert rules.filter(owner__in=resellers, target__kind="customer").count() == 1
