"""The connector on answers shaped like Microsoft's documented samples (fixtures/README.md)."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import AuthFailed, UnexpectedResponse
from seatkeeper.providers.microsoft import paging, parsing
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider, apply_subscription_change
from seatkeeper.providers.microsoft.auth import Credentials, TokenKind, TokenSource
from seatkeeper.providers.microsoft.budget import ThrottleBudget
from seatkeeper.providers.microsoft.client import PartnerCenterClient
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.tests.fakes import FakeTime, FakeTokens

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def provider_answering(
    handle: Any,
) -> tuple[MicrosoftProvider, list[httpx.Request]]:
    """A connector whose HTTP answers come from `handle(request) -> httpx.Response`."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handle(request)

    budget = ThrottleBudget()
    client = PartnerCenterClient(
        base_url="https://pc.test",
        tokens=FakeTokens(),  # type: ignore[arg-type]
        limits=lambda path, customer: budget.limits(
            account_key="t", path=path, customer_id=customer
        ),
        retry=RetryPolicy(max_attempts=2, base_delay=0.1, max_delay=0.1),
        sleep=FakeTime().sleep,
        rng=random.Random(1),
        transport=httpx.MockTransport(record),
    )
    return MicrosoftProvider(client=client), seen


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


# --- reconciliation line items ----------------------------------------------------------------


def recon_lines() -> list[i.InvoiceLineItem]:
    page = sample("recon_onetime_billing_line_items.json")
    return [parsing.invoice_line_item(item, invoice_id="G000812345") for item in page["items"]]


def test_recon_amounts_sent_as_strings_or_numbers_are_the_same_exact_decimals() -> None:
    # when
    _trial, strings, numbers, _org = recon_lines()

    # then: strings
    assert strings.unit_price == Money(Decimal("16"), "GBP")
    assert strings.effective_unit_price == Money(Decimal("14.4"), "GBP")
    assert strings.quantity == Decimal("30")
    assert strings.total == Money(Decimal("518.4"), "GBP")
    assert strings.pc_to_bc_exchange_rate == Decimal("0.7931")
    # and numbers, including one a float cannot hold exactly
    assert numbers.unit_price == Money(Decimal("820"), "USD")
    assert numbers.billable_quantity == Decimal("3.1618")
    assert numbers.pc_to_bc_exchange_rate == Decimal("1")


def test_recon_fields_billing_needs_are_read() -> None:
    trial, strings, _numbers, org = recon_lines()

    assert trial.product_qualifiers == ("AddOn", "Trial")
    assert strings.product_qualifiers == ()
    assert strings.billing_frequency == "Monthly"
    assert trial.billing_frequency == ""
    assert strings.pricing_currency == "USD" and strings.total.currency == "GBP"
    assert strings.pc_to_bc_exchange_rate_date == dt.date(2024, 3, 1)  # sent without a zone
    assert strings.subscription_start == dt.date(2024, 3, 12)
    assert strings.subscription_end == dt.date(2025, 3, 11)
    assert strings.customer_domain_name == "prosewareanalytics.onmicrosoft.com"
    assert strings.order_date == utc(2024, 3, 12, 9, 41, 7, 3125)
    assert strings.unit_type == ""
    # an item without subscription dates, and the "not known yet" exchange-rate date
    assert org.subscription_start is None and org.subscription_end is None
    assert org.pc_to_bc_exchange_rate_date is None


def test_recon_customer_ids_lose_their_org_prefix_and_charge_types_their_case() -> None:
    _trial, strings, numbers, org = recon_lines()

    assert org.customer_id == "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9"
    assert strings.customer_id == "8d7c6b5a-4e3f-4a2b-9c1d-0e9f8a7b6c5d"
    assert numbers.charge_type == "New"  # the vendor's text stays as sent
    assert numbers.charge_kind is i.ChargeType.NEW
    assert strings.charge_kind is i.ChargeType.NEW


def test_recon_dates_with_an_offset_are_the_same_moment_in_utc() -> None:
    _trial, _strings, numbers, _org = recon_lines()

    # 09:22:40.1767993 at -08:00; Python keeps six of the seven digits
    assert numbers.charge_start == utc(2024, 3, 4, 17, 22, 40, 176799)
    assert numbers.charge_end == utc(2024, 4, 3, 17, 22, 40, 176799)


def test_the_documented_next_link_with_a_second_question_mark_is_repaired() -> None:
    # given
    page = sample("recon_onetime_billing_line_items.json")

    # when
    path, headers = paging.next_request(page) or ("", {})

    # then
    assert path == (
        "/v1/invoices/G000812345/lineitems?provider=OneTime"
        "&invoicelineitemtype=BillingLineItems&size=4&seekOperation=Next"
    )
    assert headers == {"MS-ContinuationToken": page["continuationToken"]}


# --- invoices ------------------------------------------------------------------------------------


def test_invoices_carry_their_amendments() -> None:
    # given
    page = sample("invoices_with_amendments.json")

    # when
    legacy, modern = (parsing.invoice(item) for item in page["items"])

    # then
    assert legacy.amendments == ()
    assert legacy.total_charges == Money(Decimal("18422.75"), "GBP")
    assert modern.document_type == "void_note"
    adjustment, credit = modern.amendments
    assert (adjustment.id, adjustment.amends_id) == ("G000358811", "G000358810")
    assert adjustment.document_type == "adjustment_note"
    assert adjustment.total_charges == Money(Decimal("98210.44"), "CHF")
    assert credit.document_type == "credit_note"  # sent as "Credit Note"
    assert credit.total_charges == Money(Decimal("-1250.5"), "CHF")
    assert paging.next_request(page) == ("/v1/invoices?size=2&offset=2", {})


# --- subscriptions ------------------------------------------------------------------------------


def test_a_cancellation_window_only_in_refund_options_is_read() -> None:
    # when
    subscription = parsing.subscription(
        sample("subscription_refund_options_only.json"), customer_id="c"
    )

    # then: the last refund option to expire closes the window
    assert subscription.cancellation_allowed_until == utc(2024, 1, 16, 0, 21, 45, 926372)
    assert subscription.refund_windows == (
        i.RefundWindow(kind="Full", expires_at=utc(2024, 1, 10, 0, 21, 45, 926372)),
        i.RefundWindow(kind="Partial", expires_at=utc(2024, 1, 16, 0, 21, 45, 926372)),
    )
    assert subscription.commitment_end == dt.date(2024, 2, 8)


def test_a_cancellation_window_only_in_refundable_lots_is_read_and_the_lots_kept() -> None:
    # when
    subscription = parsing.subscription(
        sample("subscription_refundable_lots.json"), customer_id="c"
    )

    # then: the purchase lot (the earliest) bounds the cancellation
    assert subscription.cancellation_allowed_until == utc(2024, 5, 9, 10, 15, 0, 520000)
    assert subscription.refundable_lots == (
        i.RefundableLot(quantity=5, allowed_until=utc(2024, 5, 9, 10, 15, 0, 520000)),
        i.RefundableLot(quantity=2, allowed_until=utc(2024, 5, 11, 16, 0)),
    )
    assert subscription.refundable_quantity == 7


def test_a_pascal_case_subscription_is_read_and_changed_in_its_own_casing() -> None:
    # given
    current = sample("subscription_pascal_case.json")

    # when
    subscription = parsing.subscription(current, customer_id="c")
    body = apply_subscription_change(
        current, i.SubscriptionUpdate(quantity=10, status=i.SubscriptionStatus.SUSPENDED)
    )

    # then
    assert subscription.id == "C4D5E6F7-A8B9-4C0D-9E1F-2A3B4C5D6E7F"
    assert subscription.status is i.SubscriptionStatus.ACTIVE
    assert subscription.billing_cycle is i.BillingCycle.ANNUAL
    assert subscription.quantity == 8
    assert subscription.cancellation_allowed_until == utc(2024, 4, 8, 8, 30, 0, 123000)
    assert subscription.refundable_lots == (
        i.RefundableLot(quantity=8, allowed_until=utc(2024, 4, 8, 8, 30, 0, 123000)),
    )
    # the change lands on the keys the vendor used; no camelCase twin is added
    assert (body["Quantity"], body["Status"]) == (10, "suspended")
    assert "quantity" not in body and "status" not in body
    assert body["Attributes"]["Etag"] == current["Attributes"]["Etag"]
    assert len(body) == len(current)


def test_a_cancelled_pascal_case_subscription_is_refused_before_any_call() -> None:
    current = {**sample("subscription_pascal_case.json"), "Status": "deleted"}

    with pytest.raises(Exception, match="cancelled subscription") as refused:
        apply_subscription_change(current, i.SubscriptionUpdate(quantity=3))

    assert getattr(refused.value, "code", None) == "2011"


# --- audit records ----------------------------------------------------------------------------


def test_unreadable_audit_records_are_skipped_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given
    page = sample("audit_records.json")
    skips = i.SkipLog()

    # when
    with caplog.at_level(logging.WARNING, logger="seatkeeper.providers.microsoft.parsing"):
        records = list(
            parsing.readable(page["items"], parsing.audit_record, kind="audit record", skips=skips)
        )

    # then: three read, the one without id and the one with a bad date skipped
    assert [r.operation_type for r in records] == [
        "update_customer_user_licenses",
        "create_order",
        "add_customer",
    ]
    assert skips.count == 2
    without_id, bad_date = skips.records
    assert "'id'" in without_id.reason and '"customerName": "Proseware Analytics"' in without_id.raw
    assert "Friday, 1 March 2024" in bad_date.reason and "update_subscription" in bad_date.raw
    assert len([r for r in caplog.records if "skipped an unreadable" in r.message]) == 2
    assert "Friday, 1 March 2024" in caplog.text


def test_audit_nulls_stay_none_and_json_text_stays_text() -> None:
    page = sample("audit_records.json")

    order = parsing.audit_record(page["items"][1])
    added = parsing.audit_record(page["items"][4])

    assert order.details["SubscriptionId-0"] is None
    assert order.details["PartnerOnRecord-0"] is None
    assert order.details["Quantity-0"] == "10"
    assert json.loads(order.resource_new_value)["LineItems"][0]["Quantity"] == 10
    assert order.correlation_id == "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b"
    assert added.details == {}
    assert (added.customer_id, added.resource_new_value, added.resource_old_value) == ("", "", "")
    assert added.operation_date == utc(2024, 2, 29, 20, 0)


def test_a_listing_over_http_skips_what_it_cannot_read_and_says_so() -> None:
    # given: the audit sample answered over HTTP
    body = json.dumps(sample("audit_records.json")).encode()
    provider, _ = provider_answering(lambda request: httpx.Response(200, content=body))

    # when
    listing = provider.list_audit_records(since=dt.date(2024, 2, 15))
    records = list(listing)

    # then
    assert len(records) == 3
    assert listing.skipped == 2
    assert [record.kind for record in listing.skipped_records] == ["audit record"] * 2


# --- collections ----------------------------------------------------------------------------------


def test_a_pascal_case_collection_pages_and_reads_like_a_camel_case_one() -> None:
    # given
    first = sample("customers_pascal_case.json")
    last = {"TotalCount": 0, "Items": [], "Links": {}}
    requests: list[tuple[str, dict[str, str]]] = []

    def fetch(path: str, headers: Any) -> Any:
        requests.append((path, dict(headers)))
        return last if headers else first

    # when
    customers = [
        parsing.customer(x) for x in paging.iterate_items(fetch=fetch, path="/v1/customers")
    ]

    # then
    assert [c.domain for c in customers] == [
        "fourthcoffeeroasters.onmicrosoft.com",
        "prosewareanalytics.onmicrosoft.com",
    ]
    assert customers[1].associated_partner_id == "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"
    assert requests[1] == (
        "/v1/customers?size=2&seekOperation=Next",
        {"MS-ContinuationToken": "c3VwZXJzZWNyZXRjb250aW51YXRpb24="},
    )


def test_a_body_starting_with_a_byte_order_mark_is_read() -> None:
    # given
    body = codecs.BOM_UTF8 + json.dumps(sample("customers_pascal_case.json")).encode()
    pages = iter([body, codecs.BOM_UTF8 + b'{"Items": [], "Links": {}}'])
    provider, seen = provider_answering(
        lambda request: httpx.Response(
            200, content=next(pages), headers={"Content-Type": "application/json; charset=utf-8"}
        )
    )

    # when
    listing = provider.list_customers(page_size=2)

    # then
    assert [c.company_name for c in listing] == ["Fourth Coffee Roasters", "Proseware Analytics"]
    assert listing.skipped == 0
    assert len(seen) == 2


def test_a_checkout_without_orders_is_an_explicit_error() -> None:
    # given: the cart is accepted, the checkout answers no orders and no errors
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/checkout"):
            return httpx.Response(201, json=sample("checkout_without_orders.json"))
        return httpx.Response(201, json={"id": "cart-1", "lineItems": [{"id": 0}]})

    provider, seen = provider_answering(answer)
    line = i.OrderLine(
        catalog_item_id="CFQ7TTC0LH18:0001:CFQ7TTC0K971",
        quantity=1,
        term_duration="P1M",
        billing_cycle=i.BillingCycle.MONTHLY,
    )

    # when
    with pytest.raises(UnexpectedResponse) as refused:
        provider.create_order(customer_id="c", lines=[line], request_key="op-1")

    # then: a clear, final error, and no second purchase attempted
    assert "without orders" in str(refused.value)
    assert refused.value.retryable is False
    assert [r.url.path for r in seen] == [
        "/v1/customers/c/carts",
        "/v1/customers/c/carts/cart-1/checkout",
    ]


# --- Entra --------------------------------------------------------------------------------------


class EntraAnswering:
    """Stands in for msal: whatever the token endpoint is asked, it answers `answer`."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def acquire_token_by_refresh_token(self, refresh_token: str, scopes: list[str]) -> Any:
        return self.answer


def test_an_entra_error_keeps_every_code() -> None:
    # given: Entra refuses the refresh token with two codes
    source = TokenSource(
        credentials=Credentials(
            authority_host="https://login.test",
            tenant_id="t",
            client_id="app",
            client_secret="secret",
        ),
        refresh_token="rt",
    )
    source._app = EntraAnswering(sample("entra_error_several_codes.json"))  # type: ignore[assignment]

    # when
    with pytest.raises(AuthFailed) as refused:
        source.token(kind=TokenKind.USER)

    # then
    assert refused.value.codes == ("50173", "700082")
    assert refused.value.code == "50173"
    assert "codes=50173,700082" in str(refused.value)
    assert "Trace ID" not in refused.value.message
    assert refused.value.retryable is False
