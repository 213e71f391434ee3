from django.urls import path

from seatkeeper.pricing import api

urlpatterns = [
    path("prices/", api.PriceApi.as_view(), name="api_prices"),
    path("quotes/", api.QuoteApi.as_view(), name="api_quotes"),
    path("price-lists/", api.PriceListListApi.as_view(), name="api_price_lists"),
    path(
        "price-lists/<int:pk>/entries/",
        api.PriceListEntriesApi.as_view(),
        name="api_price_list_entries",
    ),
    path(
        "price-lists/<int:pk>/import/",
        api.PriceListImportApi.as_view(),
        name="api_price_list_import",
    ),
    path("margin-rules/", api.RuleListApi.as_view(), name="api_margin_rules"),
    path(
        "margin-rules/<int:pk>/remove/", api.RuleRemoveApi.as_view(), name="api_margin_rule_remove"
    ),
    path("exchange-rates/", api.RateListApi.as_view(), name="api_exchange_rates"),
    path(
        "vendors/<int:pk>/price-sheets/",
        api.PriceSheetListApi.as_view(),
        name="api_vendor_price_sheets",
    ),
    path("price-sheets/<int:pk>/", api.PriceSheetDetailApi.as_view(), name="api_price_sheet"),
]
