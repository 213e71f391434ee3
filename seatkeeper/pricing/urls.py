from django.urls import path

from seatkeeper.pricing import views

urlpatterns = [
    path("", views.whatif, name="pricing_whatif"),
    path("rules/", views.rule_list, name="pricing_rules"),
    path("rules/<int:pk>/remove/", views.rule_remove, name="pricing_rule_remove"),
    path("guardrails/", views.policy_set, name="pricing_policy"),
    path("price-lists/", views.price_list_list, name="pricing_price_lists"),
    path("price-lists/<int:pk>/", views.price_list_detail, name="pricing_price_list"),
    path("exchange-rates/", views.rate_list, name="pricing_rates"),
    path("price-sheets/", views.price_sheet_list, name="pricing_price_sheets"),
    path("price-sheets/<int:pk>/", views.price_sheet_detail, name="pricing_price_sheet"),
]
