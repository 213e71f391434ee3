"""Prices: vendor costs, exchange rates, price lists, margin rules, and the one pricing engine.

Public API (everything else is internal):

engine.PricingContext.load(partner=, offer_ids=None)  read once, then price in memory
engine.PricingContext.price(PriceRequest) -> PriceBreakdown   .price_many([...])
engine.price_one(partner=, offer_id=, customer_id=, term=, billing_cycle=, on=, quantity=1)
engine.PriceBreakdown: partner_cost / reseller_price (None for direct customers) /
    customer_price as TierPrice(audience, unit_price, currency, source, source_id, summary,
    steps, explanation); total(audience), monthly(audience), whole_term(audience), margins()
audiences.Audience (PARTNER_COST, RESELLER_PRICE, CUSTOMER_PRICE; .label says whose price),
    audiences.visible_audiences(user); engine.PricingError; accounts.selectors.partner_of(org)
selectors.tiers_for(breakdown, user) / margins_for(breakdown, user)   what a viewer may see
quotes.SubscriptionFacts, SeatLot, ProposedChange       the facts the subscriptions app passes
quotes.quote_change(facts=, change=, at=, audience=) -> Quote   shown before a change
quotes.change_charges(facts=, change=, at=, audience=) -> [Charge]   billed for it (== lines)
quotes.period_charge(facts=, audience=) -> Charge / period_charges(facts=[...]) -> [Charge]
services.margin_rule_set / margin_rule_remove / price_list_create / price_list_entry_set /
    price_list_csv_preview / price_list_csv_import / vendor_price_set / exchange_rate_set /
    exchange_rates_csv_import / pricing_policy_set
"""
