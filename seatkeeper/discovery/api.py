"""Discovery runs over the REST API: list and read them, start one, stop and resume it. The same
scoping as the pages (the partner's staff; others get 404) and the same services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.fields import id_field
from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.discovery import kinds, selectors, services
from seatkeeper.discovery.models import RunState, Trigger


class KindCounts(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.IntegerField(source="account_id")
    state = serializers.ChoiceField(choices=RunState.choices)
    symbol = serializers.CharField()
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    started_by = serializers.IntegerField(source="started_by_id", allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error_code = serializers.CharField()
    error_message = serializers.CharField(help_text="Why the run ended in error")
    customers_total = serializers.IntegerField(help_text="Customers listed so far")
    customers_done = serializers.IntegerField()
    listed = serializers.BooleanField(help_text="Whether the whole customer list has been read")
    errors = serializers.IntegerField(help_text="Customers that failed (recorded, run went on)")
    calls = serializers.IntegerField(help_text="Requests sent to the vendor, retries included")
    seconds_left = serializers.FloatField(allow_null=True)
    counts = serializers.DictField(
        child=KindCounts(), help_text="Per kind (customers, subscriptions, ...)"
    )
    preview = serializers.BooleanField(
        help_text="A preview writes nothing: its counts are what applying it would do"
    )
    confirmed_run = serializers.IntegerField(
        source="confirmed_run_id",
        allow_null=True,
        help_text="For a confirmed preview, the run that applies it",
    )


def _output(run) -> dict:
    figures = services.run_figures(run)
    return RunOutput(
        {
            "id": run.pk,
            "account_id": run.account_id,
            "state": run.state,
            "symbol": run.symbol,
            "trigger": run.trigger,
            "started_by_id": run.started_by_id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "error_code": run.error_code,
            "error_message": run.error_message,
            "customers_total": figures.customers_total,
            "customers_done": figures.customers_done,
            "listed": figures.listed,
            "errors": figures.errors,
            "calls": figures.calls,
            "seconds_left": figures.seconds_left,
            "counts": figures.counts,
            "preview": run.preview,
            "confirmed_run_id": run.confirmed_run_id,
        }
    ).data


class RunInput(serializers.Serializer):
    account = id_field(help_text="The provider account to discover")
    preview = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only report what the run would create, update and assign; confirm it to apply",
    )


class RunListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="discovery_runs_list", responses=RunOutput(many=True))
    def get(self, request):
        runs = selectors.runs_visible_to(request.user).order_by("-created_at", "-pk")
        return paginated(request, self, runs, lambda page: [_output(run) for run in page])

    @extend_schema(
        operation_id="discovery_runs_create",
        request=RunInput,
        responses={201: RunOutput},
        description="Start a discovery of the account: its customers, tenants and "
        f"subscriptions ({', '.join(module.NAME for module in kinds.kinds())}).",
    )
    @idempotent
    def post(self, request):
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = selectors.get_account_for_discovery(request.user, data.validated_data["account"])
        run = services.run_start(
            actor=request.user, account=account, preview=data.validated_data["preview"]
        )
        return Response(_output(run), status=status.HTTP_201_CREATED)


class RunDetailApi(APIView):
    @extend_schema(operation_id="discovery_runs_retrieve", responses=RunOutput)
    def get(self, request, pk: int):
        return Response(_output(selectors.get_run_for_user(request.user, pk)))


class RunStopApi(APIView):
    @extend_schema(operation_id="discovery_runs_stop", request=None, responses=RunOutput)
    def post(self, request, pk: int):
        run = selectors.get_run_for_user(request.user, pk)
        return Response(_output(services.run_stop(actor=request.user, run=run)))


class RunResumeApi(APIView):
    @extend_schema(
        operation_id="discovery_runs_resume",
        request=None,
        responses=RunOutput,
        description="Continue a stopped or failed run with the customers not done.",
    )
    def post(self, request, pk: int):
        run = selectors.get_run_for_user(request.user, pk)
        return Response(_output(services.run_resume(actor=request.user, run=run)))


class RunConfirmApi(APIView):
    @extend_schema(
        operation_id="discovery_runs_confirm",
        request=None,
        responses={201: RunOutput},
        description="Confirm a completed preview: starts the run that applies it (reading the "
        "vendor again) and returns that run. 409 when the run is no preview, not completed, or "
        "confirmed already.",
    )
    @idempotent
    def post(self, request, pk: int):
        run = selectors.get_run_for_user(request.user, pk)
        applied = services.run_confirm(actor=request.user, run=run)
        return Response(_output(applied), status=status.HTTP_201_CREATED)
