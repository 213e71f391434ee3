from django.urls import path

from seatkeeper.billing import charge_views, invoice_views, reconciliation_views

urlpatterns = [
    path("report/", charge_views.billing_report, name="billing_report"),
    path("cycles/", charge_views.billing_cycles, name="billing_cycles"),
    path(
        "statements/<int:customer_pk>/<str:end>.pdf",
        charge_views.billing_statement,
        name="billing_statement",
    ),
    path("invoices/", invoice_views.invoice_list, name="invoice_list"),
    path("invoices/import/", invoice_views.invoice_import_now, name="invoice_import_now"),
    path("invoices/<int:pk>/", invoice_views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/statement/", invoice_views.invoice_document, name="invoice_document"),
    path("invoices/<int:pk>/reimport/", invoice_views.invoice_reimport, name="invoice_reimport"),
    path(
        "invoices/<int:pk>/customers/<str:tenant_id>/",
        invoice_views.invoice_customer,
        name="invoice_customer",
    ),
    path(
        "invoices/<int:pk>/reconcile/",
        reconciliation_views.invoice_reconcile,
        name="invoice_reconcile",
    ),
    path(
        "reconciliations/",
        reconciliation_views.reconciliation_list,
        name="reconciliation_list",
    ),
    path(
        "reconciliations/<int:pk>/",
        reconciliation_views.reconciliation_detail,
        name="reconciliation_detail",
    ),
    path(
        "reconciliations/<int:pk>/rows/<int:row_pk>/",
        reconciliation_views.reconciliation_row_resolve,
        name="reconciliation_row_resolve",
    ),
    path(
        "reconciliations/<int:pk>/reconciled/",
        reconciliation_views.reconciliation_mark,
        name="reconciliation_mark",
    ),
]
