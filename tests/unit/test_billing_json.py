"""`billing evaluate` contract: design.md §7 example, additive output, one-line bad input."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm_pwa.cli.billing_evaluate import evaluate_command
from ccm_pwa.domain.billing_json import CaseError, parse_case

DESIGN_CASE: dict[str, Any] = {
    "month": "2026-11",
    "timezone": "America/Chicago",
    "fee_year": 2026,
    "patient": {
        "chronic_conditions": ["E11.9", "I10"],
        "program": "ccm",
        "consent_date": "2026-10-02",
        "complex_mdm": False,
        "inpatient_stays": [
            {"start": "2026-11-10T08:00:00-06:00", "end": "2026-11-12T12:00:00-06:00"}
        ],
    },
    "time_entries": [
        {
            "id": "e1",
            "started_at": "2026-11-03T14:00:00-06:00",
            "duration_seconds": 1260,
            "performer": "clinical_staff",
            "voided": False,
        }
    ],
}
CONTRACT_FIELDS = ("month", "billable", "minutes", "claim_lines", "next", "excluded", "reasons")


def run(stdin_text: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = evaluate_command(io.StringIO(stdin_text), stdout, stderr)
    return status, stdout.getvalue(), stderr.getvalue()


def evaluate(case: dict[str, Any]) -> dict[str, Any]:
    status, out, err = run(json.dumps(case))
    assert (status, err) == (0, "")
    return json.loads(out)


def contract_view(result: dict[str, Any]) -> dict[str, Any]:
    """Only the design's fields, with list items cut to their design keys."""
    view = {key: result[key] for key in CONTRACT_FIELDS}
    view["claim_lines"] = [{"code": c["code"], "units": c["units"]} for c in view["claim_lines"]]
    view["excluded"] = [{"id": e["id"], "reason": e["reason"]} for e in view["excluded"]]
    return view


def test_design_example_gives_the_design_output() -> None:
    result = evaluate(DESIGN_CASE)
    assert contract_view(result) == {
        "month": "2026-11",
        "billable": True,
        "minutes": {"clinical_staff": 21, "billing_practitioner": 0, "countable": 21},
        "claim_lines": [{"code": "99490", "units": 1}],
        "next": {"code": "99439", "minutes_needed": 19},
        "excluded": [],
        "reasons": [],
    }
    # Additions ride alongside the contract, never instead of it.
    assert result["claim_lines"][0]["date_of_service"] == "2026-11-03"
    assert result["claim_lines"][0]["amount"] == 66.13
    assert result["total_amount"] == 66.13
    assert result["lane"] == {"key": "ccm_staff", "name": "Non-complex CCM (99490 + 99439)"}
    assert result["seconds"]["countable"] == 1260
    assert result["alternatives"] == []


def test_output_is_one_json_document_ending_in_a_newline() -> None:
    _, out, _ = run(json.dumps(DESIGN_CASE))
    assert out.endswith("}\n")
    json.loads(out)


def test_inpatient_time_is_listed_as_excluded_with_its_seconds() -> None:
    case = copy.deepcopy(DESIGN_CASE)
    case["time_entries"].append(
        {
            "id": "e9",
            "started_at": "2026-11-11T09:00:00-06:00",
            "duration_seconds": 900,
            "performer": "clinical_staff",
        }
    )
    result = evaluate(case)
    assert result["excluded"] == [
        {"id": "e9", "reason": "during inpatient stay 2026-11-10 to 2026-11-12", "seconds": 900}
    ]
    assert result["minutes"]["countable"] == 21


def test_non_billable_month_explains_itself() -> None:
    case = copy.deepcopy(DESIGN_CASE)
    case["patient"]["consent_date"] = None
    result = evaluate(case)
    assert result["billable"] is False
    assert result["claim_lines"] == []
    assert result["lane"] is None
    assert result["reasons"][0].startswith("no consent on file")


def test_alternatives_carry_lines_and_amounts() -> None:
    case = copy.deepcopy(DESIGN_CASE)
    case["fee_year"] = 2025
    case["time_entries"][0].update(duration_seconds=5400, performer="billing_practitioner")
    result = evaluate(case)
    assert [(c["code"], c["units"]) for c in result["claim_lines"]] == [("99491", 1), ("99437", 2)]
    assert result["total_amount"] == 197.32
    assert result["alternatives"] == [
        {
            "lane": {"key": "ccm_staff", "name": "Non-complex CCM (99490 + 99439)"},
            "claim_lines": [
                {
                    "code": "99490",
                    "units": 1,
                    "date_of_service": "2026-11-03",
                    "amount": 60.49,
                    "fee_approximate": False,
                },
                {
                    "code": "99439",
                    "units": 2,
                    "date_of_service": "2026-11-03",
                    "amount": 91.86,
                    "fee_approximate": False,
                },
            ],
            "total_amount": 152.35,
        }
    ]


def test_optional_fields_may_be_absent() -> None:
    case = copy.deepcopy(DESIGN_CASE)
    for key in ("complex_mdm", "inpatient_stays", "consent_date"):
        del case["patient"][key]
    del case["time_entries"][0]["voided"]
    del case["fee_year"]  # defaults to the month's year
    result = evaluate(case)
    assert result["billable"] is False  # absent consent is no consent
    assert result["fee_year"] == 2026


def test_conflicting_duplicate_id_is_not_an_error() -> None:
    case = copy.deepcopy(DESIGN_CASE)
    case["time_entries"].append(dict(case["time_entries"][0], duration_seconds=1500))
    result = evaluate(case)
    assert result["minutes"]["countable"] == 21
    assert result["excluded"][0]["id"] == "e1"


def test_care_plan_flag_is_accepted_on_the_patient_or_the_case() -> None:
    for where in ("patient", "root"):
        case = copy.deepcopy(DESIGN_CASE)
        (case["patient"] if where == "patient" else case)["care_plan_in_force"] = False
        assert evaluate(case)["reasons"] == ["no care plan in force this month"]


def mutate(path: str, value: Any) -> str:
    """DESIGN_CASE with `path` (dotted, [i] for items) set to value, or deleted for DELETE."""
    case = copy.deepcopy(DESIGN_CASE)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target: Any = case
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del target[key]
    elif isinstance(target, list) and key == len(target):
        target.append(value)
    else:
        target[key] = value
    return json.dumps(case)


DELETE = object()
SECOND_ENTRY = {**DESIGN_CASE["time_entries"][0], "id": "e2"}

BAD_INPUT: dict[str, tuple[str, str, str]] = {
    "malformed JSON": ('{"month": "2026-11",', "$", "not valid JSON"),
    "empty input": ("", "$", "not valid JSON"),
    "not an object": ("[]", "$", "must be a JSON object"),
    "NaN": (mutate("time_entries[0].duration_seconds", 1).replace("1,", "NaN,"), "$", "NaN"),
    "missing month": (mutate("month", DELETE), "month", "is required"),
    "month 13": (mutate("month", "2026-13"), "month", "not a month like 2026-11"),
    "month without zero": (mutate("month", "2026-1"), "month", "not a month like 2026-11"),
    "month as number": (mutate("month", 202611), "month", "must be a string"),
    "unknown timezone": (mutate("timezone", "Mars/Olympus_Mons"), "timezone", "unknown time zone"),
    "timezone path": (mutate("timezone", "../../etc/passwd"), "timezone", "unknown time zone"),
    "fee year not in table": (mutate("fee_year", 2019), "fee_year", "not in the fee table"),
    "fee year as text": (mutate("fee_year", "2026"), "fee_year", "must be a whole year"),
    "missing patient": (mutate("patient", DELETE), "patient", "is required"),
    "conditions not a list": (
        mutate("patient.chronic_conditions", "E11.9"),
        "patient.chronic_conditions",
        "JSON array",
    ),
    "condition not a string": (
        mutate("patient.chronic_conditions[1]", 10),
        "patient.chronic_conditions[1]",
        "string",
    ),
    "unknown program": (mutate("patient.program", "rpm"), "patient.program", "must be one of"),
    "consent not a date": (
        mutate("patient.consent_date", "10/02/2026"),
        "patient.consent_date",
        "must be a date",
    ),
    "consent impossible": (
        mutate("patient.consent_date", "2026-02-30"),
        "patient.consent_date",
        "not a real date",
    ),
    "complex_mdm not boolean": (
        mutate("patient.complex_mdm", "no"),
        "patient.complex_mdm",
        "true, false or null",
    ),
    "misspelt field": (mutate("patient.inpatient_stay", []), "patient.inpatient_stay", "unknown"),
    "stay ends before it starts": (
        mutate("patient.inpatient_stays[0].end", "2026-11-09T08:00:00-06:00"),
        "patient.inpatient_stays[0].end",
        "is before start",
    ),
    "stay without offset": (
        mutate("patient.inpatient_stays[0].start", "2026-11-10T08:00:00"),
        "patient.inpatient_stays[0].start",
        "must include a UTC offset",
    ),
    "entries not a list": (mutate("time_entries", {}), "time_entries", "JSON array"),
    "entry not an object": (mutate("time_entries[0]", "e1"), "time_entries[0]", "JSON object"),
    "missing id": (mutate("time_entries[0].id", DELETE), "time_entries[0].id", "is required"),
    "empty id": (mutate("time_entries[0].id", ""), "time_entries[0].id", "non-empty string"),
    "negative duration": (
        mutate("time_entries[0].duration_seconds", -1),
        "time_entries[0].duration_seconds",
        "must be >= 0",
    ),
    "fractional duration": (
        mutate("time_entries[0].duration_seconds", 12.5),
        "time_entries[0].duration_seconds",
        "whole number",
    ),
    "duration as text": (
        mutate("time_entries[0].duration_seconds", "1260"),
        "time_entries[0].duration_seconds",
        "whole number",
    ),
    "duration as boolean": (
        mutate("time_entries[0].duration_seconds", True),
        "time_entries[0].duration_seconds",
        "whole number",
    ),
    "absurd duration": (
        mutate("time_entries[0].duration_seconds", 10**20),
        "time_entries[0].duration_seconds",
        "must be <=",
    ),
    "unknown performer": (
        mutate("time_entries[0].performer", "nurse"),
        "time_entries[0].performer",
        "one of",
    ),
    "naive started_at": (
        mutate("time_entries[0].started_at", "2026-11-03T14:00:00"),
        "time_entries[0].started_at",
        "must include a UTC offset",
    ),
    "date-only started_at": (
        mutate("time_entries[0].started_at", "2026-11-03"),
        "time_entries[0].started_at",
        "must include a UTC offset",
    ),
    "unparsable started_at": (
        mutate("time_entries[0].started_at", "yesterday at 2"),
        "time_entries[0].started_at",
        "not an ISO 8601 date-time",
    ),
    "far-away started_at": (
        mutate("time_entries[0].started_at", "0001-01-01T00:00:00+05:00"),
        "time_entries[0].started_at",
        "between",
    ),
    "bad second entry names its index": (
        mutate("time_entries[1]", {**SECOND_ENTRY, "performer": "robot"}),
        "time_entries[1].performer",
        "one of",
    ),
    "voided not boolean": (
        mutate("time_entries[0].voided", "yes"),
        "time_entries[0].voided",
        "true, false or null",
    ),
    "odd key is quoted": (mutate("patient.bad\nkey", 1), 'patient."bad\\nkey"', "unknown field"),
}


@pytest.mark.parametrize(("stdin_text", "field", "words"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_line_naming_the_field(
    stdin_text: str, field: str, words: str
) -> None:
    status, out, err = run(stdin_text)
    assert status == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert err.startswith(f"error: {field}: ")
    assert words in err


def test_error_line_matches_the_design_example() -> None:
    _, _, err = run(mutate("time_entries[0].duration_seconds", -5))
    assert err == "error: time_entries[0].duration_seconds: must be >= 0\n"


def test_undecodable_stdin_is_bad_input() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"month": "\xff"}'), encoding="utf-8")
    stderr = io.StringIO()
    assert evaluate_command(stdin, io.StringIO(), stderr) == 2
    assert stderr.getvalue() == "error: $: input is not UTF-8 text\n"


def test_case_error_carries_field_and_message() -> None:
    with pytest.raises(CaseError) as caught:
        parse_case(mutate("patient.program", "apcm"))
    assert caught.value.field == "patient.program"
    assert caught.value.message.startswith("must be one of ccm, complex_ccm, pcm")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_json_either_parses_or_raises_case_error(data: st.DataObject) -> None:
    """Fuzz around the design case: replace one field at a time with arbitrary JSON."""
    path = data.draw(
        st.sampled_from(
            [
                "month",
                "timezone",
                "fee_year",
                "patient",
                "time_entries",
                "patient.chronic_conditions",
                "patient.program",
                "patient.consent_date",
                "patient.complex_mdm",
                "patient.inpatient_stays",
                "patient.inpatient_stays[0]",
                "patient.inpatient_stays[0].start",
                "patient.inpatient_stays[0].end",
                "time_entries[0]",
                "time_entries[0].id",
                "time_entries[0].started_at",
                "time_entries[0].duration_seconds",
                "time_entries[0].performer",
                "time_entries[0].voided",
            ]
        )
    )
    text = mutate(path, data.draw(json_values))
    status, out, err = run(text)
    if status == 0:
        assert json.loads(out)["month"] == "2026-11"
    else:
        assert status == 2
        assert err.count("\n") == 1
