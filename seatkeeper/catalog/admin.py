"""Read-only admin views of the catalog (changes go through the pages and services, which
check rights and keep the history), scoped to the cloud admin's partner."""

from __future__ import annotations

from django.contrib import admin

from seatkeeper.accounts.permissions import can_use_admin_site
from seatkeeper.catalog.models import CatalogRefresh, Offer, Vendor


class ReadOnlyScopedAdmin(admin.ModelAdmin):
    scope_path = "organisation__path"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.scope_path}__startswith": request.user.organisation.path})

    def has_module_permission(self, request) -> bool:
        return can_use_admin_site(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can_use_admin_site(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Vendor)
class VendorAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "kind", "organisation", "is_active"]


@admin.register(Offer)
class OfferAdmin(ReadOnlyScopedAdmin):
    scope_path = "vendor__organisation__path"
    list_display = ["title", "item_code", "vendor", "kind", "category", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["title", "item_code", "external_id"]


@admin.register(CatalogRefresh)
class CatalogRefreshAdmin(ReadOnlyScopedAdmin):
    scope_path = "vendor__organisation__path"
    list_display = ["vendor", "started_at", "status", "new_count", "withdrawn_count"]
