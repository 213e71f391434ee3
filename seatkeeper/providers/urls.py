from django.urls import path

from seatkeeper.providers import views

urlpatterns = [
    path("", views.account_list, name="provider_accounts"),
    path("new/", views.account_create, name="provider_account_create"),
    path("consent/callback/", views.consent_callback, name="provider_consent_callback"),
    path("<int:pk>/", views.account_detail, name="provider_account"),
    path("<int:pk>/edit/", views.account_edit, name="provider_account_edit"),
    path("<int:pk>/consent/", views.account_consent, name="provider_account_consent"),
    path("<int:pk>/test/", views.account_test, name="provider_account_test"),
]
