from django.urls import path

from seatkeeper.catalog import views

urlpatterns = [
    path("", views.offer_list, name="catalog_offers"),
    path("offers/<int:pk>/", views.offer_detail, name="catalog_offer"),
    path("offers/<int:pk>/withdraw/", views.offer_withdraw, name="catalog_offer_withdraw"),
    path("vendors/", views.vendor_list, name="catalog_vendors"),
    path("vendors/<int:pk>/", views.vendor_detail, name="catalog_vendor"),
    path("vendors/<int:pk>/refresh/", views.vendor_refresh, name="catalog_vendor_refresh"),
    path("refreshes/<int:pk>/", views.refresh_detail, name="catalog_refresh"),
]
