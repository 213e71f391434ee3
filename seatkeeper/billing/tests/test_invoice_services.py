"""The invoice import's rules, on a vendor made in the test (no network): what is created,
changed or left alone, how lines arrive (export in several files, or v1), and every way an
import can stop half-way without anybody seeing half of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.billing import invoices
from seatkeeper.billing.invoice_lines import LineWriter
from seatkeeper.billing.invoice_selectors import current_lines
from seatkeeper.billing.models import (
    DocumentType,
    ImportStatus,
    InvoiceCustomerTotal,
    InvoiceImportRun,
    InvoiceLineItem,
    LinesSource,
    LinesState,
    ProviderInvoice,
)
from seatkeeper.billing.tests.fakes import FakeInvoicesProvider, invoice, line
from seatkeeper.core import clock
from seatkeeper.core.errors import Conflict, PermissionRefused
from seatkeeper.providers.errors import AuthFailed, Unavailable
from seatkeeper.providers.tests.factories import provider_account

pytestmark = pytest.mark.django_db

FR, GB = "e04a8cd3-d94d-4551-ac06-68936b4fd910", "bef05e59-ff05-42a3-921a-4a06a0002e44"


@pytest.fixture
def account(cast):
    return provider_account(organisation=cast.partner)


@pytest.fixture
def vendor() -> FakeInvoicesProvider:
    credit = invoice(
        "G1C", total="-5.00", document_type="credit_note", amends_id="G1", providers=("one_time",)
    )
    return FakeInvoicesProvider(
        invoices=[
            invoice("G1", total="60.30", paid="60.30", amendments=(credit,)),
            invoice("G2", total="12.00", currency="GBP", period=dt.date(2026, 9, 1)),
        ],
        lines={
            "G1": [
                line("G1", tenant=FR, name="Fabrikam", total="10.10"),
                line("G1", tenant=FR, name="Fabrikam", total="0.20", subscription="sub-addon"),
                line("G1", tenant=GB, name="Northwind", total="50.00", quantity=5),
            ],
            "G2": [line("G2", tenant=GB, name="Northwind", total="12.00", currency="GBP")],
        },
    )


def _lines_in(invoice_row: ProviderInvoice, vendor: FakeInvoicesProvider) -> invoices.LinesProgress:
    return invoices.invoice_lines_import(invoice=invoice_row, provider=vendor)


def test_an_import_creates_documents_and_statements_and_a_second_one_changes_nothing(
    cast, account, vendor
):
    # when
    first = invoices.invoices_import(account=account, provider=vendor, actor=cast.cloud_admin)
    records = ActivityRecord.objects.count()
    second = invoices.invoices_import(account=account, provider=vendor)

    # then
    assert (first.created, first.updated, first.unchanged, first.documents) == (3, 0, 0, 3)
    assert (second.created, second.updated, second.unchanged, second.documents) == (0, 0, 3, 0)
    note = ProviderInvoice.objects.get(vendor_invoice_id="G1C")
    assert note.document_type == DocumentType.CREDIT_NOTE and note.amends.vendor_invoice_id == "G1"
    assert note.period_start == dt.date(2026, 10, 1)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    assert g1.total == Decimal("60.30") and g1.payment_status == "paid"
    assert bytes(g1.document.content).startswith(b"%PDF-")
    assert InvoiceImportRun.objects.filter(status=ImportStatus.COMPLETED).count() == 2
    # the second run recorded itself and nothing else
    assert ActivityRecord.objects.count() == records + 1


def test_a_partner_operator_cannot_import_and_nothing_is_written(cast, account, vendor):
    records = ActivityRecord.objects.count()

    with pytest.raises(PermissionRefused):
        invoices.invoices_import(account=account, provider=vendor, actor=cast.operator)

    assert vendor.calls == []
    assert not ProviderInvoice.objects.exists() and not InvoiceImportRun.objects.exists()
    assert ActivityRecord.objects.count() == records


def test_lines_come_from_the_export_files_and_add_up_per_customer_in_decimals(account, vendor):
    # given
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")

    # when: the first step starts the export, the next ones look at it, then read its files
    started = invoices.invoice_lines_step(invoice=g1, provider=vendor)
    progress = _lines_in(g1, vendor)

    # then
    g1.refresh_from_db()
    assert started.state == LinesState.EXPORTING and started.wait == 5
    assert progress.state == LinesState.IMPORTED
    assert g1.lines_source == LinesSource.GRAPH_EXPORT and g1.lines_count == 3
    assert [c for c in vendor.calls if c.startswith("blob")] == ["blob 0:1", "blob 1:3"]
    assert g1.lines_total == Decimal("60.30") == g1.total and g1.lines_match_total
    totals = {t.customer_name: t for t in InvoiceCustomerTotal.objects.filter(invoice=g1)}
    assert totals["Fabrikam"].total == Decimal("10.30") and totals["Fabrikam"].line_count == 2
    assert totals["Northwind"].total == Decimal("50.00")
    stored = list(current_lines(g1))
    assert all(isinstance(x.total, Decimal) and isinstance(x.unit_price, Decimal) for x in stored)
    assert sum((x.total for x in stored), Decimal(0)) == g1.total
    assert stored[1].product_qualifiers == ["AddOn"] and stored[2].quantity == Decimal(5)
    assert stored[0].period == dt.date(2026, 10, 1) and stored[0].charge_kind == "cycleCharge"


def test_invoices_before_february_2024_read_their_lines_from_the_v1_api(account, vendor):
    vendor.invoices = [invoice("G0", total="12.00", period=dt.date(2023, 12, 1))]
    vendor.lines["G0"] = [line("G0", tenant=FR, name="Fabrikam", total="12.00")]
    invoices.invoices_import(account=account, provider=vendor)

    progress = _lines_in(ProviderInvoice.objects.get(vendor_invoice_id="G0"), vendor)

    g0 = ProviderInvoice.objects.get(vendor_invoice_id="G0")
    assert progress.state == LinesState.IMPORTED and g0.lines_source == LinesSource.V1_API
    assert "v1 lines G0" in vendor.calls and not any(c.startswith("export") for c in vendor.calls)


def test_a_document_the_vendor_has_no_lines_for_is_imported_empty_not_failed(account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    note = ProviderInvoice.objects.get(vendor_invoice_id="G1C")

    progress = _lines_in(note, vendor)

    note.refresh_from_db()
    assert progress.state == LinesState.IMPORTED == note.lines_state
    assert note.lines_count == 0 and note.lines_total == Decimal(0)


def test_legacy_licence_based_invoices_have_no_new_commerce_lines(account, vendor):
    vendor.invoices = [invoice("D01", total="9.00", providers=("office",))]

    invoices.invoices_import(account=account, provider=vendor)

    assert ProviderInvoice.objects.get().lines_state == LinesState.NOT_AVAILABLE
    assert invoices.due_line_imports() == []


def test_a_failed_export_keeps_the_vendors_reason_and_can_be_asked_again(cast, account, vendor):
    # given
    vendor.export_failure = ("500", "Export failed")
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")

    # when
    progress = _lines_in(g1, vendor)
    g1.refresh_from_db()

    # then
    assert progress.state == LinesState.FAILED == g1.lines_state
    assert g1.lines_error == "500 Export failed"
    with pytest.raises(PermissionRefused):
        invoices.invoice_lines_reimport(invoice=g1, actor=cast.operator)
    g1.refresh_from_db()
    assert g1.lines_state == LinesState.FAILED
    vendor.export_failure = None
    invoices.invoice_lines_reimport(invoice=g1, actor=cast.cloud_admin)
    assert _lines_in(g1, vendor).state == LinesState.IMPORTED


def test_a_transient_failure_waits_longer_each_time_then_gives_up(account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    vendor.errors = [Unavailable("down") for _ in range(invoices.MAX_ATTEMPTS)]

    waits = []
    for _ in range(invoices.MAX_ATTEMPTS - 1):
        progress = invoices.invoice_lines_step(invoice=g1, provider=vendor)
        waits.append(progress.wait)
        assert progress.state == LinesState.PENDING
    last = invoices.invoice_lines_step(invoice=g1, provider=vendor)

    g1.refresh_from_db()
    assert waits == sorted(waits) and waits[0] == 60
    assert g1.next_attempt_at is None
    assert last.state == LinesState.FAILED == g1.lines_state and "down" in g1.lines_error


def test_lines_imported_again_replace_the_old_ones_whole(cast, account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    _lines_in(g1, vendor)
    vendor.lines["G1"] = [line("G1", tenant=FR, name="Fabrikam", total="60.30")]

    invoices.invoice_lines_reimport(invoice=g1, actor=cast.cloud_admin)
    _lines_in(g1, vendor)

    g1.refresh_from_db()
    assert InvoiceLineItem.objects.filter(invoice=g1).count() == 1 == g1.lines_count
    assert list(
        InvoiceCustomerTotal.objects.filter(invoice=g1).values_list("customer_name", "total")
    ) == [("Fabrikam", Decimal("60.30"))]


def test_an_import_that_dies_half_way_is_never_seen_and_is_cleaned_up(account, vendor):
    # given: lines in force, then an import that wrote a batch and died
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    _lines_in(g1, vendor)
    g1.refresh_from_db()
    with LineWriter(invoice_pk=g1.pk, generation=g1.lines_generation + 1, period=None) as writer:
        writer.add(line("G1", tenant=FR, name="Half", total="1.00"))

    # then: readers still see the complete import
    assert [x.customer_name for x in current_lines(g1)] == ["Fabrikam", "Fabrikam", "Northwind"]

    # and the next import drops the leftover
    vendor.errors = []
    invoices.lines_transition(g1, LinesState.PENDING, actor=None)
    _lines_in(g1, vendor)
    assert not InvoiceLineItem.objects.filter(customer_name="Half").exists()


def test_an_expired_file_link_starts_the_export_again(account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    vendor.blob_errors = [AuthFailed("link expired", code="AuthenticationFailed")]

    progress = _lines_in(g1, vendor)

    assert progress.state == LinesState.IMPORTED
    assert len([c for c in vendor.calls if c.startswith("export")]) == 2


def test_a_change_of_total_at_the_vendor_reads_the_lines_again(account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    g2 = ProviderInvoice.objects.get(vendor_invoice_id="G2")
    _lines_in(g2, vendor)
    vendor.invoices[1] = invoice("G2", total="15.00", currency="GBP", period=dt.date(2026, 9, 1))

    counts = invoices.invoices_import(account=account, provider=vendor)

    g2.refresh_from_db()
    assert counts.updated == 1 and g2.total == Decimal("15.00")
    assert g2.lines_state == LinesState.PENDING
    record = ActivityRecord.objects.filter(operation="vendor_invoice.changed").get()
    assert (
        record.changes["total"] == ["12.000000", "15.00"] or record.changes["total"][1] == "15.00"
    )


def test_a_second_worker_does_not_take_an_invoice_being_imported(account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    ProviderInvoice.objects.filter(pk=g1.pk).update(
        lines_claimed_until=clock.now() + dt.timedelta(minutes=5)
    )

    progress = invoices.invoice_lines_step(invoice=g1, provider=vendor)

    assert progress.message == "busy" and vendor.calls.count("export G1") == 0
    assert g1.pk not in invoices.due_line_imports()


def test_the_open_period_is_one_document_per_currency_replaced_each_month(cast, account, vendor):
    vendor.lines["unbilled current EUR"] = [line("", tenant=FR, name="Fabrikam", total="3.30")]

    current = invoices.invoice_unbilled_import(account=account, currency="eur")
    progress = _lines_in(current, vendor)

    current.refresh_from_db()
    assert current.document_type == DocumentType.UNBILLED
    assert current.vendor_invoice_id == "UNBILLED-2026-11-EUR" and current.period_start == dt.date(
        2026, 11, 1
    )
    assert progress.state == LinesState.IMPORTED and current.total == Decimal("3.30")
    assert current.payment_status == "not_applicable"
    with clock.frozen(dt.datetime(2026, 12, 2, tzinfo=dt.UTC)):
        later = invoices.invoice_unbilled_import(account=account, currency="EUR")
    assert list(ProviderInvoice.objects.filter(document_type=DocumentType.UNBILLED)) == [later]


def test_lines_state_moves_only_along_its_transitions(account, vendor):
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")

    with pytest.raises(Conflict):
        invoices.lines_transition(g1, LinesState.NOT_AVAILABLE, actor=None)

    g1.refresh_from_db()
    assert g1.lines_state == LinesState.PENDING


def test_the_writers_text_lengths_are_the_columns_lengths():
    from seatkeeper.billing.invoice_lines import FIELDS, MAX_LENGTHS

    lengths = {
        name: InvoiceLineItem._meta.get_field(name).max_length
        for name in FIELDS
        if InvoiceLineItem._meta.get_field(name).get_internal_type() == "CharField"
        and name not in ("currency", "charge_kind")
    }
    assert lengths == MAX_LENGTHS


def test_an_open_period_that_closed_before_its_lines_came_fails_once_and_stops(account, vendor):
    current = invoices.invoice_unbilled_import(account=account, currency="EUR")

    with clock.frozen(dt.datetime(2027, 2, 1, tzinfo=dt.UTC)):
        progress = invoices.invoice_lines_step(invoice=current, provider=vendor)
        due = invoices.due_line_imports()

    assert progress.state == LinesState.FAILED and "closed" in progress.message
    assert current.pk not in due and vendor.calls == []


def test_the_activity_log_tells_the_lines_moving_in_words_in_french(cast, account, vendor):
    # given: an invoice's lines exported and imported
    from django.utils import translation

    from seatkeeper.activity.wording import describe_record

    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get(vendor_invoice_id="G1")
    invoices.invoice_lines_step(invoice=g1, provider=vendor)
    _lines_in(g1, vendor)
    moves = ActivityRecord.objects.filter(operation="vendor_invoice.lines").order_by("pk")

    # when
    with translation.override("fr"):
        details = [str(describe_record(record, viewer=cast.operator)) for record in moves]

    # then: states and reasons read as labels, never as codes
    started, imported = details[0], details[-1]
    assert "L'éditeur les prépare" in started and "exportation lancée" in started
    assert "exporting" not in started and "export started" not in started
    assert "Importées" in imported and "3 lignes" in imported
