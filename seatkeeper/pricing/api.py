"""Prices, quotes, price lists, margin rules and exchange rates over the REST API.

Same scoping as the UI: customers and offers load through scoped selectors (404 outside the
asker's tree), rights are checked in the services, and a price shows only the tiers the asker
may see.
"""

from __future__ import annotations

from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from seatkeeper.accounts import selectors as account_selectors
from seatkeeper.accounts.models import OrganisationKind
from seatkeeper.accounts.selectors import partner_of
from seatkeeper.api.fields import (
    BoundedDateField,
    amount_field,
    id_field,
    quantity_field,
    rate_field,
    rule_value_field,
)
from seatkeeper.api.idempotency import idempotent
from seatkeeper.api.pagination import Pagination, paginated
from seatkeeper.catalog import selectors as catalog_selectors
from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.validation import DATE_BOUNDS, clean_query
from seatkeeper.pricing import selectors, services
from seatkeeper.pricing.audiences import Audience, visible_audiences
from seatkeeper.pricing.engine import price_one
from seatkeeper.pricing.forms import MAX_PRICE_SHEET_BYTES
from seatkeeper.pricing.models import Method, PriceSheetOrigin, PriceSheetStatus, Tier
from seatkeeper.pricing.pricesheets import price_sheet_import
from seatkeeper.pricing.quotes import ProposedChange, SeatLot, SubscriptionFacts, quote_change


class OnQuery(forms.Form):
    on = forms.DateField(required=False, validators=DATE_BOUNDS)


def _on(request):
    """The `on` date of a list (today unless given); a bad date answers 400 naming it."""
    return clean_query(OnQuery, request.query_params)["on"] or clock.today()


def _customer(request, pk):
    customer = account_selectors.get_organisation_for_user(request.user, pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise ServiceError("Prices are for a customer.", field="customer")
    return customer


class MoneyOutput(serializers.Serializer):
    amount = serializers.CharField(help_text="A decimal number, as text")
    currency = serializers.CharField()


class TierOutput(serializers.Serializer):
    audience = serializers.ChoiceField(choices=[a.value for a in Audience])
    label = serializers.CharField(help_text="Whose price this is")
    unit_price = MoneyOutput()
    total = MoneyOutput()
    monthly = MoneyOutput()
    whole_term = MoneyOutput()
    source = serializers.CharField()
    summary = serializers.CharField()
    explanation = serializers.CharField()


class MarginOutput(serializers.Serializer):
    whose = serializers.CharField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    percent = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)


class PriceOutput(serializers.Serializer):
    offer = serializers.IntegerField()
    customer = serializers.IntegerField()
    term = serializers.CharField()
    billing_cycle = serializers.CharField()
    quantity = serializers.IntegerField()
    on = serializers.DateField()
    currency = serializers.CharField()
    tiers = TierOutput(many=True)
    margins = MarginOutput(many=True)


class PriceQuery(serializers.Serializer):
    offer = id_field()
    customer = id_field()
    term = serializers.ChoiceField(choices=Term.choices)
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    quantity = quantity_field(default=1)
    on = BoundedDateField(required=False)
    subscription_ref = serializers.CharField(max_length=64, required=False, default="")


def _money(value) -> dict:
    return {"amount": str(value.amount), "currency": value.currency}


def price_payload(breakdown, user) -> dict:
    request = breakdown.request
    return {
        "offer": request.offer_id,
        "customer": request.customer_id,
        "term": request.term,
        "billing_cycle": request.billing_cycle,
        "quantity": request.quantity,
        "on": request.on,
        "currency": breakdown.currency,
        "tiers": [
            {
                **tier.__dict__,
                "audience": tier.audience.value,
                "unit_price": _money(tier.unit_price),
                "total": _money(tier.total),
                "monthly": _money(tier.monthly),
                "whole_term": _money(tier.whole_term),
            }
            for tier in selectors.tiers_for(breakdown, user)
        ],
        "margins": [
            {"whose": whose, "amount": amount, "percent": percent}
            for whose, amount, percent in selectors.margins_for(breakdown, user)
        ],
    }


class PriceApi(APIView):
    @extend_schema(
        operation_id="prices_retrieve",
        parameters=[PriceQuery],
        responses=PriceOutput,
        description="The unit price of an offer for a customer at each tier the caller may see, "
        "with the list or rule that made it.",
    )
    def get(self, request):
        query = PriceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        offer = catalog_selectors.get_offer_for_user(request.user, values["offer"])
        customer = _customer(request, values["customer"])
        breakdown = price_one(
            partner=partner_of(customer),
            offer_id=offer.pk,
            customer_id=customer.pk,
            term=values["term"],
            billing_cycle=values["billing_cycle"],
            on=values.get("on") or clock.today(),
            quantity=values["quantity"],
            subscription_ref=values["subscription_ref"],
        )
        return Response(PriceOutput(price_payload(breakdown, request.user)).data)


class SeatLotInput(serializers.Serializer):
    quantity = quantity_field(minimum=1)
    purchased_at = serializers.DateTimeField()


class QuoteInput(serializers.Serializer):
    offer = id_field()
    customer = id_field()
    quantity = quantity_field()
    term = serializers.ChoiceField(choices=Term.choices)
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    period_start = BoundedDateField()
    period_end = BoundedDateField()
    purchased_at = serializers.DateTimeField()
    seat_lots = SeatLotInput(many=True, required=False, default=list, max_length=1000)
    subscription_ref = serializers.CharField(max_length=64, required=False, default="")
    new_quantity = quantity_field(required=False, allow_null=True)
    new_term = serializers.ChoiceField(choices=Term.choices, required=False, allow_null=True)
    new_billing_cycle = serializers.ChoiceField(
        choices=BillingCycle.choices, required=False, allow_null=True
    )
    at = serializers.DateTimeField(required=False)
    audience = serializers.ChoiceField(
        choices=[Audience.RESELLER_PRICE.value, Audience.CUSTOMER_PRICE.value],
        default=Audience.CUSTOMER_PRICE.value,
    )

    def validate(self, attrs):
        if attrs["period_end"] <= attrs["period_start"]:
            raise serializers.ValidationError({"period_end": "Must be after period_start."})
        return attrs


class ChargeOutput(serializers.Serializer):
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=20, decimal_places=4)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    days = serializers.IntegerField()
    period_days = serializers.IntegerField()
    amount = MoneyOutput()
    explanation = serializers.CharField()


class QuoteOutput(serializers.Serializer):
    audience = serializers.CharField()
    currency = serializers.CharField()
    at = serializers.DateTimeField()
    current_periodic_total = MoneyOutput()
    new_periodic_total = MoneyOutput()
    adjustment_now = MoneyOutput()
    takes_effect_on = serializers.DateField()
    lines = ChargeOutput(many=True)
    notes = serializers.ListField(child=serializers.CharField())


class QuoteApi(APIView):
    @extend_schema(operation_id="quotes_create", request=QuoteInput, responses=QuoteOutput)
    def post(self, request):
        data = QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        offer = catalog_selectors.get_offer_for_user(request.user, values["offer"])
        customer = _customer(request, values["customer"])
        audience = Audience(values["audience"])
        if audience not in visible_audiences(request.user):
            raise PermissionDenied("You may not see this price.")
        facts = SubscriptionFacts(
            offer_id=offer.pk,
            customer_id=customer.pk,
            quantity=values["quantity"],
            term=values["term"],
            billing_cycle=values["billing_cycle"],
            period_start=values["period_start"],
            period_end=values["period_end"],
            purchased_at=values["purchased_at"],
            seat_lots=tuple(SeatLot(**lot) for lot in values["seat_lots"]),
            subscription_ref=values["subscription_ref"],
        )
        change = ProposedChange(
            quantity=values.get("new_quantity"),
            term=values.get("new_term"),
            billing_cycle=values.get("new_billing_cycle"),
        )
        quote = quote_change(
            facts=facts, change=change, at=values.get("at") or clock.now(), audience=audience
        )
        payload = {
            **{name: getattr(quote, name) for name in ("currency", "at", "takes_effect_on")},
            "audience": quote.audience.value,
            "current_periodic_total": _money(quote.current_periodic_total),
            "new_periodic_total": _money(quote.new_periodic_total),
            "adjustment_now": _money(quote.adjustment_now),
            "lines": [_charge(line) for line in quote.lines],
            "notes": list(quote.notes),
        }
        return Response(QuoteOutput(payload).data)


def _charge(line) -> dict:
    names = ("kind", "quantity", "unit_price", "period_start", "period_end", "days")
    names += ("period_days", "explanation")
    return {**{name: getattr(line, name) for name in names}, "amount": _money(line.amount)}


class PriceListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    customer = serializers.IntegerField(source="customer_id", allow_null=True)


class PriceListInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$")
    customer = id_field(required=False, allow_null=True)


class PriceListListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="price_lists_list", responses=PriceListOutput(many=True))
    def get(self, request):
        lists = selectors.price_lists_visible_to(request.user).order_by("name", "pk")
        return paginated(request, self, lists, lambda page: PriceListOutput(page, many=True).data)

    @extend_schema(
        operation_id="price_lists_create",
        request=PriceListInput,
        responses={201: PriceListOutput},
    )
    @idempotent
    def post(self, request):
        data = PriceListInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if request.user.organisation_id is None:
            raise PermissionDenied()
        customer = None
        if values.get("customer"):
            customer = _customer(request, values["customer"])
        price_list = services.price_list_create(
            actor=request.user,
            partner=request.user.organisation,
            name=values["name"],
            currency=values["currency"],
            customer=customer,
        )
        return Response(PriceListOutput(price_list).data, status=status.HTTP_201_CREATED)


class EntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    offer = serializers.IntegerField(source="offer_id")
    item_code = serializers.CharField(source="offer.item_code")
    term = serializers.CharField()
    billing_cycle = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    effective_from = serializers.DateField()


class EntryInput(serializers.Serializer):
    offer = id_field()
    term = serializers.ChoiceField(choices=Term.choices)
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    unit_price = amount_field(allow_null=True)
    effective_from = BoundedDateField(required=False)


class PriceListEntriesApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="price_list_entries_list",
        parameters=[OpenApiParameter("on", OpenApiTypes.DATE, description="Date, default today")],
        responses=EntryOutput(many=True),
    )
    def get(self, request, pk: int):
        price_list = selectors.get_price_list_for_user(request.user, pk)
        on = _on(request)
        entries = selectors.current_entries(price_list, on)
        return paginated(request, self, entries, lambda page: EntryOutput(page, many=True).data)

    @extend_schema(
        operation_id="price_list_entries_set", request=EntryInput, responses={201: EntryOutput}
    )
    @idempotent
    def post(self, request, pk: int):
        price_list = selectors.get_price_list_for_user(request.user, pk)
        data = EntryInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        offer = catalog_selectors.get_offer_for_user(request.user, values["offer"])
        entry = services.price_list_entry_set(
            actor=request.user,
            price_list=price_list,
            offer=offer,
            term=values["term"],
            billing_cycle=values["billing_cycle"],
            unit_price=values["unit_price"],
            effective_from=values.get("effective_from"),
        )
        return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)


class PriceListImportInput(serializers.Serializer):
    csv = serializers.CharField(max_length=5_000_000)
    dry_run = serializers.BooleanField(default=False)


class ImportLineOutput(serializers.Serializer):
    line = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())


class PriceListImportOutput(serializers.Serializer):
    lines = ImportLineOutput(many=True, required=False)
    imported = serializers.IntegerField(required=False)


class PriceListImportApi(APIView):
    @extend_schema(
        operation_id="price_list_import",
        request=PriceListImportInput,
        responses={200: PriceListImportOutput, 201: PriceListImportOutput},
        description="Check (dry_run) or import a price-list file; every line or none.",
    )
    @idempotent
    def post(self, request, pk: int):
        price_list = selectors.get_price_list_for_user(request.user, pk)
        data = PriceListImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        text = data.validated_data["csv"]
        if data.validated_data["dry_run"]:
            lines = services.price_list_csv_preview(
                actor=request.user, price_list=price_list, text=text
            )
            return Response(
                {"lines": [{"line": line.number, "errors": line.errors} for line in lines]}
            )
        count = services.price_list_csv_import(actor=request.user, price_list=price_list, text=text)
        return Response({"imported": count}, status=status.HTTP_201_CREATED)


class RuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.IntegerField(source="owner_id")
    tier = serializers.CharField()
    target = serializers.IntegerField(source="target_id", allow_null=True)
    subscription_ref = serializers.CharField()
    vendor = serializers.IntegerField(source="vendor_id", allow_null=True)
    category = serializers.CharField()
    offer = serializers.IntegerField(source="offer_id", allow_null=True)
    term = serializers.CharField()
    billing_cycle = serializers.CharField()
    method = serializers.CharField()
    value = serializers.DecimalField(max_digits=18, decimal_places=6)
    currency = serializers.CharField()
    effective_from = serializers.DateField()


class RuleInput(serializers.Serializer):
    tier = serializers.ChoiceField(choices=Tier.choices)
    method = serializers.ChoiceField(
        choices=[choice for choice in Method.choices if choice[0] != Method.REMOVED]
    )
    value = rule_value_field()
    target = id_field(required=False, allow_null=True)
    subscription_ref = serializers.CharField(max_length=64, required=False, default="")
    vendor = id_field(required=False, allow_null=True)
    category = serializers.CharField(max_length=100, required=False, default="")
    offer = id_field(required=False, allow_null=True)
    term = serializers.ChoiceField(choices=Term.choices, required=False, default="")
    billing_cycle = serializers.ChoiceField(
        choices=BillingCycle.choices, required=False, default=""
    )
    currency = serializers.CharField(max_length=3, required=False, default="")
    effective_from = BoundedDateField(required=False)


class RuleListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="margin_rules_list",
        parameters=[OpenApiParameter("on", OpenApiTypes.DATE, description="Date, default today")],
        responses=RuleOutput(many=True),
    )
    def get(self, request):
        on = _on(request)
        rules = selectors.current_rules(selectors.rules_visible_to(request.user), on)
        return paginated(request, self, rules, lambda page: RuleOutput(page, many=True).data)

    @extend_schema(operation_id="margin_rules_set", request=RuleInput, responses={201: RuleOutput})
    @idempotent
    def post(self, request):
        data = RuleInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if request.user.organisation_id is None:
            raise PermissionDenied()
        user = request.user
        if values.get("target"):
            values["target"] = account_selectors.get_organisation_for_user(user, values["target"])
        if values.get("vendor"):
            values["vendor"] = catalog_selectors.get_vendor_for_user(user, values["vendor"])
        if values.get("offer"):
            values["offer"] = catalog_selectors.get_offer_for_user(user, values["offer"])
        rule = services.margin_rule_set(actor=user, owner=user.organisation, **values)
        return Response(RuleOutput(rule).data, status=status.HTTP_201_CREATED)


class RuleRemoveInput(serializers.Serializer):
    effective_from = BoundedDateField(required=False)


class RuleRemoveApi(APIView):
    @extend_schema(
        operation_id="margin_rules_remove", request=RuleRemoveInput, responses={201: RuleOutput}
    )
    @idempotent
    def post(self, request, pk: int):
        rule = selectors.get_rule_for_user(request.user, pk)
        data = RuleRemoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        removal = services.margin_rule_remove(
            actor=request.user, rule=rule, effective_from=data.validated_data.get("effective_from")
        )
        return Response(RuleOutput(removal).data, status=status.HTTP_201_CREATED)


class RateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    base_currency = serializers.CharField()
    quote_currency = serializers.CharField()
    rate = serializers.DecimalField(max_digits=20, decimal_places=10)
    effective_from = serializers.DateField()
    source = serializers.CharField()


class RateInput(serializers.Serializer):
    base_currency = serializers.RegexField(r"^[A-Za-z]{3}$")
    quote_currency = serializers.RegexField(r"^[A-Za-z]{3}$")
    rate = rate_field()
    effective_from = BoundedDateField(required=False)


class RateListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="exchange_rates_list", responses=RateOutput(many=True))
    def get(self, request):
        rates = selectors.exchange_rates_visible_to(request.user)
        return paginated(request, self, rates, lambda page: RateOutput(page, many=True).data)

    @extend_schema(
        operation_id="exchange_rates_create", request=RateInput, responses={201: RateOutput}
    )
    @idempotent
    def post(self, request):
        data = RateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if request.user.organisation_id is None:
            raise PermissionDenied()
        rate = services.exchange_rate_set(
            actor=request.user, partner=request.user.organisation, **data.validated_data
        )
        return Response(RateOutput(rate).data, status=status.HTTP_201_CREATED)


# --- price sheets -------------------------------------------------------------------------------


class UnpricedOfferOutput(serializers.Serializer):
    offer = serializers.IntegerField()
    title = serializers.CharField()
    country = serializers.CharField()
    terms = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        help_text="[term, billing cycle] pairs the sheet gave no price for",
    )


class SheetProblemOutput(serializers.Serializer):
    line = serializers.IntegerField()
    problem = serializers.CharField()


class PriceSheetImportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    vendor = serializers.IntegerField(source="vendor_id")
    origin = serializers.ChoiceField(choices=PriceSheetOrigin.choices)
    status = serializers.ChoiceField(choices=PriceSheetStatus.choices)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    started_by = serializers.CharField()
    file_name = serializers.CharField()
    markets = serializers.CharField(help_text="Markets the sheet covered, comma-separated")
    month = serializers.CharField(help_text="YYYYMM for a past month's sheet, else empty")
    rows_read = serializers.IntegerField()
    rows_matched = serializers.IntegerField()
    rows_unmatched = serializers.IntegerField()
    rows_rejected = serializers.IntegerField()
    tier_rows = serializers.IntegerField()
    prices_added = serializers.IntegerField()
    prices_unchanged = serializers.IntegerField()
    offers_priced = serializers.IntegerField()
    offers_without_price = serializers.IntegerField()
    error = serializers.CharField()


class PriceSheetImportDetailOutput(PriceSheetImportOutput):
    unpriced = UnpricedOfferOutput(many=True)
    problems = SheetProblemOutput(many=True)


class PriceSheetInput(serializers.Serializer):
    file = serializers.FileField(
        max_length=255,
        allow_empty_file=False,
        help_text="Microsoft's license-based price sheet: the CSV or its zip archive",
    )

    def validate_file(self, upload):
        if upload.size > MAX_PRICE_SHEET_BYTES:
            raise serializers.ValidationError(
                f"The file is larger than {MAX_PRICE_SHEET_BYTES // (1024 * 1024)} MB."
            )
        return upload


class PriceSheetListApi(APIView):
    pagination_class = Pagination
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="price_sheets_list",
        responses=PriceSheetImportOutput(many=True),
        description="The vendor's price sheet imports, newest first (partner staff only).",
    )
    def get(self, request, pk: int):
        vendor = selectors.get_price_sheet_vendor_for_user(request.user, pk)
        runs = selectors.price_sheet_imports_visible_to(request.user).filter(vendor=vendor)
        return paginated(
            request, self, runs, lambda page: PriceSheetImportOutput(page, many=True).data
        )

    @extend_schema(
        operation_id="price_sheets_upload",
        request=PriceSheetInput,
        responses={201: PriceSheetImportDetailOutput},
        description=(
            "Import a license-based price sheet by hand (the partner's cloud admins): prices "
            "apply from their effective dates; a sheet imported twice adds nothing."
        ),
    )
    @idempotent
    def post(self, request, pk: int):
        vendor = selectors.get_price_sheet_vendor_for_user(request.user, pk)
        data = PriceSheetInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        run = price_sheet_import(
            actor=request.user,
            vendor=vendor,
            source=upload.file,
            origin=PriceSheetOrigin.UPLOAD,
            file_name=upload.name,
        )
        return Response(PriceSheetImportDetailOutput(run).data, status=status.HTTP_201_CREATED)


class PriceSheetDetailApi(APIView):
    @extend_schema(operation_id="price_sheets_retrieve", responses=PriceSheetImportDetailOutput)
    def get(self, request, pk: int):
        run = selectors.get_price_sheet_import_for_user(request.user, pk)
        return Response(PriceSheetImportDetailOutput(run).data)
