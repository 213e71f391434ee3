from django.urls import path

from seatkeeper.billing import charge_views, invoice_views

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
]
