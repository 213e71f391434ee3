from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from seatkeeper.accounts import views as accounts
from seatkeeper.accounts.forms import SignInForm
from seatkeeper.activity import views as activity
from seatkeeper.ui import views as ui

urlpatterns = [
    path("", ui.dashboard, name="dashboard"),
    path("health/", ui.health, name="health"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("invitation/<str:token>/", accounts.invitation_accept, name="invitation_accept"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("profile/", accounts.profile, name="profile"),
    path("profile/language/", accounts.language_set, name="language_set"),
    path("profile/columns/<slug:table>/", accounts.table_columns_set, name="table_columns_set"),
    path("profile/tokens/", accounts.api_token_create, name="api_token_create"),
    path("profile/tokens/<int:pk>/revoke/", accounts.api_token_revoke, name="api_token_revoke_ui"),
    path("organisations/", accounts.organisation_list, name="organisation_list"),
    path("organisations/<int:pk>/", accounts.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/edit/", accounts.organisation_edit, name="organisation_edit"),
    path(
        "organisations/<int:parent_pk>/new/",
        accounts.organisation_create,
        name="organisation_create",
    ),
    path("organisations/<int:organisation_pk>/invite/", accounts.user_invite, name="user_invite"),
    path("users/<int:pk>/edit/", accounts.user_edit, name="user_edit"),
    path("activity/", activity.activity_list, name="activity_list"),
    path("catalog/", include("seatkeeper.catalog.urls")),
    path("", include("seatkeeper.subscriptions.urls")),
    path("pricing/", include("seatkeeper.pricing.urls")),
    path("providers/", include("seatkeeper.providers.urls")),
    path("billing/", include("seatkeeper.billing.urls")),
    path("discovery/", include("seatkeeper.discovery.urls")),
    path("", include("seatkeeper.people.urls")),
    path("api/v1/", include("seatkeeper.api.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "seatkeeper.ui.views.bad_request"
handler403 = "seatkeeper.ui.views.forbidden"
handler404 = "seatkeeper.accounts.views.not_found"
