from django.urls import path

from seatkeeper.billing import charge_views

urlpatterns = [
    path("report/", charge_views.billing_report, name="billing_report"),
    path("cycles/", charge_views.billing_cycles, name="billing_cycles"),
    path(
        "statements/<int:customer_pk>/<str:end>.pdf",
        charge_views.billing_statement,
        name="billing_statement",
    ),
]
