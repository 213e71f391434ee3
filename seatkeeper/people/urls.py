from django.urls import path

from seatkeeper.people import rightsizing_views, views

urlpatterns = [
    path("customers/<int:customer_pk>/tenant/", views.tenant_onboard, name="tenant_onboard"),
    path(
        "customers/<int:customer_pk>/tenant/domain-check/",
        views.tenant_domain_check,
        name="tenant_domain_check",
    ),
    path(
        "customers/<int:customer_pk>/tenant/relationship-request/",
        views.tenant_relationship_request,
        name="tenant_relationship_request",
    ),
    path(
        "tenant-onboardings/<int:pk>/<str:action>/",
        views.onboarding_action,
        name="tenant_onboarding_action",
    ),
    path("password-link/<str:token>/", views.credential_reveal, name="credential_reveal"),
]

urlpatterns += [
    path("customers/<int:customer_pk>/users/", views.customer_users, name="customer_users"),
    path(
        "customers/<int:customer_pk>/users/sync/",
        views.customer_users_sync,
        name="customer_users_sync",
    ),
]

urlpatterns += [
    path(
        "customers/<int:customer_pk>/users/<int:user_pk>/licences/",
        views.user_licences,
        name="user_licences",
    ),
    path(
        "customers/<int:customer_pk>/users/<int:user_pk>/licences/assign/",
        views.user_licence_assign,
        name="user_licence_assign",
    ),
    path(
        "customers/<int:customer_pk>/users/<int:user_pk>/licences/<int:licence_pk>/remove/",
        views.user_licence_remove,
        name="user_licence_remove",
    ),
]

urlpatterns += [
    path("right-sizing/", rightsizing_views.right_sizing, name="right_sizing"),
    path("customers/<int:customer_pk>/users/new/", views.user_create, name="user_create"),
    path(
        "customers/<int:customer_pk>/users/password-check/",
        views.user_password_check,
        name="user_password_check",
    ),
    path(
        "customers/<int:customer_pk>/users/<int:user_pk>/edit/",
        views.user_edit,
        name="user_edit",
    ),
    path(
        "customers/<int:customer_pk>/users/<int:user_pk>/<str:action>/",
        views.user_action,
        name="user_action",
    ),
    path(
        "customers/<int:customer_pk>/default-licence/",
        views.default_licence,
        name="default_licence",
    ),
]

from seatkeeper.people import member_views  # noqa: E402

urlpatterns += [
    path(
        "customers/<int:customer_pk>/members/<int:vendor_pk>/",
        member_views.vendor_members,
        name="vendor_members",
    ),
    path(
        "customers/<int:customer_pk>/members/<int:vendor_pk>/add/",
        member_views.member_add,
        name="member_add",
    ),
    path(
        "customers/<int:customer_pk>/members/<int:vendor_pk>/<int:member_pk>/seats/",
        member_views.member_seats,
        name="member_seats",
    ),
    path(
        "customers/<int:customer_pk>/members/<int:vendor_pk>/import/",
        member_views.member_import_upload,
        name="member_import_upload",
    ),
    path(
        "customers/<int:customer_pk>/members/<int:vendor_pk>/import/<int:import_pk>/",
        member_views.member_import,
        name="member_import",
    ),
    path(
        "customers/<int:customer_pk>/members/<int:vendor_pk>/import/<int:import_pk>/apply/",
        member_views.member_import_apply,
        name="member_import_apply",
    ),
    path(
        "customers/<int:customer_pk>/users/import/",
        member_views.users_import_upload,
        name="users_import_upload",
    ),
    path(
        "customers/<int:customer_pk>/users/import/<int:import_pk>/",
        member_views.users_import,
        name="users_import",
    ),
    path(
        "customers/<int:customer_pk>/users/import/<int:import_pk>/apply/",
        member_views.users_import_apply,
        name="users_import_apply",
    ),
    path(
        "customers/<int:customer_pk>/users/bulk-licences/",
        member_views.users_bulk_licences,
        name="users_bulk_licences",
    ),
]
