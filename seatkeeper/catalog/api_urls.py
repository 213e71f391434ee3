from django.urls import path

from seatkeeper.catalog import api

urlpatterns = [
    path("vendors/", api.VendorListApi.as_view(), name="api_vendors"),
    path("vendors/<int:pk>/refresh/", api.VendorRefreshApi.as_view(), name="api_vendor_refresh"),
    path(
        "vendors/<int:pk>/offers/import/",
        api.VendorOfferImportApi.as_view(),
        name="api_vendor_offer_import",
    ),
    path("offers/", api.OfferListApi.as_view(), name="api_offers"),
    path("offers/<int:pk>/", api.OfferDetailApi.as_view(), name="api_offer"),
]
