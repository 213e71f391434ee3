"""Right-sizing in the REST API: the same rows and filters as the page."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.people.rightsizing_views import right_sizing_for
from seatkeeper.pricing.engine import Audience


def _amount(money) -> str | None:
    return None if money is None else str(money.amount)


class IdleSeatsOutput(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription.pk")
    friendly_name = serializers.CharField(source="subscription.friendly_name")
    offer = serializers.CharField(source="subscription.offer.title")
    customer = serializers.IntegerField(source="subscription.customer_id")
    customer_name = serializers.CharField(source="subscription.customer.name")
    commitment_end_date = serializers.DateField(
        source="subscription.commitment_end_date", allow_null=True
    )
    quantity = serializers.IntegerField()
    quantity_at_renewal = serializers.IntegerField()
    assigned = serializers.IntegerField()
    unassigned = serializers.IntegerField(help_text="Seats that could go at renewal")
    renews = serializers.BooleanField()
    term = serializers.CharField(help_text="The term it renews on")
    billing_cycle = serializers.CharField(help_text="The billing cycle it renews on")
    audience = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()
    unit_price = serializers.SerializerMethodField(help_text="Per seat per billing period")
    saving_per_period = serializers.SerializerMethodField()
    saving_over_term = serializers.SerializerMethodField()
    error = serializers.CharField(help_text="Why no price could be given, if so")

    def get_audience(self, row) -> str:
        return self.context["audience"].value

    def get_currency(self, row) -> str | None:
        return row.unit.currency if row.unit is not None else None

    def get_unit_price(self, row) -> str | None:
        return _amount(row.unit)

    def get_saving_per_period(self, row) -> str | None:
        return _amount(row.saving_per_period)

    def get_saving_over_term(self, row) -> str | None:
        return _amount(row.saving_over_term)


class RightSizingApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="right_sizing_list",
        description="Per subscription, the seats paid for and held by nobody, and what reducing "
        "them at renewal would save, priced at the audience asked for (default: the price "
        "your organisation pays); largest saving first.",
        parameters=[
            OpenApiParameter("customer", int),
            OpenApiParameter("subscription", int),
            OpenApiParameter(
                "audience",
                str,
                enum=[audience.value for audience in Audience],
                description="Whose price",
            ),
        ],
        responses=IdleSeatsOutput(many=True),
    )
    def get(self, request):
        result, _scope, _values = right_sizing_for(request.user, request.query_params)
        return paginated(
            request,
            self,
            result.rows,
            lambda page: (
                IdleSeatsOutput(page, many=True, context={"audience": result.audience}).data
            ),
        )
