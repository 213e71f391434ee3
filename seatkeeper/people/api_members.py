"""A manual vendor's members and bulk provisioning over the REST API: the same services as the
pages (`people.members`, `people.bulk`), scoped the same way (another reseller's customer, or a
vendor the customer has no subscription of, is a 404)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.people import bulk, members
from seatkeeper.people.member_views import MAX_UPLOAD, _subscriptions
from seatkeeper.people.models import ImportAction, Member, MemberImport
from seatkeeper.subscriptions.models import Subscription

ID = {"min_value": 1, "max_value": 2**31 - 1}


def _scope(request, pk: int, vendor_pk: int):
    from seatkeeper.people.member_views import _scope as scope

    return scope(request, pk, vendor_pk)


class MemberSeatOutput(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription_id")
    name = serializers.CharField(source="subscription.friendly_name")
    kind = serializers.CharField(source="subscription.offer.kind")
    assigned_at = serializers.DateTimeField()


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user_name = serializers.CharField()
    display_name = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()
    seats = MemberSeatOutput(many=True, source="seats.all")


class MemberInput(serializers.Serializer):
    user_name = serializers.CharField(max_length=255)
    display_name = serializers.CharField(max_length=256)
    first_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    email = serializers.EmailField(help_text="Where the one-time password link is sent")
    password = serializers.CharField(
        max_length=256, required=False, allow_blank=True, help_text="Empty: one is generated"
    )
    subscriptions = serializers.ListField(
        child=serializers.IntegerField(**ID), max_length=50, required=False
    )


class MemberSeatsInput(serializers.Serializer):
    subscriptions = serializers.ListField(
        child=serializers.IntegerField(**ID),
        max_length=50,
        help_text="Every subscription the member should hold a seat of: one service at most "
        "and options compatible with it",
    )


class MemberImportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    file_name = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True)


class MemberImportLineOutput(serializers.Serializer):
    number = serializers.IntegerField()
    user_name = serializers.CharField()
    action = serializers.ChoiceField(choices=ImportAction.choices)
    message = serializers.CharField()
    outcome = serializers.CharField(help_text="Empty until applied")
    outcome_message = serializers.CharField()


class MemberImportInput(serializers.Serializer):
    file = serializers.FileField(
        max_length=255, allow_empty_file=False, help_text="The members file, CSV or XLSX"
    )

    def validate_file(self, upload):
        if upload.size > MAX_UPLOAD:
            raise serializers.ValidationError("The file is larger than 20 MB.")
        return upload


def _picked(customer, vendor, ids) -> list[Subscription]:
    wanted = set(ids or ())
    found = [s for s in _subscriptions(customer, vendor) if s.pk in wanted]
    if len(found) != len(wanted):
        raise ServiceError(
            _("Name only this customer's active subscriptions of the vendor."),
            field="subscriptions",
        )
    return found


def _member(customer, vendor, member_pk: int) -> Member:
    member = Member.objects.filter(customer=customer, vendor=vendor, pk=member_pk).first()
    if member is None:
        raise Http404("No such member")
    return member


class MembersApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="customer_members_list", responses=MemberOutput(many=True))
    def get(self, request, pk: int, vendor_pk: int):
        customer, vendor = _scope(request, pk, vendor_pk)
        rows = (
            Member.objects.filter(customer=customer, vendor=vendor)
            .prefetch_related("seats__subscription__offer")
            .order_by("display_name", "pk")
        )
        return paginated(request, self, rows, lambda page: MemberOutput(page, many=True).data)

    @extend_schema(
        operation_id="customer_members_create",
        request=MemberInput,
        responses={201: MemberOutput},
        description="Adds a member with its seats; its password reaches `email` through a "
        "one-time link.",
    )
    @idempotent
    def post(self, request, pk: int, vendor_pk: int):
        customer, vendor = _scope(request, pk, vendor_pk)
        data = MemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        member = members.member_create(
            actor=request.user,
            customer=customer,
            vendor=vendor,
            values=values,
            password=values.pop("password", ""),
            subscriptions=_picked(customer, vendor, values.pop("subscriptions", [])),
        )
        return Response(MemberOutput(member).data, status=status.HTTP_201_CREATED)


class MemberApi(APIView):
    @extend_schema(operation_id="customer_member_retrieve", responses=MemberOutput)
    def get(self, request, pk: int, vendor_pk: int, member_pk: int):
        customer, vendor = _scope(request, pk, vendor_pk)
        return Response(MemberOutput(_member(customer, vendor, member_pk)).data)

    @extend_schema(operation_id="customer_member_delete", responses={204: None})
    def delete(self, request, pk: int, vendor_pk: int, member_pk: int):
        customer, vendor = _scope(request, pk, vendor_pk)
        members.member_delete(actor=request.user, member=_member(customer, vendor, member_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberSeatsApi(APIView):
    @extend_schema(
        operation_id="customer_member_seats_set",
        request=MemberSeatsInput,
        responses=MemberOutput,
        description="Gives the member exactly these seats, all or none.",
    )
    def put(self, request, pk: int, vendor_pk: int, member_pk: int):
        customer, vendor = _scope(request, pk, vendor_pk)
        member = _member(customer, vendor, member_pk)
        data = MemberSeatsInput(data=request.data)
        data.is_valid(raise_exception=True)
        members.member_seats_set(
            actor=request.user,
            member=member,
            subscriptions=_picked(customer, vendor, data.validated_data["subscriptions"]),
        )
        return Response(MemberOutput(_member(customer, vendor, member_pk)).data)


class MemberImportsApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="customer_member_imports_preview",
        request=MemberImportInput,
        responses={201: MemberImportOutput},
        description="Reads a bulk provisioning file and records what each line will do; "
        "changes no member. Apply it next.",
    )
    @idempotent
    def post(self, request, pk: int, vendor_pk: int):
        customer, vendor = _scope(request, pk, vendor_pk)
        data = MemberImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        member_import = bulk.member_import_preview(
            actor=request.user,
            customer=customer,
            vendor=vendor,
            file_name=upload.name,
            stream=upload,
        )
        return Response(MemberImportOutput(member_import).data, status=status.HTTP_201_CREATED)


def _import(request, pk: int, vendor_pk: int, import_pk: int) -> MemberImport:
    customer, vendor = _scope(request, pk, vendor_pk)
    member_import = MemberImport.objects.filter(
        customer=customer, vendor=vendor, pk=import_pk
    ).first()
    if member_import is None:
        raise Http404("No such import")
    return member_import


class MemberImportApi(APIView):
    @extend_schema(operation_id="customer_member_import_retrieve", responses=MemberImportOutput)
    def get(self, request, pk: int, vendor_pk: int, import_pk: int):
        return Response(MemberImportOutput(_import(request, pk, vendor_pk, import_pk)).data)


class MemberImportLinesApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="customer_member_import_lines",
        responses=MemberImportLineOutput(many=True),
        description="Each line with what the preview said and, once applied, its outcome.",
    )
    def get(self, request, pk: int, vendor_pk: int, import_pk: int):
        member_import = _import(request, pk, vendor_pk, import_pk)
        rows = member_import.lines.order_by("number")
        return paginated(
            request, self, rows, lambda page: MemberImportLineOutput(page, many=True).data
        )


class MemberImportApplyApi(APIView):
    @extend_schema(
        operation_id="customer_member_import_apply",
        request=None,
        responses=MemberImportOutput,
        description="Applies every valid line, each completely or not at all (409: applied "
        "already).",
    )
    def post(self, request, pk: int, vendor_pk: int, import_pk: int):
        member_import = _import(request, pk, vendor_pk, import_pk)
        if not members.can_manage_members(request.user, member_import.customer):
            raise PermissionRefused(_("You may not change this customer's members."))
        applied = bulk.member_import_apply(actor=request.user, member_import=member_import)
        return Response(MemberImportOutput(applied).data)
