"""A customer's directory users and their licences over the REST API: the same selectors and
services as the pages, scoped the same way (another reseller's customer is a 404)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.core.validation import InvalidQuery
from seatkeeper.people import directory, licences, selectors
from seatkeeper.people.api import _customer
from seatkeeper.people.models import LicenceAction, UserStatus
from seatkeeper.subscriptions.models import OperationState, Subscription, SyncStatus


class LicenceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku_id = serializers.CharField(source="sku.sku_id")
    name = serializers.CharField(source="sku.name")
    assigned_at = serializers.DateTimeField()


class DirectoryUserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    vendor_user_id = serializers.CharField()
    display_name = serializers.CharField()
    user_principal_name = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    usage_location = serializers.CharField()
    status = serializers.ChoiceField(choices=UserStatus.choices)
    sync_status = serializers.ChoiceField(choices=SyncStatus.choices)
    synced_at = serializers.DateTimeField(allow_null=True)
    licences = LicenceOutput(many=True, source="licences.all")


class SyncOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()


class LicenceChangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.IntegerField(source="user_id")
    action = serializers.ChoiceField(choices=LicenceAction.choices)
    sku_id = serializers.CharField(source="sku.sku_id")
    subscription = serializers.IntegerField(source="subscription_id", allow_null=True)
    state = serializers.ChoiceField(choices=OperationState.choices)


class LicenceAssignInput(serializers.Serializer):
    subscription = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class CustomerUsersApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="customer_users_list",
        parameters=[
            OpenApiParameter("show", str, enum=list(selectors.USER_FILTERS)),
            OpenApiParameter("q", str, description="Part of the name or user principal name"),
        ],
        responses=DirectoryUserOutput(many=True),
    )
    def get(self, request, pk: int):
        customer = _customer(request, pk)
        show = request.query_params.get("show", "all")
        if show not in selectors.USER_FILTERS:
            raise InvalidQuery(
                {
                    "show": [
                        _("Choose one of: %(choices)s.")
                        % {"choices": ", ".join(selectors.USER_FILTERS)}
                    ]
                }
            )
        rows = selectors.directory_users(
            customer, show=show, search=request.query_params.get("q", "")
        ).order_by("display_name", "pk")
        return paginated(
            request, self, rows, lambda page: DirectoryUserOutput(page, many=True).data
        )


class CustomerUsersSyncApi(APIView):
    @extend_schema(
        operation_id="customer_users_sync",
        request=None,
        responses=SyncOutput,
        description="Reads the customer's users and licences from the vendor now.",
    )
    def post(self, request, pk: int):
        customer = _customer(request, pk)
        counts = directory.users_sync(actor=request.user, customer=customer)
        return Response(
            {name: counts.get(name, 0) for name in ("created", "updated", "unchanged", "removed")}
        )


class UserLicencesApi(APIView):
    @extend_schema(
        operation_id="customer_user_licences_assign",
        request=LicenceAssignInput,
        responses={202: LicenceChangeOutput},
        description="Gives the user a licence from the subscription; sent to the vendor in the "
        "background.",
    )
    @idempotent
    def post(self, request, pk: int, user_pk: int):
        customer = _customer(request, pk)
        user = selectors.get_directory_user(customer, user_pk)
        data = LicenceAssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = (
            Subscription.objects.filter(
                customer=customer, tenant_id=user.tenant_id, pk=data.validated_data["subscription"]
            )
            .select_related("offer")
            .first()
        )
        if subscription is None:
            raise Http404("No such subscription")
        change = licences.licence_assign(actor=request.user, user=user, subscription=subscription)
        return Response(LicenceChangeOutput(change).data, status=status.HTTP_202_ACCEPTED)


class UserLicenceApi(APIView):
    @extend_schema(
        operation_id="customer_user_licences_remove",
        request=None,
        responses={202: LicenceChangeOutput},
        description="Takes the licence back; sent to the vendor in the background.",
    )
    def delete(self, request, pk: int, user_pk: int, licence_pk: int):
        customer = _customer(request, pk)
        user = selectors.get_directory_user(customer, user_pk)
        licence = user.licences.filter(pk=licence_pk).select_related("sku").first()
        if licence is None:
            raise Http404("No such licence")
        change = licences.licence_remove(actor=request.user, licence=licence)
        return Response(LicenceChangeOutput(change).data, status=status.HTTP_202_ACCEPTED)
