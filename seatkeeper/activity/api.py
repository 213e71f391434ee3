from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.activity.selectors import activity_in_context, activity_visible_to, filter_activity
from seatkeeper.api.pagination import Pagination, paginated


class ActivityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor_name = serializers.CharField()
    organisation = serializers.IntegerField(source="organisation_id")
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    object_repr = serializers.CharField()
    operation = serializers.CharField()
    details = serializers.JSONField()


class ActivityListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="activity_list",
        parameters=[
            OpenApiParameter("organisation", int),
            OpenApiParameter("operation", str),
            OpenApiParameter("object_type", str),
            OpenApiParameter("q", str),
        ],
        responses=ActivityOutput(many=True),
    )
    def get(self, request):
        params = request.query_params
        if "organisation" in params:
            queryset = activity_in_context(
                request.user, get_organisation_for_user(request.user, params["organisation"])
            )
        else:
            queryset = activity_visible_to(request.user)
        queryset = filter_activity(
            queryset,
            text=params.get("q", ""),
            operation=params.get("operation", ""),
            object_type=params.get("object_type", ""),
        )
        return paginated(
            request, self, queryset, lambda rows_page: ActivityOutput(rows_page, many=True).data
        )
