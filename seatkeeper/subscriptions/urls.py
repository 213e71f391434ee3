from django.urls import path

from seatkeeper.subscriptions import views

urlpatterns = [
    path("subscriptions/", views.subscription_list_all, name="subscription_list_all"),
    path(
        "customers/<int:customer_pk>/subscriptions/",
        views.customer_subscriptions,
        name="customer_subscriptions",
    ),
    path("customers/<int:customer_pk>/store/", views.estore, name="estore"),
    path("customers/<int:customer_pk>/rights/", views.customer_rights, name="customer_rights"),
    path("subscriptions/<int:pk>/", views.subscription_detail, name="subscription_detail"),
    path(
        "subscriptions/<int:pk>/quantity/",
        views.subscription_quantity,
        name="subscription_quantity",
    ),
    path(
        "subscriptions/<int:pk>/quantity/preview/",
        views.subscription_quantity_preview,
        name="subscription_quantity_preview",
    ),
    path("subscriptions/<int:pk>/addons/", views.subscription_addons, name="subscription_addons"),
    path(
        "subscriptions/<int:pk>/suspend/", views.subscription_suspend, name="subscription_suspend"
    ),
    path(
        "subscriptions/<int:pk>/reactivate/",
        views.subscription_reactivate,
        name="subscription_reactivate",
    ),
    path("subscriptions/<int:pk>/cancel/", views.subscription_cancel, name="subscription_cancel"),
    path(
        "subscriptions/<int:pk>/renewal/", views.subscription_renewal, name="subscription_renewal"
    ),
    path("subscriptions/<int:pk>/edit/", views.subscription_edit, name="subscription_edit"),
    path("operations/<int:pk>/retry/", views.operation_retry, name="operation_retry"),
    path("operations/<int:pk>/withdraw/", views.operation_withdraw, name="operation_withdraw"),
    path("fulfilment/", views.fulfilment_queue, name="fulfilment_queue"),
]
