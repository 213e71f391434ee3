from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from seatkeeper.accounts import api as accounts_api
from seatkeeper.activity import api as activity_api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("me/", accounts_api.MeApi.as_view(), name="api_me"),
    path("tokens/", accounts_api.TokenListApi.as_view(), name="api_tokens"),
    path("tokens/<int:pk>/revoke/", accounts_api.TokenRevokeApi.as_view(), name="api_token_revoke"),
    path("organisations/", accounts_api.OrganisationListApi.as_view(), name="api_organisations"),
    path(
        "organisations/<int:pk>/",
        accounts_api.OrganisationDetailApi.as_view(),
        name="api_organisation",
    ),
    path("users/", accounts_api.UserListApi.as_view(), name="api_users"),
    path("users/<int:pk>/", accounts_api.UserDetailApi.as_view(), name="api_user"),
    path("activity/", activity_api.ActivityListApi.as_view(), name="api_activity"),
    path("", include("seatkeeper.catalog.api_urls")),
    path("", include("seatkeeper.pricing.api_urls")),
    path("", include("seatkeeper.subscriptions.api_urls")),
    path("", include("seatkeeper.providers.api_urls")),
    path("", include("seatkeeper.billing.api_urls")),
    path("", include("seatkeeper.discovery.api_urls")),
    path("", include("seatkeeper.people.api_urls")),
]
