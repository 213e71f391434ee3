from django.urls import path

from seatkeeper.discovery import api

urlpatterns = [
    path("discovery-runs/", api.RunListApi.as_view(), name="api_discovery_runs"),
    path("discovery-runs/<int:pk>/", api.RunDetailApi.as_view(), name="api_discovery_run"),
    path("discovery-runs/<int:pk>/stop/", api.RunStopApi.as_view(), name="api_discovery_run_stop"),
    path(
        "discovery-runs/<int:pk>/confirm/",
        api.RunConfirmApi.as_view(),
        name="api_discovery_run_confirm",
    ),
    path(
        "discovery-runs/<int:pk>/resume/",
        api.RunResumeApi.as_view(),
        name="api_discovery_run_resume",
    ),
]
