"""Read-only admin views of prices and rules: every price-bearing row is append-only, so
changes go through the pricing pages and services."""

from __future__ import annotations

from django.contrib import admin

from seatkeeper.catalog.admin import ReadOnlyScopedAdmin
from seatkeeper.pricing.models import (
    ExchangeRate,
    MarginRule,
    PriceList,
    PriceSheetImport,
    VendorPrice,
)


@admin.register(VendorPrice)
class VendorPriceAdmin(ReadOnlyScopedAdmin):
    scope_path = "offer__vendor__organisation__path"
    list_display = ["offer", "term", "billing_cycle", "currency", "cost", "list_price",
                    "effective_from"]  # fmt: skip


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ReadOnlyScopedAdmin):
    list_display = ["base_currency", "quote_currency", "rate", "effective_from", "source"]


@admin.register(PriceList)
class PriceListAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "currency", "customer"]


@admin.register(MarginRule)
class MarginRuleAdmin(ReadOnlyScopedAdmin):
    scope_path = "owner__path"
    list_display = ["id", "owner", "tier", "target", "method", "value", "effective_from"]


@admin.register(PriceSheetImport)
class PriceSheetImportAdmin(ReadOnlyScopedAdmin):
    scope_path = "vendor__organisation__path"
    list_display = ["started_at", "vendor", "markets", "month", "origin", "status",
                    "prices_added", "offers_without_price"]  # fmt: skip
