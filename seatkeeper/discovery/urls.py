from django.urls import path

from seatkeeper.discovery import views

urlpatterns = [
    path("", views.run_list, name="discovery_runs"),
    path("accounts/<int:account_pk>/start/", views.run_start, name="discovery_start"),
    path("accounts/<int:account_pk>/schedule/", views.schedule_set, name="discovery_schedule"),
    path("runs/<int:pk>/", views.run_detail, name="discovery_run"),
    path("runs/<int:pk>/progress/", views.run_progress, name="discovery_run_progress"),
    path("runs/<int:pk>/stop/", views.run_stop, name="discovery_run_stop"),
    path("runs/<int:pk>/resume/", views.run_resume, name="discovery_run_resume"),
    path("runs/<int:pk>/confirm/", views.run_confirm, name="discovery_run_confirm"),
    path("drift/", views.drift_report, name="discovery_drift"),
    path("unassigned/", views.unassigned_list, name="discovery_unassigned"),
    path("unassigned/assign/", views.assign_bulk, name="discovery_assign_bulk"),
    path("unassigned/<int:pk>/assign/", views.assign_one, name="discovery_assign"),
]
