"""The connector end to end over HTTPS against a sandbox answering in every real dialect at once:
BOM, PascalCase, offset dates, mixed number forms, header-only continuation tokens, malformed
next links, `org:` ids, capitalised charge types, amendments, cancellation windows only per lot,
no catalog prices (seatkeeper/sandbox/dialect.py).

Each test reads the same facts twice, in the clean dialect and in all of them, and expects the
same answer: the dialect changes the wire, never the meaning.
"""

from __future__ import annotations

import codecs
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import NotFound
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.tests.helpers import BUSINESS_BASIC, buy, new_customer, order_line

EVERY_DIALECT = "all"
FRACTION = dt.timedelta(seconds=1)  # offset dates may cut the fractional digits


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Overrides the session sandbox of conftest.py for this module only."""
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp("pc-dialect"),
        customers=4,
        users_per_customer=5,
        dialect=EVERY_DIALECT,
    ) as info:
        yield info
        forget_token_sources()


@contextmanager
def dialect(sbx: Any, spec: str | None) -> Iterator[None]:
    """Answer in `spec` (None: the clean dialect) inside the block, in every dialect after."""
    if spec is None:
        sbx.admin.set_dialect(reset=True)
    else:
        sbx.admin.set_dialect(spec, reset=True)
    try:
        yield
    finally:
        sbx.admin.set_dialect(EVERY_DIALECT, reset=True)


def read_both[T](sbx: Any, read: Callable[[], T]) -> tuple[T, T]:
    """(clean, every dialect) readings of the same thing."""
    with dialect(sbx, None):
        clean = read()
    return clean, read()


def close_in_time(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < FRACTION


def test_the_sandbox_really_answers_in_every_dialect(clean_sandbox: Any) -> None:
    # given a raw client, no connector
    token = clean_sandbox.admin.access_token()

    # when
    with clean_sandbox.client(token) as http:
        answer = http.get("/v1/customers", params={"size": 2})

    # then: the quirks are on the wire
    assert answer.content.startswith(codecs.BOM_UTF8)
    body = answer.content.decode("utf-8-sig")
    assert '"Items"' in body and '"items"' not in body
    assert '"ContinuationToken"' not in body
    assert answer.headers["MS-ContinuationToken"]
    assert "?seekOperation=Next" in body


def test_customers_page_through_every_dialect_exactly_once(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # when: two per page, every page through a malformed link and a header-only token
    clean, every = read_both(clean_sandbox, lambda: list(provider.list_customers(page_size=2)))

    # then
    assert [c.id for c in every] == [c.id for c in clean]
    assert every == clean
    assert len(every) >= 10
    pages = clean_sandbox.admin.calls(path="/v1/customers")
    assert all(page["status"] == 200 for page in pages)


def test_a_listing_resumed_from_cursors_reads_every_dialect(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given
    expected = [c.id for c in provider.list_customers(page_size=3)]

    # when: a discovery reads page by page, keeping only the cursor between pages
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = provider.customers_page(cursor=cursor, page_size=3)
        seen.extend(c.id for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    # then
    assert seen == expected
    assert page.skipped == 0


def test_users_and_audit_records_page_through_every_dialect(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given
    customer_id = clean_sandbox.demo_customers[0]["tenant_id"]
    since = clean_sandbox.admin.now().date() - dt.timedelta(days=30)

    # when
    users = read_both(
        clean_sandbox, lambda: list(provider.list_users(customer_id=customer_id, page_size=2))
    )
    audit = read_both(
        clean_sandbox, lambda: list(provider.list_audit_records(since=since, page_size=4))
    )

    # then
    assert users[1] == users[0] and len(users[1]) >= 5
    clean_audit, every_audit = audit
    assert len(every_audit) == len(clean_audit) >= 5
    for clean, every in zip(clean_audit, every_audit, strict=True):
        assert (every.id, every.operation_type, every.details) == (
            clean.id,
            clean.operation_type,
            clean.details,
        )
        assert every.resource_new_value == clean.resource_new_value
        assert close_in_time(every.operation_date, clean.operation_date)


def test_subscriptions_read_the_same_in_every_dialect(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given a customer with a subscription bought today, still cancellable
    customer = new_customer(provider).customer
    buy(provider, customer.id, order_line(provider, BUSINESS_BASIC, quantity=4))

    # when
    clean, every = read_both(
        clean_sandbox, lambda: provider.list_subscriptions(customer_id=customer.id)
    )

    # then
    assert len(every) == len(clean) == 1
    (before,), (after,) = clean, every
    assert (after.id, after.quantity, after.status, after.commitment_end) == (
        before.id,
        before.quantity,
        before.status,
        before.commitment_end,
    )
    assert close_in_time(after.created_at, before.created_at)
    # the window came only from the per-lot dates, and they are kept
    assert before.cancellation_allowed_until is not None
    assert close_in_time(after.cancellation_allowed_until, before.cancellation_allowed_until)
    assert [lot.quantity for lot in after.refundable_lots] == [4]
    assert after.refund_windows == ()
    assert every.skipped == 0


def test_a_cancellation_window_only_in_refund_options_is_read_over_https(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given
    customer = new_customer(provider).customer
    _order, (bought,) = buy(provider, customer.id, order_line(provider, BUSINESS_BASIC))

    # when: the sandbox drops cancellationAllowedUntilDate but keeps refundOptions
    with dialect(clean_sandbox, "all,refund_lots_only=off"):
        read = provider.get_subscription(customer_id=customer.id, subscription_id=bought.id)

    # then
    assert [w.kind for w in read.refund_windows] == ["Full", "Partial"]
    assert close_in_time(read.cancellation_allowed_until, bought.cancellation_allowed_until)


def test_changes_and_a_cancellation_round_trip_in_pascal_case(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given
    customer = new_customer(provider).customer
    _order, (bought,) = buy(provider, customer.id, order_line(provider, BUSINESS_BASIC, quantity=3))
    clean_sandbox.admin.clear_calls()

    # when: the connector sends back the PascalCase resource it read
    grown = provider.update_subscription(
        customer_id=customer.id,
        subscription_id=bought.id,
        change=i.SubscriptionUpdate(quantity=5, friendly_name="Front desk"),
    )
    cancelled = provider.cancel_subscription(customer_id=customer.id, subscription_id=bought.id)

    # then: the sandbox applied both, each PATCH accepted at the first try
    assert (grown.quantity, grown.friendly_name) == (5, "Front desk")
    assert cancelled.status is i.SubscriptionStatus.DELETED
    patches = clean_sandbox.admin.calls(method="PATCH")
    assert [call["status"] for call in patches] == [200, 200]
    with dialect(clean_sandbox, None):
        seen_clean = provider.get_subscription(customer_id=customer.id, subscription_id=bought.id)
    assert (seen_clean.quantity, seen_clean.status) == (5, i.SubscriptionStatus.DELETED)


def test_invoices_and_recon_lines_read_the_same_in_every_dialect(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # when
    clean_invoices, every_invoices = read_both(
        clean_sandbox, lambda: list(provider.list_invoices(page_size=2))
    )

    # then: the same invoices, each now with the credit note amending it
    assert [inv.id for inv in every_invoices] == [inv.id for inv in clean_invoices]
    assert len(every_invoices) >= 2
    for clean, every in zip(clean_invoices, every_invoices, strict=True):
        assert every.total_charges == clean.total_charges
        assert clean.amendments == ()
        (note,) = every.amendments
        assert (note.document_type, note.amends_id) == ("credit_note", every.id)
        assert note.total_charges.amount == -(clean.total_charges.amount / 10).quantize(
            note.total_charges.amount
        )

    # and the lines of one invoice
    invoice_id = every_invoices[0].id
    clean_lines, every_lines = read_both(
        clean_sandbox,
        lambda: list(provider.list_invoice_line_items(invoice_id=invoice_id, page_size=3)),
    )
    assert len(every_lines) == len(clean_lines) > 0
    for clean, every in zip(clean_lines, every_lines, strict=True):
        assert every.customer_id == clean.customer_id  # sent as org:<id>
        assert every.charge_type == clean.charge_type.capitalize()
        assert every.charge_kind is clean.charge_kind is not i.ChargeType.UNKNOWN
        assert (every.unit_price, every.quantity, every.total) == (
            clean.unit_price,
            clean.quantity,
            clean.total,
        )
        assert every.subscription_start == clean.subscription_start
        assert every.pc_to_bc_exchange_rate == clean.pc_to_bc_exchange_rate
        assert close_in_time(every.charge_start, clean.charge_start)


def test_the_catalog_without_prices_reads_and_says_so(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # when
    clean, every = read_both(clean_sandbox, lambda: list(provider.catalog(country="US"))[:5])

    # then: the same offers and terms, but no prices: Partner Center's catalog has none
    assert [o.sku.key for o in every] == [o.sku.key for o in clean]
    clean_terms = [t for o in clean for a in o.availabilities for t in a.terms]
    every_terms = [t for o in every for a in o.availabilities for t in a.terms]
    assert len(every_terms) == len(clean_terms) > 0
    assert all(t.price is not None for t in clean_terms)
    assert all(t.price is None and t.retail_price is None for t in every_terms)


def test_one_unreadable_record_per_page_is_skipped_and_counted(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given
    expected = list(provider.list_customers(page_size=3))

    # when: the first record of every page is unreadable
    with dialect(clean_sandbox, "all,unreadable_records"):
        listing = provider.list_customers(page_size=3)
        read = list(listing)
        page = provider.customers_page(page_size=3)

    # then: the others are all there, and the skipped ones are counted with their raw text
    pages = -(-len(expected) // 3)
    assert listing.skipped == pages
    assert read == [c for n, c in enumerate(expected) if n % 3 != 0]
    assert all('"CompanyProfile"' in r.raw for r in listing.skipped_records)
    assert (page.skipped, len(page.items)) == (1, 2)


def test_vendor_errors_in_pascal_case_keep_their_codes(
    provider: MicrosoftProvider, clean_sandbox: Any
) -> None:
    # given
    customer_id = clean_sandbox.demo_customers[0]["tenant_id"]

    # when: the error body comes as {"Code": 20003, "Description": ...} after a BOM
    with pytest.raises(NotFound) as missing:
        provider.get_subscription(customer_id=customer_id, subscription_id=str(uuid.uuid4()))

    # then
    assert missing.value.code == "20003"
    assert missing.value.http_status == 404
