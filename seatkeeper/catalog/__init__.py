"""The catalog: vendors (connected to a provider account, or manual), offers (one SKU in a
country and segment, sold on terms and billing cycles), and each import's record of changes.

services.catalog_refresh(vendor=, actor=, provider=None)  import from the vendor (tests pass a
    fake `provider` with `catalog()`); tasks.refresh_vendor_catalog / refresh_all_catalogs
    (registered as the periodic job "catalog.refresh", daily)
services.offers_csv_preview / offers_csv_import / manual_offer_save / offer_withdraw
selectors.offers_visible_to(user) / get_offer_for_user(user, pk) (404 outside the tree)
models.Offer.is_purchasable (False once withdrawn; subscriptions keep withdrawn offers)
"""
