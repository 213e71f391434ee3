"""The catalog over the REST API: vendors, offers, refreshes and manual imports."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.catalog import permissions, selectors, services, tasks
from seatkeeper.catalog.forms import offer_filters
from seatkeeper.catalog.models import OfferKind, OfferStatus, Term, VendorKind
from seatkeeper.core.errors import ServiceError


class VendorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    country = serializers.CharField()
    segment = serializers.CharField()
    is_active = serializers.BooleanField()


class OfferTermOutput(serializers.Serializer):
    term = serializers.CharField()
    billing_cycle = serializers.CharField()
    description = serializers.CharField()
    is_available = serializers.BooleanField()


class OfferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    vendor = serializers.IntegerField(source="vendor_id")
    vendor_name = serializers.CharField(source="vendor.name")
    external_id = serializers.CharField()
    catalog_item_id = serializers.CharField()
    item_code = serializers.CharField()
    title = serializers.CharField()
    product_title = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=OfferKind.choices)
    category = serializers.CharField()
    product_group = serializers.CharField()
    unit_type = serializers.CharField()
    minimum_quantity = serializers.IntegerField()
    maximum_quantity = serializers.IntegerField(allow_null=True)
    seats_within_base = serializers.BooleanField(
        help_text="An add-on whose seats may not outnumber its base subscription's"
    )
    is_trial_available = serializers.BooleanField()
    segment = serializers.CharField()
    country = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=OfferStatus.choices)
    is_purchasable = serializers.BooleanField()
    terms = OfferTermOutput(many=True, source="terms.all")
    base_offers = serializers.ListField(
        child=serializers.IntegerField(), source="base_offer_ids", help_text="Add-on attaches to"
    )


class RefreshOutput(serializers.Serializer):
    id = serializers.IntegerField()
    vendor = serializers.IntegerField(source="vendor_id")
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    new_count = serializers.IntegerField()
    changed_count = serializers.IntegerField()
    price_changed_count = serializers.IntegerField()
    withdrawn_count = serializers.IntegerField()
    unchanged_count = serializers.IntegerField()
    error = serializers.CharField()


class VendorListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="vendors_list", responses=VendorOutput(many=True))
    def get(self, request):
        vendors = selectors.vendors_visible_to(request.user).order_by("name", "pk")
        return paginated(request, self, vendors, lambda page: VendorOutput(page, many=True).data)


class OfferListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="offers_list",
        parameters=[
            OpenApiParameter("q", str, description="Search name, product, item code"),
            OpenApiParameter("vendor", int),
            OpenApiParameter("category", str),
            OpenApiParameter("kind", str, enum=OfferKind.values),
            OpenApiParameter("term", str, enum=Term.values),
            OpenApiParameter("status", str, enum=OfferStatus.values),
        ],
        responses=OfferOutput(many=True),
    )
    def get(self, request):
        queryset = selectors.search_offers(
            selectors.offers_visible_to(request.user), **offer_filters(request.query_params)
        ).prefetch_related("terms", "base_offers")
        return paginated(
            request,
            self,
            queryset.order_by("title", "pk"),
            lambda rows_page: OfferOutput(rows_page, many=True).data,
        )


class OfferDetailApi(APIView):
    @extend_schema(operation_id="offers_retrieve", responses=OfferOutput)
    def get(self, request, pk: int):
        return Response(OfferOutput(selectors.get_offer_for_user(request.user, pk)).data)


class VendorRefreshApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="vendors_refresh",
        request=None,
        responses={202: None},
        description="Start an import of the vendor's catalog in the worker; follow it with "
        "vendors_refreshes_list.",
    )
    @idempotent
    def post(self, request, pk: int):
        vendor = selectors.get_vendor_for_user(request.user, pk)
        if not permissions.can_manage_catalog(request.user, vendor.organisation):
            raise PermissionDenied("Only the partner's cloud admins manage the catalog.")
        if vendor.kind != VendorKind.API:
            raise ServiceError("Only a connected vendor's catalog is imported from the vendor.")
        transaction.on_commit(
            partial(tasks.refresh_vendor_catalog.enqueue, vendor_id=vendor.pk,
                    actor_id=request.user.pk)
        )  # fmt: skip
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="vendors_refreshes_list", responses=RefreshOutput(many=True))
    def get(self, request, pk: int):
        vendor = selectors.get_vendor_for_user(request.user, pk)
        refreshes = vendor.refreshes.order_by("-started_at", "-pk")
        return paginated(request, self, refreshes, lambda page: RefreshOutput(page, many=True).data)


class OfferImportInput(serializers.Serializer):
    csv = serializers.CharField(
        help_text="The offers file: " + ",".join(services.OFFER_CSV_COLUMNS), max_length=2_000_000
    )


class VendorOfferImportApi(APIView):
    @extend_schema(
        operation_id="vendors_offers_import",
        request=OfferImportInput,
        responses={201: RefreshOutput},
    )
    @idempotent
    def post(self, request, pk: int):
        vendor = selectors.get_vendor_for_user(request.user, pk)
        data = OfferImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        refresh = services.offers_csv_import(
            actor=request.user, vendor=vendor, text=data.validated_data["csv"]
        )
        return Response(RefreshOutput(refresh).data, status=status.HTTP_201_CREATED)
