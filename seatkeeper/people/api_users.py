"""A customer's directory users and their licences over the REST API: the same selectors and
services as the pages, scoped the same way (another reseller's customer is a 404)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.core.validation import InvalidQuery
from seatkeeper.people import bulk, directory, licences, selectors, users
from seatkeeper.people.api import _customer
from seatkeeper.people.api_members import (
    MemberImportInput,
    MemberImportLineOutput,
    MemberImportOutput,
)
from seatkeeper.people.models import (
    DefaultLicence,
    ImportKind,
    LicenceAction,
    MemberImport,
    UserAction,
    UserStatus,
)
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


class UsersImportInput(MemberImportInput):
    file = serializers.FileField(
        max_length=255, allow_empty_file=False, help_text="The users file, CSV or XLSX"
    )


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


# --- creating, editing, deleting and restoring users; the default licence ------------------------


class DirectoryUserChangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.IntegerField(source="user_id", allow_null=True)
    user_principal_name = serializers.CharField()
    action = serializers.ChoiceField(choices=UserAction.choices)
    state = serializers.ChoiceField(choices=OperationState.choices)
    notice = serializers.CharField(
        help_text="What the person who asked must know, such as why the default licence "
        "was not given"
    )
    password_link_sent_to = serializers.CharField(
        source="credential_recipient",
        help_text="Where the one-time link to the generated password is mailed once the "
        "vendor accepted it; the password itself is never in the API",
    )
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by_name")
    created_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)


def _text(max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, allow_blank=True, trim_whitespace=True, **kwargs
    )


class DirectoryUserCreateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=256)
    first_name = _text(64, required=False, default="")
    last_name = _text(64, required=False, default="")
    user_name = serializers.CharField(
        max_length=113, help_text="alias@domain, on one of the tenant's domains"
    )
    usage_location = _text(
        2, required=False, default="", help_text="Two-letter country; needed before licences"
    )
    password = serializers.CharField(
        max_length=256,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Leave out to have one generated and sent through a one-time link",
    )
    send_password_to = serializers.EmailField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the one-time link to a generated password goes",
    )


class DirectoryUserUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=256, required=False)
    first_name = _text(64, required=False)
    last_name = _text(64, required=False)
    user_name = serializers.CharField(max_length=113, required=False)
    usage_location = _text(2, required=False)


class DirectoryUserPasswordResetInput(serializers.Serializer):
    send_password_to = serializers.EmailField(
        required=False, allow_blank=True, default="", help_text="Where the one-time link goes"
    )
    password = serializers.CharField(
        max_length=256,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Leave out to have one generated and sent through a one-time link",
    )


class DirectoryUserPasswordCheckInput(serializers.Serializer):
    password = serializers.CharField(max_length=256, allow_blank=True, trim_whitespace=False)
    user_name = _text(113, required=False, default="")
    display_name = _text(256, required=False, default="")
    first_name = _text(64, required=False, default="")
    last_name = _text(64, required=False, default="")


class DirectoryUserPasswordCheckOutput(serializers.Serializer):
    acceptable = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())


class DefaultLicenceInput(serializers.Serializer):
    subscription = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class DefaultLicenceOutput(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription_id", allow_null=True)
    name = serializers.CharField(source="subscription.friendly_name", allow_null=True)
    set_by = serializers.CharField(source="set_by_name", allow_null=True)
    set_at = serializers.DateTimeField(allow_null=True)


class UserCreateApi(APIView):
    @extend_schema(
        operation_id="customer_users_create",
        request=DirectoryUserCreateInput,
        responses={202: DirectoryUserChangeOutput},
        description="Creates a user in the customer's tenant; sent to the vendor in the "
        "background. Without a password one is generated and its one-time link mailed to "
        "`send_password_to` once the vendor made the user.",
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer(request, pk)
        data = DirectoryUserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        change = users.user_create(
            actor=request.user,
            customer=customer,
            display_name=values["display_name"],
            first_name=values["first_name"],
            last_name=values["last_name"],
            user_name=values["user_name"],
            usage_location=values["usage_location"],
            password=values.get("password") or None,
            send_password_to=values["send_password_to"],
        )
        return Response(DirectoryUserChangeOutput(change).data, status=status.HTTP_202_ACCEPTED)


class UserDetailApi(APIView):
    @extend_schema(operation_id="customer_users_read", responses=DirectoryUserOutput)
    def get(self, request, pk: int, user_pk: int):
        customer = _customer(request, pk)
        return Response(DirectoryUserOutput(selectors.get_directory_user(customer, user_pk)).data)

    @extend_schema(
        operation_id="customer_users_update",
        request=DirectoryUserUpdateInput,
        responses={202: DirectoryUserChangeOutput},
        description="Changes the fields given; sent to the vendor in the background.",
    )
    def patch(self, request, pk: int, user_pk: int):
        customer = _customer(request, pk)
        user = selectors.get_directory_user(customer, user_pk)
        data = DirectoryUserUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        change = users.user_update(actor=request.user, user=user, **data.validated_data)
        return Response(DirectoryUserChangeOutput(change).data, status=status.HTTP_202_ACCEPTED)


def _user_action(service, description: str, operation_id: str, request_body=None):
    class UserActionApi(APIView):
        @extend_schema(
            operation_id=operation_id,
            request=request_body,
            responses={202: DirectoryUserChangeOutput},
            description=description,
        )
        def post(self, request, pk: int, user_pk: int):
            customer = _customer(request, pk)
            user = selectors.get_directory_user(customer, user_pk)
            values = {}
            if request_body is not None:
                data = request_body(data=request.data)
                data.is_valid(raise_exception=True)
                values = dict(data.validated_data)
                values["password"] = values.get("password") or None
            change = service(actor=request.user, user=user, **values)
            return Response(DirectoryUserChangeOutput(change).data, status=status.HTTP_202_ACCEPTED)

    UserActionApi.__name__ = UserActionApi.__qualname__ = f"{operation_id.title()}Api"
    return UserActionApi


UserDeleteApi = _user_action(
    users.user_delete,
    "Deletes the user (Microsoft keeps it 30 days, during which it can be restored) and frees "
    "its licences.",
    "customer_users_delete",
)
UserRestoreApi = _user_action(
    users.user_restore,
    "Restores a deleted user within Microsoft's 30 days.",
    "customer_users_restore",
)
UserPasswordResetApi = _user_action(
    users.user_password_reset,
    "Gives the user a new password, to change at the next sign-in: generated and sent through "
    "a one-time link to `send_password_to`, or the one given.",
    "customer_users_reset_password",
    DirectoryUserPasswordResetInput,
)


class CustomerUsersCollectionApi(CustomerUsersApi, UserCreateApi):
    """GET lists the customer's users, POST creates one."""


class PasswordCheckApi(APIView):
    @extend_schema(
        operation_id="customer_users_password_check",
        request=DirectoryUserPasswordCheckInput,
        responses=DirectoryUserPasswordCheckOutput,
        description="Says whether a password meets the policy, and why not. Nothing is kept.",
    )
    def post(self, request, pk: int):
        _customer(request, pk)
        data = DirectoryUserPasswordCheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        problems = users.password_problems(values.pop("password"), **values)
        return Response({"acceptable": not problems, "problems": problems})


class DefaultLicenceApi(APIView):
    @extend_schema(operation_id="customer_default_licence_read", responses=DefaultLicenceOutput)
    def get(self, request, pk: int):
        customer = _customer(request, pk)
        row = DefaultLicence.objects.select_related("subscription").filter(customer=customer)
        return Response(_default_output(row.first()))

    @extend_schema(
        operation_id="customer_default_licence_set",
        request=DefaultLicenceInput,
        responses=DefaultLicenceOutput,
        description="Marks the subscription as the customer's default licence: new users get it "
        "while seats remain.",
    )
    def put(self, request, pk: int):
        customer = _customer(request, pk)
        data = DefaultLicenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = (
            Subscription.objects.filter(customer=customer, pk=data.validated_data["subscription"])
            .select_related("offer", "customer")
            .first()
        )
        if subscription is None:
            raise Http404("No such subscription")
        row = users.default_licence_set(actor=request.user, subscription=subscription)
        return Response(_default_output(row))

    @extend_schema(
        operation_id="customer_default_licence_unset",
        request=None,
        responses={204: None},
        description="No default licence any more: new users get none.",
    )
    def delete(self, request, pk: int):
        customer = _customer(request, pk)
        users.default_licence_unset(actor=request.user, customer=customer)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _default_output(row: DefaultLicence | None) -> dict:
    if row is None:
        return {"subscription": None, "name": None, "set_by": None, "set_at": None}
    return DefaultLicenceOutput(row).data


# --- importing users from a file ----------------------------------------------------------------


def _users_import(request, pk: int, import_pk: int) -> MemberImport:
    customer = _customer(request, pk)
    users_import = MemberImport.objects.filter(
        customer=customer, kind=ImportKind.USERS, pk=import_pk
    ).first()
    if users_import is None:
        raise Http404("No such import")
    return users_import


class UsersImportsApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="customer_users_imports_preview",
        request=UsersImportInput,
        responses={201: MemberImportOutput},
        description="Reads a users file (CSV or XLSX, the users export's columns) and records "
        "what each line will do; changes no user. Apply it next.",
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer(request, pk)
        data = UsersImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        users_import = bulk.users_import_preview(
            actor=request.user, customer=customer, file_name=upload.name, stream=upload
        )
        return Response(MemberImportOutput(users_import).data, status=status.HTTP_201_CREATED)


class UsersImportApi(APIView):
    @extend_schema(operation_id="customer_users_import_retrieve", responses=MemberImportOutput)
    def get(self, request, pk: int, import_pk: int):
        return Response(MemberImportOutput(_users_import(request, pk, import_pk)).data)


class UsersImportLinesApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="customer_users_import_lines",
        responses=MemberImportLineOutput(many=True),
        description="Each line with what the preview said and, once applied, its outcome.",
    )
    def get(self, request, pk: int, import_pk: int):
        rows = _users_import(request, pk, import_pk).lines.order_by("number")
        return paginated(
            request, self, rows, lambda page: MemberImportLineOutput(page, many=True).data
        )


class UsersImportApplyApi(APIView):
    @extend_schema(
        operation_id="customer_users_import_apply",
        request=None,
        responses=MemberImportOutput,
        description="Applies every valid line, each completely or not at all, its vendor "
        "operations queued (409: applied already).",
    )
    def post(self, request, pk: int, import_pk: int):
        users_import = _users_import(request, pk, import_pk)
        applied = bulk.import_apply(actor=request.user, member_import=users_import)
        return Response(MemberImportOutput(applied).data)
