from django.urls import path

from seatkeeper.billing import charge_api, reconciliation_api

urlpatterns = [
    path("billing/report/", charge_api.BillingReportApi.as_view(), name="api_billing_report"),
    path(
        "billing/charge-lines/",
        charge_api.ChargeLineListApi.as_view(),
        name="api_billing_charge_lines",
    ),
    path("billing/cycle-days/", charge_api.CycleDayApi.as_view(), name="api_billing_cycle_days"),
    path(
        "billing/reconciliations/",
        reconciliation_api.ReconciliationListApi.as_view(),
        name="api_billing_reconciliations",
    ),
    path(
        "billing/reconciliations/<int:pk>/",
        reconciliation_api.ReconciliationDetailApi.as_view(),
        name="api_billing_reconciliation",
    ),
    path(
        "billing/reconciliations/<int:pk>/rows/",
        reconciliation_api.ReconciliationRowListApi.as_view(),
        name="api_billing_reconciliation_rows",
    ),
    path(
        "billing/reconciliations/<int:pk>/seats/",
        reconciliation_api.ReconciliationSeatListApi.as_view(),
        name="api_billing_reconciliation_seats",
    ),
    path(
        "billing/reconciliations/<int:pk>/reconciled/",
        reconciliation_api.ReconciliationMarkApi.as_view(),
        name="api_billing_reconciliation_mark",
    ),
]
