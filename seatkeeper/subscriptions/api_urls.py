from django.urls import path

from seatkeeper.subscriptions import api

urlpatterns = [
    path("subscriptions/", api.SubscriptionListApi.as_view(), name="api_subscriptions"),
    path("subscriptions/<int:pk>/", api.SubscriptionDetailApi.as_view(), name="api_subscription"),
    path(
        "subscriptions/<int:pk>/quantity/",
        api.SubscriptionQuantityApi.as_view(),
        name="api_subscription_quantity",
    ),
    path(
        "subscriptions/<int:pk>/suspend/",
        api.SubscriptionSuspendApi.as_view(),
        name="api_subscription_suspend",
    ),
    path(
        "subscriptions/<int:pk>/reactivate/",
        api.SubscriptionReactivateApi.as_view(),
        name="api_subscription_reactivate",
    ),
    path(
        "subscriptions/<int:pk>/cancel/",
        api.SubscriptionCancelApi.as_view(),
        name="api_subscription_cancel",
    ),
    path(
        "subscriptions/<int:pk>/renewal/",
        api.SubscriptionRenewalApi.as_view(),
        name="api_subscription_renewal",
    ),
    path(
        "subscriptions/<int:pk>/quote/",
        api.SubscriptionQuoteApi.as_view(),
        name="api_subscription_quote",
    ),
    path(
        "subscriptions/<int:pk>/history/",
        api.SubscriptionHistoryApi.as_view(),
        name="api_subscription_history",
    ),
    path("orders/", api.OrderApi.as_view(), name="api_orders"),
    path("operations/<int:pk>/retry/", api.OperationRetryApi.as_view(), name="api_operation_retry"),
    path(
        "operations/<int:pk>/withdraw/",
        api.OperationWithdrawApi.as_view(),
        name="api_operation_withdraw",
    ),
]
