"""Exports a biller opens in a spreadsheet never run as formulas (CSV injection).

A patient named `=HYPERLINK("http://…","Call")` — typed into the EHR, imported with the
panel — would otherwise be a live formula in Excel, LibreOffice or Sheets the moment the
billing CSV is opened. Following OWASP's CSV-injection guidance (and ASVS 5.0 V1.2.10), a
cell whose first character is `=`, `+`, `-`, `@`, a tab, a carriage return or NUL gets a
leading `'`: a spreadsheet takes the apostrophe as "this is text", shows the rest as typed
and runs nothing. Quoting of commas, quotes and line breaks inside a cell is the `csv`
module's (RFC 4180), a bare CR included, so a cell cannot end early and start a row.

What a biller sees: only cells that would have been formulas change. A plain number
(`-12.50`, `+3`, `42`) is left alone in any column, because a number cannot call a
function and a quoted `-5` would stop adding up; dates (`2026-11-30`), CPT and ICD-10 codes,
NPIs, counts and amounts never begin with a trigger, so they are byte-for-byte what they
were. A name like `-Smith, Ana` arrives as `'-Smith, Ana`: Excel hides the apostrophe (it
shows in the formula bar), while a text editor or a practice-management import shows it.
A line feed is not a trigger: it only matters inside a quoted cell, where it stays text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
# ASCII digits only: `\d` would also pass Arabic-Indic and other Unicode digits.
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def inert_cell(value: object) -> str:
    """The cell's text, with a leading `'` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """Every CSV the product writes goes through here (billing report, claims.csv, audit
    export), so a new export cannot forget the rule: a header, then inert cells, lines
    ending in `\n`.

    The writer is told lines end in `\r\n` and each line's ending is then made `\n`:
    `csv` quotes a cell only for the characters of its own line ending, and with `\n`
    alone it writes a bare CR raw. Excel and `csv.reader` break the row at that CR, so
    `Lee\r=HYPERLINK(…)` would put a live formula at the start of a new row."""
    out = io.StringIO()
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\r\n")
    cells = chain([columns], ([row.get(column) for column in columns] for row in rows))
    for values in cells:
        line.seek(0)
        line.truncate()
        writer.writerow([inert_cell(value) for value in values])
        out.write(line.getvalue()[:-2] + "\n")
    return out.getvalue()
