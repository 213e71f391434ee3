"""Organisations and users over the REST API: the same scoping and services as the UI."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.accounts import selectors, services
from seatkeeper.accounts.filters import OrganisationFilter
from seatkeeper.accounts.models import ApiToken, Language, Organisation, OrganisationKind, Role
from seatkeeper.accounts.services import ORGANISATION_FIELDS
from seatkeeper.api.filtering import FilterBackend
from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated


class OrganisationOutput(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Organisation
        fields = ["id", "kind", "parent", *ORGANISATION_FIELDS, "created_at", "updated_at"]


class OrganisationInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    legal_name = serializers.CharField(max_length=200)
    address_line1 = serializers.CharField(max_length=200)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(max_length=20)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    contact_name = serializers.CharField(max_length=200)
    contact_email = serializers.EmailField()
    contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    vat_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    default_language = serializers.ChoiceField(choices=Language.choices, required=False)
    default_currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3, required=False)


class OrganisationCreateInput(OrganisationInput):
    parent = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=[OrganisationKind.RESELLER, OrganisationKind.CUSTOMER])


class OrganisationUpdateInput(OrganisationInput):
    is_active = serializers.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class OrganisationListApi(GenericAPIView):
    """The list's filters are the page's (filters.OrganisationFilter)."""

    pagination_class = Pagination
    filter_backends = [FilterBackend]
    filterset_class = OrganisationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema reads the model only
            return Organisation.objects.none()
        return selectors.organisations_visible_to(self.request.user)

    @extend_schema(
        operation_id="organisations_list",
        responses=OrganisationOutput(many=True),
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        return paginated(
            request,
            self,
            queryset.order_by("name", "pk"),
            lambda rows_page: OrganisationOutput(rows_page, many=True).data,
        )

    @extend_schema(
        operation_id="organisations_create",
        request=OrganisationCreateInput,
        responses={201: OrganisationOutput},
    )
    @idempotent
    def post(self, request):
        data = OrganisationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        parent = selectors.get_organisation_for_user(request.user, values.pop("parent"))
        organisation = services.organisation_create(
            actor=request.user, parent=parent, kind=values.pop("kind"), **values
        )
        return Response(OrganisationOutput(organisation).data, status=status.HTTP_201_CREATED)


class OrganisationDetailApi(APIView):
    @extend_schema(operation_id="organisations_retrieve", responses=OrganisationOutput)
    def get(self, request, pk: int):
        organisation = selectors.get_organisation_for_user(request.user, pk)
        return Response(OrganisationOutput(organisation).data)

    @extend_schema(
        operation_id="organisations_update",
        request=OrganisationUpdateInput,
        responses=OrganisationOutput,
    )
    def patch(self, request, pk: int):
        organisation = selectors.get_organisation_for_user(request.user, pk)
        data = OrganisationUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = services.organisation_update(
            actor=request.user, organisation=organisation, **data.validated_data
        )
        return Response(OrganisationOutput(organisation).data)


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    organisation = serializers.IntegerField(source="organisation_id")
    role = serializers.ChoiceField(choices=Role.choices)
    language = serializers.CharField()
    is_active = serializers.BooleanField()
    last_login = serializers.DateTimeField(allow_null=True)


class UserInviteInput(serializers.Serializer):
    organisation = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    language = serializers.ChoiceField(choices=[("", ""), *Language.choices], required=False)


class UserUpdateInput(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    language = serializers.ChoiceField(choices=[("", ""), *Language.choices], required=False)
    is_active = serializers.BooleanField(required=False)


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    organisation = serializers.IntegerField(source="organisation_id")
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    language = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class UserListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="users_list",
        parameters=[OpenApiParameter("organisation", int)],
        responses=UserOutput(many=True),
    )
    def get(self, request):
        queryset = selectors.users_visible_to(request.user)
        if "organisation" in request.query_params:
            organisation = selectors.get_organisation_for_user(
                request.user, request.query_params["organisation"]
            )
            queryset = queryset.filter(organisation=organisation)
        return paginated(
            request,
            self,
            queryset.order_by("username", "pk"),
            lambda rows_page: UserOutput(rows_page, many=True).data,
        )

    @extend_schema(
        operation_id="users_invite",
        request=UserInviteInput,
        responses={201: InvitationOutput},
        description="Invite a person: their login exists once they choose a password from "
        "the e-mailed link.",
    )
    @idempotent
    def post(self, request):
        data = UserInviteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        organisation = selectors.get_organisation_for_user(request.user, values.pop("organisation"))
        invitation = services.user_invite(actor=request.user, organisation=organisation, **values)
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    @extend_schema(operation_id="users_retrieve", responses=UserOutput)
    def get(self, request, pk: int):
        return Response(UserOutput(selectors.get_user_for_user(request.user, pk)).data)

    @extend_schema(operation_id="users_update", request=UserUpdateInput, responses=UserOutput)
    def patch(self, request, pk: int):
        person = selectors.get_user_for_user(request.user, pk)
        data = UserUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        person = services.user_update(actor=request.user, user=person, **data.validated_data)
        return Response(UserOutput(person).data)


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses=UserOutput)
    def get(self, request):
        return Response(UserOutput(request.user).data)


class TokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()


class TokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Omitted or null: valid until revoked."
    )


class TokenCreatedOutput(TokenOutput):
    token = serializers.CharField(help_text="The token itself, shown this once only.")


class TokenRevokeApi(APIView):
    @extend_schema(operation_id="tokens_revoke", request=None, responses=TokenOutput)
    def post(self, request, pk: int):
        token = get_object_or_404(selectors.api_tokens_of(request.user), pk=pk)
        return Response(
            TokenOutput(services.api_token_revoke(actor=request.user, token=token)).data
        )


class TokenListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="tokens_list", responses=TokenOutput(many=True))
    def get(self, request):
        tokens = selectors.api_tokens_of(request.user).order_by("-created_at", "-pk")
        return paginated(request, self, tokens, lambda page: TokenOutput(page, many=True).data)

    # No Idempotency-Key here: replaying the answer means keeping it, and its answer is the
    # token itself, which is kept nowhere in clear (only its hash). A lost answer costs a
    # revoke and a new token, not a second effect anyone pays for.
    @extend_schema(
        operation_id="tokens_create",
        request=TokenCreateInput,
        responses={201: TokenCreatedOutput},
        description="A new token for the caller. Made with a token, it expires no later than "
        "that token.",
    )
    def post(self, request):
        data = TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, plain = services.api_token_create(
            actor=request.user,
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
            created_with=request.auth if isinstance(request.auth, ApiToken) else None,
        )
        token.token = plain
        return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)
