"""Subscriptions over the REST API: one view per operation, the same scoping and services as the
pages. A refusal by rights answers 403, a change made meanwhile 409, a broken rule 400 with the
service's message (seatkeeper.api.errors), another organisation's subscription 404."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.activity.wording import is_customer_viewer
from seatkeeper.api.fields import BoundedDateField, id_field, quantity_field
from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.catalog.selectors import get_offer_for_user
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.validation import clean_query
from seatkeeper.pricing.engine import Audience
from seatkeeper.pricing.quotes import ProposedChange
from seatkeeper.subscriptions import display, selectors, services
from seatkeeper.subscriptions.forms import STATUS_FILTERS, subscription_filters
from seatkeeper.subscriptions.models import RenewalOption, Section, Status, SyncStatus


class ShownPriceOutput(serializers.Serializer):
    audience = serializers.CharField(source="audience.value")
    audience_label = serializers.CharField(source="label")
    unit_price = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()
    explanation = serializers.CharField()
    error = serializers.CharField()

    def get_unit_price(self, price) -> str | None:
        return str(price.unit.amount) if price.unit is not None else None

    def get_total(self, price) -> str | None:
        return str(price.total.amount) if price.total is not None else None

    def get_currency(self, price) -> str | None:
        return price.total.currency if price.total is not None else None


class SubscriptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer = serializers.IntegerField(source="customer_id")
    customer_name = serializers.CharField(source="customer.name")
    reseller = serializers.IntegerField(source="reseller_id", allow_null=True)
    provider = serializers.CharField(source="offer.vendor.name")
    offer = serializers.IntegerField(source="offer_id")
    offer_title = serializers.CharField(source="offer.title")
    section = serializers.CharField(source="offer.kind")
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    friendly_name = serializers.CharField()
    po_number = serializers.CharField()
    external_identifier = serializers.CharField()
    quantity = serializers.IntegerField()
    assigned_seats = serializers.SerializerMethodField()
    term = serializers.CharField()
    billing_cycle = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    is_trial = serializers.BooleanField()
    auto_renew = serializers.BooleanField()
    renewal_option = serializers.ChoiceField(choices=RenewalOption.choices)
    renewal_quantity = serializers.IntegerField(allow_null=True)
    renewal_term = serializers.CharField()
    renewal_billing_cycle = serializers.CharField()
    created_at = serializers.DateTimeField()
    start_date = serializers.DateField()
    commitment_end_date = serializers.DateField(allow_null=True)
    cancellation_allowed_until = serializers.DateTimeField(allow_null=True)
    addon_count = serializers.IntegerField(required=False)
    sync_status = serializers.ChoiceField(choices=SyncStatus.choices)
    sync_error_code = serializers.CharField()
    sync_error_message = serializers.CharField()
    vendor_subscription_id = serializers.CharField()
    vendor_order_id = serializers.CharField()
    version = serializers.IntegerField()
    price = serializers.SerializerMethodField()

    def get_assigned_seats(self, subscription) -> int:
        return selectors.assigned_seats(subscription)

    @extend_schema(responses=ShownPriceOutput)
    def get_price(self, subscription) -> dict | None:
        pricer = self.context.get("pricer")
        if pricer is None:
            return None
        return ShownPriceOutput(pricer.price(subscription)).data


class AudienceQuery(forms.Form):
    audience = forms.ChoiceField(
        choices=[("", ""), *((a.value, a.value) for a in Audience)], required=False
    )


def _output(request, subscriptions, *, many: bool):
    rows = list(subscriptions) if many else [subscriptions]
    requested = clean_query(AudienceQuery, request.query_params)["audience"]
    audience = display.viewer_audience(request.user, requested or None)
    pricer = display.RowPricer(request.user, audience, offer_ids=[row.offer_id for row in rows])
    return SubscriptionOutput(subscriptions, many=many, context={"pricer": pricer}).data


AUDIENCE_PARAMETER = OpenApiParameter(
    "audience", str, enum=[audience.value for audience in Audience], description="Whose price"
)


class SubscriptionListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="subscriptions_list",
        parameters=[
            OpenApiParameter("customer", int),
            OpenApiParameter("status", str, enum=[value for value, _label in STATUS_FILTERS]),
            OpenApiParameter("section", str, enum=Section.values),
            OpenApiParameter("q", str, description="Search name, offer, customer, PO, ids"),
            OpenApiParameter(
                "renews_within",
                int,
                description="Active subscriptions whose term ends within so many days (1-366)",
            ),
            OpenApiParameter(
                "cancellable_within",
                int,
                description="Active subscriptions with seats whose cancellation window closes "
                "within so many hours (1-744)",
            ),
            AUDIENCE_PARAMETER,
        ],
        responses=SubscriptionOutput(many=True),
    )
    def get(self, request):
        filters = subscription_filters(request.query_params)
        customer = None
        if "customer" in request.query_params:
            customer = get_organisation_for_user(request.user, request.query_params["customer"])
        queryset = selectors.filter_subscriptions(
            selectors.subscription_list(request.user, customer=customer), **filters
        )
        return paginated(
            request,
            self,
            queryset.order_by("-created_at", "-pk"),
            lambda rows_page: _output(request, rows_page, many=True),
        )


class SubscriptionDetailApi(APIView):
    @extend_schema(
        operation_id="subscriptions_retrieve",
        parameters=[AUDIENCE_PARAMETER],
        responses=SubscriptionOutput,
    )
    def get(self, request, pk: int):
        subscription = selectors.get_subscription_for_user(request.user, pk)
        return Response(_output(request, subscription, many=False))


def _fresh(request, pk: int):
    return selectors.get_subscription_for_user(request.user, pk)


class OrderLineInput(serializers.Serializer):
    offer = id_field()
    quantity = quantity_field(minimum=1)
    term = serializers.ChoiceField(choices=Term.choices)
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    friendly_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    parent = id_field(required=False, allow_null=True)


class OrderInput(serializers.Serializer):
    customer = id_field()
    lines = OrderLineInput(many=True, allow_empty=False, max_length=50)
    po_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    start_date = BoundedDateField(required=False, allow_null=True)


class OrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer = serializers.IntegerField(source="customer_id")
    po_number = serializers.CharField()
    created_at = serializers.DateTimeField()
    subscriptions = serializers.SerializerMethodField()

    def get_subscriptions(self, order) -> list[int]:
        return list(order.subscriptions.order_by("pk").values_list("pk", flat=True))


class OrderApi(APIView):
    @extend_schema(operation_id="orders_create", request=OrderInput, responses={201: OrderOutput})
    @idempotent
    def post(self, request):
        data = OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = get_organisation_for_user(request.user, values["customer"])
        if customer.kind != OrganisationKind.CUSTOMER:
            raise ServiceError(_("Subscriptions belong to customers."), field="customer")
        lines = []
        for line in values["lines"]:
            parent = None
            if line.get("parent"):
                parent = selectors.get_subscription_for_user(request.user, line["parent"])
            lines.append(
                services.OrderLine(
                    offer=get_offer_for_user(request.user, line["offer"]),
                    quantity=line["quantity"],
                    term=line["term"],
                    billing_cycle=line["billing_cycle"],
                    friendly_name=line.get("friendly_name", ""),
                    parent=parent,
                )
            )
        order = services.order_place(
            actor=request.user,
            customer=customer,
            lines=lines,
            po_number=values.get("po_number", ""),
            start_date=values.get("start_date"),
        )
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class VersionInput(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you saw; a later change answers 409."
    )


class QuantityInput(VersionInput):
    quantity = quantity_field(minimum=1)


def _changed(request, subscription):
    subscription = selectors.get_subscription_for_user(request.user, subscription.pk)
    return Response(_output(request, subscription, many=False))


class SubscriptionQuantityApi(APIView):
    @extend_schema(
        operation_id="subscriptions_change_quantity",
        request=QuantityInput,
        responses=SubscriptionOutput,
    )
    def post(self, request, pk: int):
        subscription = _fresh(request, pk)
        data = QuantityInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.subscription_change_quantity(
            actor=request.user,
            subscription=subscription,
            quantity=data.validated_data["quantity"],
            expected_version=data.validated_data.get("version"),
        )
        return _changed(request, subscription)


def _lifecycle_view(name: str, service, summary: str):
    class LifecycleApi(APIView):
        @extend_schema(
            operation_id=f"subscriptions_{name}",
            summary=summary,
            request=VersionInput,
            responses=SubscriptionOutput,
        )
        def post(self, request, pk: int):
            subscription = _fresh(request, pk)
            data = VersionInput(data=request.data)
            data.is_valid(raise_exception=True)
            service(
                actor=request.user,
                subscription=subscription,
                expected_version=data.validated_data.get("version"),
            )
            return _changed(request, subscription)

    LifecycleApi.__name__ = LifecycleApi.__qualname__ = f"Subscription{name.title()}Api"
    return LifecycleApi


SubscriptionSuspendApi = _lifecycle_view(
    "suspend", services.subscription_suspend, "Suspend a subscription"
)
SubscriptionReactivateApi = _lifecycle_view(
    "reactivate", services.subscription_reactivate, "Reactivate a suspended subscription"
)
SubscriptionCancelApi = _lifecycle_view(
    "cancel", services.subscription_cancel, "Cancel inside the vendor's cancellation window"
)


class RenewalInput(VersionInput):
    renewal_option = serializers.ChoiceField(choices=RenewalOption.choices, required=False)
    schedule = serializers.BooleanField(
        required=False, default=False, help_text="Set the changes at renewal below."
    )
    renewal_quantity = quantity_field(minimum=1, required=False, allow_null=True)
    renewal_term = serializers.ChoiceField(
        choices=[("", ""), *Term.choices], required=False, allow_blank=True
    )
    renewal_billing_cycle = serializers.ChoiceField(
        choices=[("", ""), *BillingCycle.choices], required=False, allow_blank=True
    )


class SubscriptionRenewalApi(APIView):
    @extend_schema(
        operation_id="subscriptions_renewal",
        summary="Renewal option and the changes that take effect at renewal",
        request=RenewalInput,
        responses=SubscriptionOutput,
    )
    def post(self, request, pk: int):
        subscription = _fresh(request, pk)
        data = RenewalInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = values.get("version")
        if "renewal_option" in values:
            subscription = services.subscription_set_renewal(
                actor=request.user,
                subscription=subscription,
                option=values["renewal_option"],
                expected_version=version,
            )
            version = subscription.version if version is not None else None
        if values["schedule"]:
            services.subscription_schedule_renewal(
                actor=request.user,
                subscription=subscription,
                quantity=values.get("renewal_quantity"),
                term=values.get("renewal_term", ""),
                billing_cycle=values.get("renewal_billing_cycle", ""),
                expected_version=version,
            )
        return _changed(request, subscription)


class AttemptOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(source="by_name", help_text='"worker", or the login of a person')
    outcome = serializers.CharField()
    vendor_status = serializers.CharField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()


class OperationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    subscription = serializers.IntegerField(source="subscription_id")
    sequence = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by_name")
    requested_at = serializers.DateTimeField()
    details = serializers.SerializerMethodField()
    attempts = serializers.IntegerField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    # Every try and decision, kept across retries (`attempts` is the worker's current count).
    attempt_history = AttemptOutput(source="attempt_log.all", many=True)

    def get_details(self, operation) -> str:
        return display.operation_details(operation)


class OperationRetryApi(APIView):
    @extend_schema(operation_id="operations_retry", request=None, responses=OperationOutput)
    def post(self, request, pk: int):
        operation = selectors.get_operation_for_user(request.user, pk)
        operation = services.operation_retry(actor=request.user, operation=operation)
        return Response(OperationOutput(operation).data)


class OperationWithdrawApi(APIView):
    @extend_schema(operation_id="operations_withdraw", request=None, responses=OperationOutput)
    def post(self, request, pk: int):
        """Withdraw an operation the vendor refused or a person rejected: the subscription goes
        back to what the vendor has and its later operations go on."""
        operation = selectors.get_operation_for_user(request.user, pk)
        operation = services.operation_withdraw(actor=request.user, operation=operation)
        return Response(OperationOutput(operation).data)


class SubscriptionHistoryApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="subscriptions_history", responses=OperationOutput(many=True))
    def get(self, request, pk: int):
        subscription = _fresh(request, pk)
        return paginated(
            request,
            self,
            selectors.history(subscription).prefetch_related("attempt_log"),
            lambda rows_page: OperationOutput(rows_page, many=True).data,
        )


class ChangeQuoteInput(serializers.Serializer):
    quantity = quantity_field(required=False)
    term = serializers.ChoiceField(choices=Term.choices, required=False)
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices, required=False)
    audience = serializers.ChoiceField(choices=[a.value for a in Audience], required=False)


class ChangeChargeOutput(serializers.Serializer):
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=4)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    amount = serializers.SerializerMethodField()
    explanation = serializers.CharField()

    def get_amount(self, charge) -> str:
        return str(charge.amount.amount)


class ChangeQuoteOutput(serializers.Serializer):
    audience = serializers.CharField()
    audience_label = serializers.SerializerMethodField()
    currency = serializers.CharField()
    current_periodic_total = serializers.SerializerMethodField()
    new_periodic_total = serializers.SerializerMethodField()
    adjustment_now = serializers.SerializerMethodField()
    takes_effect_on = serializers.DateField()
    lines = ChangeChargeOutput(many=True)
    notes = serializers.ListField(child=serializers.CharField())

    def get_audience_label(self, quote) -> str:
        return Audience(quote.audience).label

    def get_current_periodic_total(self, quote) -> str:
        return str(quote.current_periodic_total.amount)

    def get_new_periodic_total(self, quote) -> str:
        return str(quote.new_periodic_total.amount)

    def get_adjustment_now(self, quote) -> str:
        return str(quote.adjustment_now.amount)


class SubscriptionQuoteApi(APIView):
    @extend_schema(
        operation_id="subscriptions_quote",
        summary="Preview a change: new periodic total and what is due now, explained",
        request=ChangeQuoteInput,
        responses=ChangeQuoteOutput,
    )
    def post(self, request, pk: int):
        subscription = _fresh(request, pk)
        data = ChangeQuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        audience = display.viewer_audience(request.user, values.get("audience"))
        quote = services.quote(
            subscription,
            ProposedChange(
                quantity=values.get("quantity"),
                term=values.get("term"),
                billing_cycle=values.get("billing_cycle"),
            ),
            audience=audience,
            reveal_sources=not is_customer_viewer(request.user),
        )
        return Response(ChangeQuoteOutput(quote).data)
