"""Reconciliation over the REST API: the reconciled periods (list and detail), their
difference rows, their seats billed against seats assigned, and marking a period reconciled.

Partner staff only (`permissions.can_read_invoices`): anyone else is refused (403) on the list
and answered 404 for one period, as another partner's period is. Marking reconciled is for the
partner's acting staff (cloud admins and partner operators): a read-only login gets 403; a
period already reconciled, or with differences neither explained nor accepted, 409. Thin:
reads and writes through `reconciliation`. Amounts are decimal strings, never floats."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.billing import permissions, reconciliation
from seatkeeper.billing.models import (
    LikelyCause,
    Outcome,
    ReconciliationState,
    Resolution,
    SeatSource,
)
from seatkeeper.core.errors import PermissionRefused
from seatkeeper.core.validation import clean_query

ROW_FILTERS = [*(value for value in Outcome.values if value != Outcome.MATCHED), "open"]


class ListFilter(forms.Form):
    state = forms.ChoiceField(
        choices=[("", ""), *ReconciliationState.choices],
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose open or reconciled.")},
    )


class RowFilter(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("", ""), *((value, value) for value in ROW_FILTERS)],
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Unknown outcome.")},
    )


def _require_reader(request) -> None:
    if not permissions.can_read_invoices(request.user):
        raise PermissionRefused(_("Only the partner's staff see its reconciliations."))


def _amounts(by_currency: dict) -> list[dict]:
    return [
        {"currency": currency, "amount": str(amount)} for currency, amount in by_currency.items()
    ]


class AmountOutput(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()


class CountsOutput(serializers.Serializer):
    matched = serializers.IntegerField()
    amount_differs = serializers.IntegerField()
    quantity_differs = serializers.IntegerField()
    vendor_only = serializers.IntegerField()
    ours_only = serializers.IntegerField()


class SeatTotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    subscriptions = serializers.IntegerField(help_text="Subscriptions with unused seats")
    unused_seats = serializers.CharField()
    over_assigned_seats = serializers.CharField(help_text="Seats assigned beyond the bill")
    unused_cost = serializers.CharField()


class ReconciliationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.IntegerField()
    account_name = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    currencies = serializers.ListField(child=serializers.CharField())
    state = serializers.ChoiceField(choices=ReconciliationState.choices)
    computed_at = serializers.DateTimeField()
    counts = CountsOutput()
    open_differences = serializers.IntegerField(help_text="Neither explained nor accepted")
    total_difference = AmountOutput(many=True, help_text="Vendor minus ours, per currency")
    unused_seat_cost = AmountOutput(many=True)
    reconciled_by = serializers.CharField(allow_blank=True)
    reconciled_at = serializers.DateTimeField(allow_null=True)


class ReconciliationDetailOutput(ReconciliationOutput):
    vendor_lines = serializers.IntegerField()
    charge_lines = serializers.IntegerField()
    tolerance_amount = serializers.CharField()
    tolerance_percent = serializers.CharField()
    seats_compared = serializers.IntegerField()
    seat_totals = SeatTotalOutput(many=True)


def summary_data(summary: reconciliation.Summary) -> dict:
    item = summary.reconciliation
    return {
        "id": item.pk,
        "account": item.account_id,
        "account_name": item.account.name,
        "period_start": item.period_start,
        "period_end": item.period_end,
        "currencies": summary.currencies,
        "state": item.state,
        "computed_at": item.computed_at,
        "counts": summary.counts,
        "open_differences": summary.open,
        "total_difference": _amounts(summary.differences),
        "unused_seat_cost": _amounts(summary.unused_costs),
        "reconciled_by": item.reconciled_by_name,
        "reconciled_at": item.reconciled_at,
    }


def detail_data(item) -> dict:
    (summary,) = reconciliation.summaries([item])
    return {
        **summary_data(summary),
        "vendor_lines": item.vendor_lines,
        "charge_lines": item.charge_lines,
        "tolerance_amount": str(item.tolerance_amount),
        "tolerance_percent": str(item.tolerance_percent),
        "seats_compared": item.seats_compared,
        "seat_totals": [
            {
                "currency": total["currency"],
                "subscriptions": total["subscriptions"],
                "unused_seats": str(total["unused_seats"]),
                "over_assigned_seats": str(total["over_assigned_seats"]),
                "unused_cost": str(total["unused_cost"]),
            }
            for total in reconciliation.seat_totals(item)
        ],
    }


class ReconciliationListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="billing_reconciliations",
        parameters=[
            OpenApiParameter("state", str, enum=ReconciliationState.values, required=False),
        ],
        responses=ReconciliationOutput(many=True),
    )
    def get(self, request):
        _require_reader(request)
        query = clean_query(ListFilter, request.query_params)
        items = reconciliation.reconciliations_visible_to(request.user)
        if query.get("state"):
            items = items.filter(state=query["state"])
        items = items.order_by("-period_start", "-period_end", "account_id", "pk")
        return paginated(
            request,
            self,
            items,
            lambda page: (
                ReconciliationOutput(
                    [summary_data(summary) for summary in reconciliation.summaries(list(page))],
                    many=True,
                ).data
            ),
        )


class ReconciliationDetailApi(APIView):
    @extend_schema(operation_id="billing_reconciliation", responses=ReconciliationDetailOutput)
    def get(self, request, pk: int):
        item = reconciliation.get_reconciliation_for_user(request.user, pk)
        return Response(ReconciliationDetailOutput(detail_data(item)).data)


class ReconciliationRowOutput(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    cause = serializers.ChoiceField(choices=LikelyCause.choices, allow_blank=True)
    subscription = serializers.IntegerField(allow_null=True, source="subscription_id")
    vendor_subscription_id = serializers.CharField()
    customer_tenant_id = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    currency = serializers.CharField()
    vendor_quantity = serializers.CharField(allow_null=True)
    our_quantity = serializers.CharField(allow_null=True)
    vendor_unit_price = serializers.CharField(allow_null=True)
    our_unit_price = serializers.CharField(allow_null=True)
    vendor_amount = serializers.CharField()
    our_amount = serializers.CharField()
    difference = serializers.CharField()
    resolution = serializers.ChoiceField(choices=Resolution.choices, allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    resolved_by = serializers.CharField(allow_blank=True, source="resolved_by_name")
    resolved_at = serializers.DateTimeField(allow_null=True)


class ReconciliationRowListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="billing_reconciliation_rows",
        parameters=[OpenApiParameter("outcome", str, enum=ROW_FILTERS, required=False)],
        responses=ReconciliationRowOutput(many=True),
    )
    def get(self, request, pk: int):
        item = reconciliation.get_reconciliation_for_user(request.user, pk)
        outcome = clean_query(RowFilter, request.query_params).get("outcome")
        rows = item.rows.all()
        if outcome == "open":
            rows = reconciliation.unresolved(rows)
        elif outcome:
            rows = rows.filter(outcome=outcome)
        rows = rows.order_by("outcome", "vendor_subscription_id", "currency", "pk")
        return paginated(
            request, self, rows, lambda page: ReconciliationRowOutput(page, many=True).data
        )


class SeatUsageOutput(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription_id")
    vendor_subscription_id = serializers.CharField()
    customer_tenant_id = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    currency = serializers.CharField()
    billed_seats = serializers.CharField()
    billed_source = serializers.ChoiceField(choices=SeatSource.choices)
    assigned_seats = serializers.IntegerField()
    unused_seats = serializers.CharField(help_text="Negative: assigned beyond the bill")
    unit_price = serializers.CharField(allow_null=True)
    unused_cost = serializers.CharField()


class ReconciliationSeatListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="billing_reconciliation_seats",
        responses=SeatUsageOutput(many=True),
        description="Subscriptions whose seats billed in the period differ from their seats "
        "assigned, the costliest unused seats first.",
    )
    def get(self, request, pk: int):
        item = reconciliation.get_reconciliation_for_user(request.user, pk)
        rows = item.seat_rows.order_by("-unused_cost", "vendor_subscription_id", "currency", "pk")
        return paginated(request, self, rows, lambda page: SeatUsageOutput(page, many=True).data)


class ReconciliationMarkApi(APIView):
    # No Idempotency-Key: marking is no creation and cannot happen twice (a repeat is a 409
    # that names the state, and the period's detail says who marked it and when).
    @extend_schema(
        operation_id="billing_reconciliation_mark",
        request=None,
        responses=ReconciliationDetailOutput,
        description="Mark the period reconciled: every difference must be explained or "
        "accepted first (409 otherwise).",
    )
    def post(self, request, pk: int):
        item = reconciliation.get_reconciliation_for_user(request.user, pk)
        item = reconciliation.mark_reconciled(actor=request.user, reconciliation=item)
        return Response(ReconciliationDetailOutput(detail_data(item)).data)
