"""Billing over the REST API: the billing report, its charge lines and the billing-cycle days.

The same filter as the page (`reports.report_filter`), so the same scoping and the same prices
per viewer: another organisation's report answers 404, a bad month 400 naming the field.
Amounts are decimal strings, never floats."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.accounts.selectors import get_organisation_for_user, organisations_visible_to
from seatkeeper.api.fields import id_field
from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.billing import cycles, reports
from seatkeeper.billing.models import ChargeKind
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.validation import object_id

FILTER_PARAMETERS = [
    OpenApiParameter("organisation", int, description="Whose report (default: your organisation)"),
    OpenApiParameter(
        "period", str, enum=[reports.LAST_MONTH, reports.CUSTOM], description="Date range"
    ),
    OpenApiParameter("from", str, description="First month of a custom range, YYYY-MM"),
    OpenApiParameter("to", str, description="Last month of a custom range, YYYY-MM"),
]


def _decimal(value) -> str | None:
    return None if value is None else str(value)


class PriceOutput(serializers.Serializer):
    column = serializers.CharField()
    label = serializers.CharField()
    unit_price = serializers.CharField(allow_null=True)
    amount = serializers.CharField()


class TotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    amounts = PriceOutput(many=True)


class DetailOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ChargeKind.choices)
    label = serializers.CharField()
    quantity = serializers.IntegerField()
    currency = serializers.CharField()
    prices = PriceOutput(many=True)
    lines = serializers.ListField(child=serializers.IntegerField())


class SubscriptionReportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    friendly_name = serializers.CharField()
    po_number = serializers.CharField()
    offer = serializers.CharField()
    customer = serializers.IntegerField()
    customer_name = serializers.CharField()
    totals = TotalOutput(many=True)
    details = DetailOutput(many=True)


class CycleReportOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    report_date = serializers.DateField()
    billed = serializers.BooleanField()
    totals = TotalOutput(many=True)
    subscriptions = SubscriptionReportOutput(many=True)


class ReportOutput(serializers.Serializer):
    organisation = serializers.IntegerField()
    first = serializers.DateField()
    last = serializers.DateField()
    columns = serializers.ListField(child=serializers.DictField())
    totals = TotalOutput(many=True)
    cycles = CycleReportOutput(many=True)


def _prices(columns, units, amounts) -> list[dict]:
    return [
        {
            "column": column.key,
            "label": column.label,
            "unit_price": _decimal(unit),
            "amount": str(amount),
        }
        for column, unit, amount in zip(columns, units, amounts, strict=True)
    ]


def _totals(columns, totals) -> list[dict]:
    return [
        {"currency": currency, "amounts": _prices(columns, [None] * len(columns), amounts)}
        for currency, amounts in totals.rows()
    ]


def report_data(report: reports.Report) -> dict:
    columns = report.columns
    return {
        "organisation": report.filter.organisation.pk,
        "first": report.filter.first,
        "last": report.filter.last,
        "columns": [{"key": column.key, "label": column.label} for column in columns],
        "totals": _totals(columns, report.totals),
        "cycles": [
            {
                "start": cycle.start,
                "end": cycle.end,
                "report_date": cycle.report_date,
                "billed": cycle.billed,
                "totals": _totals(columns, cycle.totals),
                "subscriptions": [
                    {
                        "id": item.id,
                        "friendly_name": item.name,
                        "po_number": item.po_number,
                        "offer": item.offer,
                        "customer": item.customer_id,
                        "customer_name": item.customer,
                        "totals": _totals(columns, item.totals),
                        "details": [
                            {
                                "kind": detail.kind,
                                "label": detail.label,
                                "quantity": detail.quantity,
                                "currency": detail.currency,
                                "prices": _prices(columns, detail.units, detail.amounts),
                                "lines": [line.id for line in detail.lines],
                            }
                            for detail in item.details
                        ],
                    }
                    for item in cycle.subscriptions
                ],
            }
            for cycle in report.cycles
        ],
    }


class BillingReportApi(APIView):
    @extend_schema(
        operation_id="billing_report",
        parameters=FILTER_PARAMETERS,
        responses=ReportOutput,
    )
    def get(self, request):
        report_filter = reports.report_filter(request.user, request.query_params)
        report = reports.build_report(request.user, report_filter)
        return Response(ReportOutput(report_data(report)).data)


class ChargeLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    cycle_start = serializers.DateField()
    cycle_end = serializers.DateField()
    subscription = serializers.IntegerField()
    friendly_name = serializers.CharField()
    po_number = serializers.CharField()
    customer = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ChargeKind.choices)
    charged_on = serializers.DateField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Excluded: the first day after the service.")
    quantity = serializers.IntegerField()
    currency = serializers.CharField()
    prices = PriceOutput(many=True)
    explanation = serializers.CharField()
    operation = serializers.IntegerField(allow_null=True)
    corrects = serializers.IntegerField(allow_null=True)


def line_data(columns, view: reports.LineView) -> dict:
    line = view.values
    return {
        "id": line["id"],
        "cycle_start": line["cycle__start_date"],
        "cycle_end": line["cycle__end_date"],
        "subscription": line["subscription_id"],
        "friendly_name": line["subscription__friendly_name"],
        "po_number": line["subscription__po_number"],
        "customer": line["customer_id"],
        "kind": line["kind"],
        "charged_on": line["charged_on"],
        "period_start": line["period_start"],
        "period_end": line["period_end"],
        "quantity": line["quantity"],
        "currency": line["currency"],
        "prices": _prices(columns, view.units, view.amounts),
        "explanation": view.explanation,
        "operation": line["operation_id"],
        "corrects": line["corrects_id"],
    }


class ChargeLineListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="billing_charge_lines",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("subscription", int),
            OpenApiParameter("kind", str, enum=ChargeKind.values),
        ],
        responses=ChargeLineOutput(many=True),
    )
    def get(self, request):
        params = request.query_params
        report_filter = reports.report_filter(request.user, params)
        lines = report_filter.lines()
        if params.get("subscription"):
            try:
                lines = lines.filter(subscription_id=object_id(params["subscription"]))
            except ValueError:
                raise ServiceError(_("Give a subscription id."), field="subscription") from None
        if params.get("kind"):
            if params["kind"] not in ChargeKind.values:
                raise ServiceError(_("Unknown charge type."), field="kind")
            lines = lines.filter(kind=params["kind"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            lines.order_by("cycle__end_date", "subscription_id", "charged_on", "pk").values(
                *reports.LINE_FIELDS
            ),
            request,
            self,
        )
        kind = reports.viewer_kind(request.user)
        lists = reports.price_lists(page)
        columns = reports.columns_for(request.user)
        data = [line_data(columns, reports.line_view(line, kind, lists)) for line in page]
        return paginator.get_paginated_response(ChargeLineOutput(data, many=True).data)


class CycleDayInput(serializers.Serializer):
    organisation = id_field()
    day = serializers.IntegerField(min_value=1, max_value=31)
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CycleDayOutput(serializers.Serializer):
    organisation = serializers.IntegerField()
    day = serializers.IntegerField()
    time_zone = serializers.CharField()
    current_cycle_start = serializers.DateField()
    current_cycle_end = serializers.DateField()
    next_day = serializers.IntegerField(allow_null=True)
    next_from = serializers.DateField(allow_null=True)


def cycle_day_data(account) -> dict:
    settings = cycles.settings_of(account)
    today = cycles.today_for(settings)
    current = cycles.setting_on(settings, today)
    cycle = cycles.cycle_holding(settings, today)
    upcoming = [setting for setting in settings if setting.effective_from > today]
    return {
        "organisation": account.pk,
        "day": current.day,
        "time_zone": current.time_zone,
        "current_cycle_start": cycle.start,
        "current_cycle_end": cycle.end,
        "next_day": upcoming[-1].day if upcoming else None,
        "next_from": upcoming[-1].effective_from if upcoming else None,
    }


class CycleDayApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="billing_cycle_days", responses=CycleDayOutput(many=True))
    def get(self, request):
        accounts = organisations_visible_to(request.user).filter(
            kind__in=[OrganisationKind.PARTNER, OrganisationKind.RESELLER]
        )
        return paginated(
            request,
            self,
            accounts.order_by("path"),
            lambda page: CycleDayOutput([cycle_day_data(a) for a in page], many=True).data,
        )

    @extend_schema(
        operation_id="billing_cycle_day_set",
        request=CycleDayInput,
        responses={201: CycleDayOutput},
    )
    @idempotent
    def post(self, request):
        data = CycleDayInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = get_organisation_for_user(request.user, values["organisation"])
        cycles.billing_cycle_day_set(
            actor=request.user,
            organisation=account,
            day=values["day"],
            time_zone=values.get("time_zone", ""),
        )
        return Response(
            CycleDayOutput(cycle_day_data(account)).data, status=status.HTTP_201_CREATED
        )
