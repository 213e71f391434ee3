from django.urls import path

from seatkeeper.billing import charge_api

urlpatterns = [
    path("billing/report/", charge_api.BillingReportApi.as_view(), name="api_billing_report"),
    path(
        "billing/charge-lines/",
        charge_api.ChargeLineListApi.as_view(),
        name="api_billing_charge_lines",
    ),
    path("billing/cycle-days/", charge_api.CycleDayApi.as_view(), name="api_billing_cycle_days"),
]
