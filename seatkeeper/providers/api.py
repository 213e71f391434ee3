"""Provider accounts over the REST API: read them and test their connection. Secrets never leave
the server: no application secret, no token, only whether and when consent was given."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.providers import selectors, services
from seatkeeper.providers.models import ConsentStatus, ProviderKind


class AccountOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ProviderKind.choices)
    partner = serializers.IntegerField(source="organisation_id")
    partner_tenant_id = serializers.CharField()
    application_id = serializers.CharField()
    authority_url = serializers.CharField()
    api_base_url = serializers.CharField()
    is_active = serializers.BooleanField()
    consent_status = serializers.ChoiceField(choices=ConsentStatus.choices)
    consented_by = serializers.CharField()
    consent_granted_at = serializers.DateTimeField(allow_null=True)
    consent_lost_at = serializers.DateTimeField(
        allow_null=True, help_text="When Microsoft refused the stored consent"
    )
    refresh_token_used_at = serializers.DateTimeField(allow_null=True)
    refresh_token_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Last use + 90 days: Microsoft's inactivity limit"
    )


class ConnectionOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    user_consent = serializers.BooleanField(
        help_text="The partner's consent (App+User) was redeemed and used"
    )
    reason = serializers.CharField(help_text="Why the connection failed (empty when ok)")
    account = AccountOutput()


class AccountListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="provider_accounts_list", responses=AccountOutput(many=True))
    def get(self, request):
        accounts = selectors.accounts_visible_to(request.user).order_by("name", "pk")
        return paginated(request, self, accounts, lambda page: AccountOutput(page, many=True).data)


class AccountDetailApi(APIView):
    @extend_schema(operation_id="provider_accounts_retrieve", responses=AccountOutput)
    def get(self, request, pk: int):
        return Response(AccountOutput(selectors.get_account_for_user(request.user, pk)).data)


class AccountTestConnectionApi(APIView):
    @extend_schema(
        operation_id="provider_accounts_test_connection",
        request=None,
        responses=ConnectionOutput,
        description="Sign in to the vendor with the account's credentials now and make one "
        "small read. A failed test is still a 200 answer, with ok=false and the reason.",
    )
    def post(self, request, pk: int):
        account = selectors.get_account_for_user(request.user, pk)
        result = services.account_test_connection(actor=request.user, account=account)
        account.refresh_from_db()
        return Response(
            ConnectionOutput(
                {
                    "ok": result.ok,
                    "user_consent": result.user_consent,
                    "reason": result.reason,
                    "account": account,
                }
            ).data
        )
