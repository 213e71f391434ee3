from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from seatkeeper.conftest import sign_in
from seatkeeper.core.spreadsheet import safe_cell, safe_workbook_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("plain text", "plain text"),
        ("=1+1", "'=1+1"),
        ("ok;=1+1", "ok;'=1+1"),
        ("ok,+1", "ok,'+1"),
        ("ok\t@SUM(A1)", "ok\t'@SUM(A1)"),
        ("line\n-1", "line\n'-1"),
        ("ok; =1", "ok;' =1"),
        ("\tlead", "'\tlead"),
        ("a-b=c", "a-b=c"),
        (Decimal("-12.50"), "-12.50"),
        (-3, "-3"),
        (None, ""),
    ],
)
def test_every_place_a_cell_may_start_is_defused(value, cell):
    assert safe_cell(value) == cell


def test_workbook_cells_keep_numbers_and_defuse_text():
    assert safe_workbook_cell("=1+1") == "'=1+1"
    assert safe_workbook_cell(Decimal("-1")) == Decimal("-1")
    assert safe_workbook_cell("ok;=1+1") == "ok;=1+1"  # one cell in a workbook, never split


def test_list_exports_defuse_a_formula_after_a_semicolon(client, cast):
    # given an organisation whose name holds a formula after a separator
    from seatkeeper.accounts.models import Organisation

    Organisation.objects.filter(pk=cast.customer.pk).update(contact_email="x@y.example;=1+1")
    sign_in(client, "reselleradmin")
    # when
    response = client.get("/organisations/?export=csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    # then
    header, *rows = csv.reader(io.StringIO(text))
    contacts = {row[header.index("Contact")] for row in rows}
    assert "x@y.example;'=1+1" in contacts
    assert not any(";=" in contact for contact in contacts)
