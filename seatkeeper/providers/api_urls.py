from django.urls import path

from seatkeeper.providers import api

urlpatterns = [
    path("provider-accounts/", api.AccountListApi.as_view(), name="api_provider_accounts"),
    path(
        "provider-accounts/<int:pk>/",
        api.AccountDetailApi.as_view(),
        name="api_provider_account",
    ),
    path(
        "provider-accounts/<int:pk>/test-connection/",
        api.AccountTestConnectionApi.as_view(),
        name="api_provider_account_test_connection",
    ),
]
