"""Subscription pages, one module per page family. Thin: scoped reads from selectors, every
change through one service, and the service's own message shown when it refuses.

- lists: the lists of subscriptions and their exports (one filter definition with the API)
- detail: one subscription's page
- changes: quantity, suspend, reactivate, end, renewal, labels and margin, retry/withdraw
- ordering: the e-store and add-ons (choose → review with price → confirm)
- fulfilment: customer rights and the manual fulfilment queue
"""

from seatkeeper.subscriptions.views.changes import (
    operation_retry,
    operation_withdraw,
    subscription_cancel,
    subscription_edit,
    subscription_quantity,
    subscription_quantity_preview,
    subscription_reactivate,
    subscription_renewal,
    subscription_suspend,
)
from seatkeeper.subscriptions.views.detail import subscription_detail
from seatkeeper.subscriptions.views.fulfilment import customer_rights, fulfilment_queue
from seatkeeper.subscriptions.views.lists import customer_subscriptions, subscription_list_all
from seatkeeper.subscriptions.views.ordering import estore, subscription_addons

__all__ = [
    "customer_rights",
    "customer_subscriptions",
    "estore",
    "fulfilment_queue",
    "operation_retry",
    "operation_withdraw",
    "subscription_addons",
    "subscription_cancel",
    "subscription_detail",
    "subscription_edit",
    "subscription_list_all",
    "subscription_quantity",
    "subscription_quantity_preview",
    "subscription_reactivate",
    "subscription_renewal",
    "subscription_suspend",
]
