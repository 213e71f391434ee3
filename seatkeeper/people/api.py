"""Tenant onboarding over the REST API: the same services as the pages, scoped the same way
(another reseller's customer is a 404). Creating calls honour `Idempotency-Key`."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.api.fields import BoundedDateField
from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.people import selectors, services
from seatkeeper.people.models import OnboardingKind, OnboardingStep
from seatkeeper.subscriptions.models import OperationState, SyncStatus


def _customer(request, pk: int) -> Organisation:
    customer = get_organisation_for_user(request.user, pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    return customer


class OnboardingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer = serializers.IntegerField(source="customer_id")
    kind = serializers.ChoiceField(choices=OnboardingKind.choices)
    domain = serializers.CharField()
    tenant_id = serializers.CharField(source="vendor_customer_id")
    step = serializers.ChoiceField(choices=OnboardingStep.choices)
    state = serializers.ChoiceField(choices=OperationState.choices)
    sync_status = serializers.ChoiceField(choices=SyncStatus.choices)
    admin_user_name = serializers.CharField(
        help_text="The administrator created with the tenant; its password goes to the contact "
        "through a one-time link, never through the API"
    )
    mca_accepted_by = serializers.CharField(source="mca_contact")
    mca_email = serializers.EmailField()
    mca_accepted_at = serializers.DateTimeField(allow_null=True)
    mca_confirmed_at = serializers.DateTimeField(allow_null=True)
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by_name")
    created_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)


class TenantOutput(serializers.Serializer):
    tenant_id = serializers.CharField(allow_null=True)
    domain = serializers.CharField(allow_null=True)
    onboarding = OnboardingOutput(allow_null=True)


class AcceptanceInput(serializers.Serializer):
    first_name = serializers.CharField(max_length=50)
    last_name = serializers.CharField(max_length=50)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    accepted_on = BoundedDateField(help_text="The day the customer accepted the agreement")


class TenantCreateInput(serializers.Serializer):
    domain = serializers.CharField(
        max_length=60, help_text="<name> or <name>.onmicrosoft.com (1-27 letters, digits, -)"
    )
    mca = AcceptanceInput(help_text="Who at the customer accepted the Microsoft Customer Agreement")
    # The organisation's profile is used for every field left out.
    company_name = serializers.CharField(max_length=256, required=False)
    contact_first_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    contact_last_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    contact_email = serializers.EmailField(max_length=254, required=False)
    contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=200, required=False)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False)
    postal_code = serializers.CharField(max_length=20, required=False)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(min_length=2, max_length=2, required=False)
    language = serializers.CharField(max_length=8, required=False)


class TenantLinkInput(serializers.Serializer):
    tenant = serializers.CharField(max_length=255, help_text="The tenant id or one of its domains")
    mca = AcceptanceInput(required=False)


class DomainCheckOutput(serializers.Serializer):
    domain = serializers.CharField()
    available = serializers.BooleanField(
        allow_null=True, help_text="true: free; false: taken; null: not a valid name"
    )
    message = serializers.CharField()


class RelationshipRequestOutput(serializers.Serializer):
    url = serializers.URLField()
    sent_to = serializers.EmailField()


def _acceptance(data: dict | None) -> services.AgreementAcceptance | None:
    if not data:
        return None
    return services.AgreementAcceptance(
        first_name=data["first_name"],
        last_name=data["last_name"],
        email=data["email"],
        phone=data.get("phone", ""),
        accepted_at=dt.datetime.combine(data["accepted_on"], dt.time(), tzinfo=dt.UTC),
    )


class TenantApi(APIView):
    @extend_schema(operation_id="customer_tenant_retrieve", responses=TenantOutput)
    def get(self, request, pk: int):
        customer = _customer(request, pk)
        tenant = selectors.microsoft_tenant_of(customer)
        onboarding = selectors.current_onboarding(customer)
        return Response(
            TenantOutput(
                {
                    "tenant_id": tenant.vendor_customer_id if tenant else None,
                    "domain": tenant.domain if tenant else None,
                    "onboarding": onboarding,
                }
            ).data
        )


class DomainCheckApi(APIView):
    @extend_schema(
        operation_id="customer_tenant_domain_check",
        parameters=[OpenApiParameter("domain", str, required=True, description="<name>")],
        responses=DomainCheckOutput,
    )
    def get(self, request, pk: int):
        customer = _customer(request, pk)
        check = services.domain_check(
            actor=request.user,
            customer=customer,
            domain=request.query_params.get("domain", "")[:80],
        )
        return Response(DomainCheckOutput(check).data)


class TenantCreateApi(APIView):
    @extend_schema(
        operation_id="customer_tenant_create",
        request=TenantCreateInput,
        responses={202: OnboardingOutput},
        description="Checks the domain and the address against Microsoft's rules for the "
        "country (each wrong field named in `fields`), then creates the tenant in the "
        "background: follow it with customer_tenant_retrieve.",
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer(request, pk)
        data = TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        profile = services.TenantProfile.of(customer)
        changes = {name: values[name] for name in services.PROFILE_FIELDS if name in values}
        onboarding = services.tenant_create(
            actor=request.user,
            customer=customer,
            domain=values["domain"],
            profile=services.TenantProfile(**{**profile.__dict__, **changes}),
            mca=_acceptance(values["mca"]),
        )
        return Response(OnboardingOutput(onboarding).data, status=status.HTTP_202_ACCEPTED)


class TenantLinkApi(APIView):
    @extend_schema(
        operation_id="customer_tenant_link",
        request=TenantLinkInput,
        responses={202: OnboardingOutput},
        description="Links the customer's existing tenant once it has accepted the reseller "
        "relationship request, in the background.",
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer(request, pk)
        data = TenantLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        onboarding = services.tenant_link(
            actor=request.user,
            customer=customer,
            tenant=values["tenant"],
            mca=_acceptance(values.get("mca")),
        )
        return Response(OnboardingOutput(onboarding).data, status=status.HTTP_202_ACCEPTED)


class RelationshipRequestApi(APIView):
    @extend_schema(
        operation_id="customer_tenant_relationship_request",
        request=None,
        responses={201: RelationshipRequestOutput},
        description="E-mails Partner Center's reseller relationship request link to the "
        "customer's contact, with what to do.",
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer(request, pk)
        url = services.relationship_request_send(actor=request.user, customer=customer)
        return Response(
            RelationshipRequestOutput({"url": url, "sent_to": customer.contact_email}).data,
            status=status.HTTP_201_CREATED,
        )


class OnboardingListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="tenant_onboardings_list", responses=OnboardingOutput(many=True))
    def get(self, request):
        rows = selectors.onboardings_visible_to(request.user).order_by("-pk")
        return paginated(request, self, rows, lambda page: OnboardingOutput(page, many=True).data)


class OnboardingDetailApi(APIView):
    @extend_schema(operation_id="tenant_onboardings_retrieve", responses=OnboardingOutput)
    def get(self, request, pk: int):
        return Response(OnboardingOutput(selectors.get_onboarding_for_user(request.user, pk)).data)


def _action(name: str, service, description: str):
    class ActionApi(APIView):
        @extend_schema(
            operation_id=f"tenant_onboardings_{name}",
            request=None,
            responses=OnboardingOutput,
            description=description,
        )
        def post(self, request, pk: int):
            onboarding = selectors.get_onboarding_for_user(request.user, pk)
            onboarding = service(actor=request.user, onboarding=onboarding)
            return Response(OnboardingOutput(onboarding).data)

    ActionApi.__name__ = f"Onboarding{name.title()}Api"
    return ActionApi


OnboardingRetryApi = _action(
    "retry", services.onboarding_retry, "Send a failed onboarding again from where it stopped."
)
OnboardingCancelApi = _action("cancel", services.onboarding_cancel, "Give up a failed onboarding.")
