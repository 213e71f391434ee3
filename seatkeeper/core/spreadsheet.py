"""Cells of exported files that no spreadsheet program runs as a formula (CSV injection).

Spreadsheet programs run a cell that starts with = + - or @ (or a tab or carriage return) as a
formula. Looking at the first character of a value is not enough for CSV files: the program
splits lines on its own list separator, which is ";" for Excel in French or German, so the one
value `ok;=1+1` opens as two cells, the second a formula. Every place where a cell can begin once
the text is split on any separator is therefore defused with an apostrophe, which spreadsheet
programs read as "the rest is text". Numbers we computed are left alone: -5 is not a formula.

A workbook (XLSX) keeps each value in one cell, so only its start matters there.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A formula character where a cell may begin: the start of the text or after any separator a
# spreadsheet may split on (comma, semicolon, tab, line break), blanks in between.
_CELL_START = re.compile(r"(^|[,;\t\r\n])([ \u00a0]*)(?=[=+\-@])")


def safe_cell(value: Any) -> str:
    """`value` as text for a CSV cell, with every formula start defused."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = _CELL_START.sub(r"\1'\2", str(value))
    if text.startswith(("\t", "\r")):
        text = "'" + text
    return text


def safe_workbook_cell(value: Any) -> Any:
    """`value` for a workbook cell: text that would start a formula is kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value
