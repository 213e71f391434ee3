"""Django admin, for cloud admins only, scoped to their partner's tree like every other page."""

from __future__ import annotations

from django.contrib import admin

from seatkeeper.accounts.models import ApiToken, Organisation, User
from seatkeeper.accounts.permissions import can_use_admin_site
from seatkeeper.activity.models import ActivityRecord


def _admin_has_permission(request) -> bool:
    return can_use_admin_site(request.user)


admin.site.has_permission = _admin_has_permission
admin.site.site_header = "Seatkeeper administration"


class ScopedAdmin(admin.ModelAdmin):
    """Full rights for cloud admins, over their own partner's tree only."""

    scope_path = "path"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.scope_path}__startswith": request.user.organisation.path})

    def has_module_permission(self, request) -> bool:
        return can_use_admin_site(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can_use_admin_site(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return can_use_admin_site(request.user)

    def has_add_permission(self, request) -> bool:
        return False  # creation goes through the services (pages and API), which log it

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdmin):
    list_display = ["name", "kind", "parent", "country", "is_active"]
    list_filter = ["kind", "country", "is_active"]
    search_fields = ["name", "legal_name", "vat_number"]
    readonly_fields = ["kind", "parent", "path", "created_at", "updated_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # changes go through organisation_update so that they are logged


@admin.register(User)
class UserAdmin(ScopedAdmin):
    scope_path = "organisation__path"
    list_display = ["username", "email", "organisation", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fields = [
        "username",
        "email",
        "first_name",
        "last_name",
        "organisation",
        "role",
        "language",
        "is_active",
        "last_login",
        "date_joined",
    ]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdmin):
    scope_path = "user__organisation__path"
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ActivityRecord)
class ActivityRecordAdmin(ScopedAdmin):
    scope_path = "organisation__path"
    list_display = ["at", "actor_name", "organisation", "operation", "object_repr"]
    list_filter = ["operation", "object_type"]
    search_fields = ["object_repr", "actor_name"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
