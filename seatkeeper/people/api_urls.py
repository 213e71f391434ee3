from django.urls import path

from seatkeeper.people import api, api_members, api_users, rightsizing_api

urlpatterns = [
    path("customers/<int:pk>/tenant/", api.TenantApi.as_view(), name="api_customer_tenant"),
    path(
        "customers/<int:pk>/tenant/domain-check/",
        api.DomainCheckApi.as_view(),
        name="api_customer_tenant_domain_check",
    ),
    path(
        "customers/<int:pk>/tenant/create/",
        api.TenantCreateApi.as_view(),
        name="api_customer_tenant_create",
    ),
    path(
        "customers/<int:pk>/tenant/link/",
        api.TenantLinkApi.as_view(),
        name="api_customer_tenant_link",
    ),
    path(
        "customers/<int:pk>/tenant/relationship-request/",
        api.RelationshipRequestApi.as_view(),
        name="api_customer_tenant_relationship_request",
    ),
    path("tenant-onboardings/", api.OnboardingListApi.as_view(), name="api_tenant_onboardings"),
    path(
        "tenant-onboardings/<int:pk>/",
        api.OnboardingDetailApi.as_view(),
        name="api_tenant_onboarding",
    ),
    path(
        "tenant-onboardings/<int:pk>/retry/",
        api.OnboardingRetryApi.as_view(),
        name="api_tenant_onboarding_retry",
    ),
    path(
        "tenant-onboardings/<int:pk>/cancel/",
        api.OnboardingCancelApi.as_view(),
        name="api_tenant_onboarding_cancel",
    ),
]

urlpatterns += [
    path(
        "customers/<int:pk>/users/",
        api_users.CustomerUsersCollectionApi.as_view(),
        name="api_customer_users",
    ),
    path(
        "customers/<int:pk>/users/sync/",
        api_users.CustomerUsersSyncApi.as_view(),
        name="api_customer_users_sync",
    ),
    path(
        "customers/<int:pk>/users/<int:user_pk>/licences/",
        api_users.UserLicencesApi.as_view(),
        name="api_customer_user_licences",
    ),
    path(
        "customers/<int:pk>/users/<int:user_pk>/licences/<int:licence_pk>/",
        api_users.UserLicenceApi.as_view(),
        name="api_customer_user_licence",
    ),
]

urlpatterns += [
    path("right-sizing/", rightsizing_api.RightSizingApi.as_view(), name="api_right_sizing"),
    path(
        "customers/<int:pk>/users/password-check/",
        api_users.PasswordCheckApi.as_view(),
        name="api_customer_users_password_check",
    ),
    path(
        "customers/<int:pk>/users/<int:user_pk>/",
        api_users.UserDetailApi.as_view(),
        name="api_customer_user",
    ),
    path(
        "customers/<int:pk>/users/<int:user_pk>/delete/",
        api_users.UserDeleteApi.as_view(),
        name="api_customer_user_delete",
    ),
    path(
        "customers/<int:pk>/users/<int:user_pk>/restore/",
        api_users.UserRestoreApi.as_view(),
        name="api_customer_user_restore",
    ),
    path(
        "customers/<int:pk>/users/<int:user_pk>/reset-password/",
        api_users.UserPasswordResetApi.as_view(),
        name="api_customer_user_reset_password",
    ),
    path(
        "customers/<int:pk>/default-licence/",
        api_users.DefaultLicenceApi.as_view(),
        name="api_customer_default_licence",
    ),
]

urlpatterns += [
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/",
        api_members.MembersApi.as_view(),
        name="api_customer_members",
    ),
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/<int:member_pk>/",
        api_members.MemberApi.as_view(),
        name="api_customer_member",
    ),
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/<int:member_pk>/seats/",
        api_members.MemberSeatsApi.as_view(),
        name="api_customer_member_seats",
    ),
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/imports/",
        api_members.MemberImportsApi.as_view(),
        name="api_customer_member_imports",
    ),
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/imports/<int:import_pk>/",
        api_members.MemberImportApi.as_view(),
        name="api_customer_member_import",
    ),
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/imports/<int:import_pk>/lines/",
        api_members.MemberImportLinesApi.as_view(),
        name="api_customer_member_import_lines",
    ),
    path(
        "customers/<int:pk>/members/<int:vendor_pk>/imports/<int:import_pk>/apply/",
        api_members.MemberImportApplyApi.as_view(),
        name="api_customer_member_import_apply",
    ),
]
