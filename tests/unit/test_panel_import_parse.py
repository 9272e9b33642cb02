"""Reading panel files into records, without a database: CSV and FHIR, every kind of error."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ccm_pwa.domain.billing_case import Program
from ccm_pwa.domain.panel_csv import COLUMNS, header_name, parse_csv
from ccm_pwa.domain.panel_fhir import ICD10_CM, IDENTIFIER_TYPE, parse_bundle
from ccm_pwa.domain.panel_rows import PanelFileError, ParsedPanel, describe_rows

TODAY = date(2026, 11, 23)
DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = ",".join(c.name for c in COLUMNS)


def csv_of(*lines: str, header: str = HEADER) -> ParsedPanel:
    return parse_csv("\n".join([header, *lines]) + "\n", today=TODAY)


def line(mrn: str = "A1", given: str = "Rosa", family: str = "Garcia",
         birth: str = "1948-03-14", phone: str = "", language: str = "", program: str = "",
         care_manager: str = "", billing: str = "", code: str = "", description: str = "",
         onset: str = "", resolved: str = "") -> str:
    cells = [mrn, given, family, birth, phone, language, program, care_manager, billing, code,
             description, onset, resolved]
    return ",".join(f'"{c}"' if "," in c else c for c in cells)


def errors(panel: ParsedPanel) -> list[str]:
    return [str(e) for e in panel.errors]


# --- CSV: good files -------------------------------------------------------------------------


def test_sample_good_csv_reads_without_errors() -> None:
    panel = parse_csv((DATA / "panel_good.csv").read_text(), today=TODAY)
    assert errors(panel) == [] and panel.rejected == []
    assert (panel.format, panel.rows) == ("csv", 9)
    assert [p.mrn for p in panel.patients] == ["P1001", "P1002", "P1003", "P1004", "P1005"]
    rosa = panel.patients[0]
    assert (rosa.given_name, rosa.family_name, rosa.birth_date) == ("Rosa", "Garcia",
                                                                   date(1948, 3, 14))
    assert (rosa.phone, rosa.preferred_language, rosa.program) == ("+1-312-555-0101", "es",
                                                                   Program.CCM)
    assert rosa.care_manager_email == "kim@riverbend.example"
    assert [c.code for c in rosa.conditions] == ["E11.9", "I10", "J06.9"]
    assert rosa.conditions[2].resolved_date == date(2025, 10, 20)
    assert rosa.rows == ("row 2", "row 3", "row 4")
    robert = panel.patients[3]
    assert [c.code for c in robert.conditions] == ["J44.9", "F33.1", "E78.5"]  # "e785" too
    assert robert.program == Program.COMPLEX_CCM
    patricia = panel.patients[4]
    assert patricia.conditions == [] and patricia.program is None


def test_blank_optional_values_mean_keep_what_is_on_record() -> None:
    panel = csv_of(line())
    record = panel.patients[0]
    assert (record.phone, record.preferred_language, record.program,
            record.care_manager_email, record.billing_practitioner_email) == (None,) * 5


def test_header_spelling_is_forgiving_and_unknown_columns_are_noted() -> None:
    header = "MRN,Given Name,family-name,Birth_Date,Favourite Colour,"
    panel = csv_of("A1,Rosa,Garcia,1948-03-14,blue,", header=header)
    assert errors(panel) == []
    assert panel.patients[0].given_name == "Rosa"
    assert panel.notes == ["ignored column(s) this importer does not know: Favourite Colour, "
                           "(unnamed)"]
    assert header_name("  Care Manager  Email ") == "care_manager_email"


def test_lines_of_one_mrn_need_not_be_adjacent_and_identical_conditions_merge() -> None:
    panel = csv_of(line("A1", code="I10"), line("B2"), line("A1", "", "", "", code="E11.9"),
                   line("A1", code="I10"))
    assert errors(panel) == []
    assert [p.mrn for p in panel.patients] == ["A1", "B2"]
    assert [c.code for c in panel.patients[0].conditions] == ["I10", "E11.9"]
    assert panel.patients[0].rows == ("row 2", "row 4", "row 5")


def test_blank_lines_are_skipped_and_rows_are_file_lines() -> None:
    text = f"{HEADER}\n\n{line('A1', description='x')},,\n" \
           f'{line("B2", given="Multi", family="Line")}\n,,,,,,,,,,,,\n' \
           f'{line("C3", birth="1950-13-01")}\n'
    text = text.replace("Multi", '"Multi\nLine"', 1)
    panel = parse_csv(text, today=TODAY)
    assert errors(panel) == [
        "row 3: columns: has 15 values, the header has 13 columns",
        "row 7: birth_date: not a date (YYYY-MM-DD): '1950-13-01'",
    ]
    assert panel.rows == 3
    assert [p.mrn for p in panel.patients] == ["B2"]
    assert panel.patients[0].given_name == "Multi Line"


def test_values_are_cleaned() -> None:
    panel = csv_of(line(given="  Mary   Ann ", language="ZH-tw", program="Complex-CCM",
                        care_manager="Kim@Riverbend.Example", code=" i10 ", phone="(312) 555-0104"))
    record = panel.patients[0]
    assert record.given_name == "Mary Ann"
    assert record.preferred_language == "zh-TW"
    assert record.program == Program.COMPLEX_CCM
    assert record.care_manager_email == "kim@riverbend.example"
    assert record.conditions[0].code == "I10"
    assert record.conditions[0].description == ""  # the importer fills in a default


# --- CSV: file errors (exit 2) ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"),
    ("mrn,given_name,birth_date\nA1,Rosa,1948-03-14\n", "missing required column(s) "
                                                        "family_name"),
    ('{"resourceType": "Bundle"}\n', "missing required column(s) mrn, given_name, "
                                     "family_name, birth_date"),
    ("mrn,given_name,family_name,birth_date,Given Name\n", "'given_name' appears twice"),
    (f"{HEADER}\nA1," + "x" * 200_000 + "\n", "not a readable CSV file: line 2"),
])
def test_unusable_csv_files(text: str, fragment: str) -> None:
    with pytest.raises(PanelFileError, match=None) as caught:
        parse_csv(text, today=TODAY)
    assert fragment in str(caught.value)


def test_header_only_is_an_empty_panel() -> None:
    panel = parse_csv(HEADER + "\n", today=TODAY)
    assert (panel.rows, panel.patients, panel.errors) == (0, [], [])


# --- CSV: row errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"mrn": ""}, "row 2: mrn: required"),
    ({"mrn": "A" * 65}, "row 2: mrn: longer than 64 characters"),
    ({"mrn": "A 1"}, "row 2: mrn: must not contain spaces: 'A 1'"),
    ({"given": ""}, "row 2: given_name: required (the first row of a patient carries the "
                    "name and birth date)"),
    ({"family": "1234"}, "row 2: family_name: not a name: '1234'"),
    ({"given": "x" * 101}, "row 2: given_name: longer than 100 characters"),
    ({"birth": ""}, "row 2: birth_date: required (the first row of a patient carries the "
                    "name and birth date)"),
    ({"birth": "1950-13-01"}, "row 2: birth_date: not a date (YYYY-MM-DD): '1950-13-01'"),
    ({"birth": "03/14/1948"}, "row 2: birth_date: not a date (YYYY-MM-DD): '03/14/1948'"),
    ({"birth": "1948"}, "row 2: birth_date: a full date is needed (YYYY-MM-DD): '1948'"),
    ({"birth": "2027-01-01"}, "row 2: birth_date: in the future: 2027-01-01"),
    ({"birth": "1899-12-31"}, "row 2: birth_date: before 1900: 1899-12-31"),
    ({"phone": "call me"}, "row 2: phone: not a phone number: 'call me'"),
    ({"phone": "555-12"}, "row 2: phone: not a phone number: '555-12'"),
    ({"language": "Spanish!"}, "row 2: preferred_language: not a language code (e.g. en, es, "
                               "zh-TW): 'Spanish!'"),
    ({"program": "rpm"}, "row 2: program: must be one of ccm, complex_ccm, pcm: 'rpm'"),
    ({"care_manager": "kim"}, "row 2: care_manager_email: not an email address: 'kim'"),
    ({"billing": "dr osei@x.org"}, "row 2: billing_practitioner_email: not an email address: "
                                   "'dr osei@x.org'"),
    ({"code": "E1.19"}, "row 2: icd10_code: not an ICD-10-CM code: 'E1.19'"),
    ({"code": "diabetes"}, "row 2: icd10_code: not an ICD-10-CM code: 'diabetes'"),
    ({"code": "I10", "description": "x" * 501}, "row 2: condition_description: longer than "
                                                "500 characters"),
    ({"code": "I10", "onset": "2026-12-01"}, "row 2: onset_date: in the future: 2026-12-01"),
    ({"code": "I10", "onset": "2026-02-30"}, "row 2: onset_date: not a date (YYYY-MM-DD): "
                                             "'2026-02-30'"),
    ({"code": "I10", "onset": "2020-06-01", "resolved": "2019-06-01"},
     "row 2: resolved_date: 2019-06-01 is before the onset date 2020-06-01"),
    ({"onset": "2020-06-01", "resolved": "2021-01-01"},
     "row 2: icd10_code: required when onset_date, resolved_date is given"),
])
def test_each_kind_of_row_error(kwargs: dict[str, str], expected: str) -> None:
    panel = csv_of(line(**kwargs), line("OK1"))
    assert errors(panel) == [expected]
    assert [p.mrn for p in panel.patients] == ["OK1"]  # the good row is still read
    assert len(panel.rejected) == 1


def test_every_problem_of_a_line_is_reported_not_just_the_first() -> None:
    panel = csv_of(line(phone="none", program="ccx", code="E1.19"))
    assert errors(panel) == ["row 2: phone: not a phone number: 'none'",
                             "row 2: program: must be one of ccm, complex_ccm, pcm: 'ccx'",
                             "row 2: icd10_code: not an ICD-10-CM code: 'E1.19'"]
    assert all(e.mrn == "A1" for e in panel.errors)


def test_a_bad_condition_line_refuses_the_whole_patient() -> None:
    panel = csv_of(line("A1", code="I10"), line("A1", "", "", "", code="E1.19"),
                   line("A1", "", "", "", code="E11.9"))
    assert errors(panel) == ["row 3: icd10_code: not an ICD-10-CM code: 'E1.19'"]
    assert panel.patients == []
    assert [(r.mrn, r.rows) for r in panel.rejected] == [("A1", ("row 2", "row 3", "row 4"))]


def test_a_line_with_the_wrong_number_of_values_refuses_its_patient() -> None:
    panel = csv_of(line("A1", code="I10"), line("A1", "", "", "", code="E11.9") + ",extra")
    assert errors(panel) == ["row 3: columns: has 14 values, the header has 13 columns"]
    assert panel.patients == [] and panel.rejected[0].mrn == "A1"


def test_later_lines_must_agree_with_the_first() -> None:
    panel = csv_of(line("A1", "Raymond", code="G20"), line("A1", "Ray", code="E03.9"),
                   line("A1", "", "", birth="1948-03-15"))
    assert errors(panel) == [
        "row 3: given_name: 'Ray' differs from 'Raymond' on row 2 for the same MRN",
        "row 4: birth_date: '1948-03-15' differs from '1948-03-14' on row 2 for the same MRN",
    ]
    assert panel.patients == []


def test_the_same_code_twice_with_other_details_is_an_error() -> None:
    panel = csv_of(line(code="I10", onset="2010-01-01"), line(code="i10", onset="2011-01-01"))
    assert errors(panel) == ["row 3: icd10_code: I10 is already listed for this patient on "
                             "row 2 with other details"]


def test_a_line_without_mrn_is_its_own_rejected_row() -> None:
    panel = csv_of(line(""), line("A1"))
    assert [(r.mrn, r.rows) for r in panel.rejected] == [(None, ("row 2",))]
    assert panel.errors[0].mrn is None


def test_sample_broken_csv_reports_every_broken_row() -> None:
    panel = parse_csv((DATA / "panel_broken.csv").read_text(), today=TODAY)
    assert errors(panel) == [
        "row 5: icd10_code: not an ICD-10-CM code: 'E1.19'",
        "row 6: mrn: required",
        "row 7: birth_date: not a date (YYYY-MM-DD): '1950-13-01'",
        "row 8: phone: not a phone number: 'phone-less'",
        "row 8: program: must be one of ccm, complex_ccm, pcm: 'ccx'",
        "row 10: resolved_date: 2019-06-01 is before the onset date 2020-06-01",
        "row 11: columns: has 14 values, the header has 13 columns",
        "row 13: given_name: 'Ray' differs from 'Raymond' on row 12 for the same MRN",
    ]
    # B2006's unknown care manager is found by the importer, which knows the practice.
    assert [p.mrn for p in panel.patients] == ["B2001", "B2006", "B2010"]


# --- FHIR ------------------------------------------------------------------------------------


def bundle(*resources: dict[str, Any], **extra: Any) -> str:
    entries = [{"fullUrl": f"urn:uuid:{r.get('id', i)}", "resource": r}
               for i, r in enumerate(resources)]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries,
                       **extra})


def fhir_of(*resources: dict[str, Any]) -> ParsedPanel:
    return parse_bundle(bundle(*resources), today=TODAY)


MR = {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}]}


def patient(pid: str = "p1", mrn: str | None = "A1", **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"type": MR, "value": mrn}] if mrn else [],
        "name": [{"family": "Garcia", "given": ["Rosa"]}], "birthDate": "1948-03-14"}
    resource.update(fields)
    return resource


def condition(cid: str = "c1", subject: str = "Patient/p1", code: str = "I10",
              system: str = ICD10_CM, status: str | None = "active",
              **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": cid, "subject": {"reference": subject},
        "code": {"coding": [{"system": system, "code": code, "display": f"about {code}"}]}}
    if status:
        resource["clinicalStatus"] = {"coding": [{"code": status}]}
    resource.update(fields)
    return resource


def test_sample_good_bundle_reads_without_errors() -> None:
    panel = parse_bundle((DATA / "bundle_good.json").read_text(), today=TODAY)
    assert errors(panel) == [] and panel.rejected == []
    assert (panel.format, panel.rows) == ("fhir", 11)
    assert panel.notes == ["skipped entries of other resource types: Observation ×1"]
    carmen, otis, ida = panel.patients
    assert (carmen.mrn, carmen.given_name, carmen.family_name) == ("F3001", "Carmen Luisa",
                                                                   "Martinez")
    assert (carmen.phone, carmen.preferred_language) == ("+1-312-555-0301", "es")
    assert [(c.code, c.onset_date, c.resolved_date) for c in carmen.conditions] == [
        ("E11.22", date(2014, 3, 1), None), ("N18.30", date(2019, 8, 12), None),
        ("S93.401A", date(2025, 1, 3), date(2025, 2, 14))]
    assert carmen.conditions[0].description.startswith("Type 2 diabetes mellitus")
    assert otis.mrn == "F3002" and [c.code for c in otis.conditions] == ["I48.91"]
    # the only identifier has no type: taken as the MRN; the "old" name is passed over
    assert (ida.mrn, ida.family_name) == ("F3003", "Novak")
    assert [c.code for c in ida.conditions] == ["J44.9", "F32.9"]
    assert ida.notes == ["entry[10] Condition/fc7 skipped: verificationStatus is "
                         "entered-in-error"]
    assert carmen.program is None and carmen.care_manager_email is None  # not in FHIR


def test_sample_broken_bundle_reports_every_broken_entry() -> None:
    panel = parse_bundle((DATA / "bundle_broken.json").read_text(), today=TODAY)
    assert errors(panel) == [
        "entry[3] Patient/b2: birthDate: not a valid FHIR date: '1950-13-01'",
        "entry[5] Patient/b3: identifier: no medical record number (an identifier with type "
        "code MR)",
        "entry[7] Condition/bc4: code.coding: no ICD-10-CM coding (system "
        "http://hl7.org/fhir/sid/icd-10-cm)",
        "entry[8] Condition/bc5: subject.reference: 'Patient/b99' is not a Patient in this "
        "Bundle",
        "entry[9] Condition/bc6: abatementDateTime: required when clinicalStatus is resolved "
        "(the date the condition ended)",
        "entry[14]: resource: missing (an entry must hold a resource)",
        "entry[15] Condition/bc8: onsetDateTime: a full date is needed (YYYY-MM-DD): '2019'",
    ]
    assert [p.mrn for p in panel.patients] == ["F4001", "F4006"]
    assert {r.mrn: r.rows for r in panel.rejected}["F4002"] == ("entry[3] Patient/b2",
                                                                "entry[4] Condition/bc3")
    assert panel.notes == ["skipped entries of other resource types: Encounter ×1"]


@pytest.mark.parametrize(("text", "fragment"), [
    ("not json", "not JSON: line 1 column 1"),
    ("[1, 2]", "not a FHIR Bundle (resourceType is 'list')"),
    (json.dumps(patient()), "not a FHIR Bundle (resourceType is 'Patient')"),
    (json.dumps({"resourceType": "Bundle", "type": 5}), "not a valid FHIR R4 Bundle: type:"),
    (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": {}}),
     "entry must be a list"),
])
def test_unusable_bundles(text: str, fragment: str) -> None:
    with pytest.raises(PanelFileError) as caught:
        parse_bundle(text, today=TODAY)
    assert fragment in str(caught.value)


def test_empty_bundle_is_an_empty_panel() -> None:
    panel = parse_bundle(json.dumps({"resourceType": "Bundle", "type": "collection"}),
                         today=TODAY)
    assert (panel.rows, panel.patients, panel.errors) == (0, [], [])


def test_patient_structure_is_checked_by_the_fhir_models() -> None:
    panel = fhir_of(patient(gender=5, nickname="Rosie"), patient("p2", "B2"))
    assert errors(panel) == [
        "entry[0] Patient/p1: gender: Input should be a valid string: 5",
        "entry[0] Patient/p1: nickname: Extra inputs are not permitted: 'Rosie'",
    ]
    assert panel.errors[0].mrn == "A1"
    assert [p.mrn for p in panel.patients] == ["B2"]


@pytest.mark.parametrize(("identifiers", "expected"), [
    ([{"type": MR, "value": "A1"}, {"value": "X9"}], "A1"),
    ([{"type": {"coding": [{"code": "MR"}]}, "value": "A1"}], "A1"),
    ([{"type": MR, "value": "OLD", "use": "old"}, {"type": MR, "value": "A1"}], "A1"),
    ([{"system": "urn:oid:1.2.3", "value": "U7"}], "U7"),
])
def test_mrn_rules(identifiers: list[dict[str, Any]], expected: str) -> None:
    panel = fhir_of(patient(identifier=identifiers))
    assert errors(panel) == []
    assert panel.patients[0].mrn == expected


@pytest.mark.parametrize(("identifiers", "reason"), [
    ([], "no medical record number (an identifier with type code MR)"),
    ([{"type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "SS"}]}, "value": "999-00-1234"}],
     "no medical record number (an identifier with type code MR)"),
    ([{"value": "U1"}, {"value": "U2"}], "no medical record number (an identifier with type "
                                         "code MR)"),
    ([{"type": MR, "value": "A1"}, {"type": MR, "value": "A2"}],
     "2 different MR identifiers: A1, A2"),
    ([{"type": MR, "value": "A 1"}], "MRN must not contain spaces: 'A 1'"),
])
def test_patients_without_a_usable_mrn_are_refused(identifiers: list[dict[str, Any]],
                                                   reason: str) -> None:
    panel = fhir_of(patient(identifier=identifiers))
    assert errors(panel) == [f"entry[0] Patient/p1: identifier: {reason}"]
    assert [(r.mrn, r.rows) for r in panel.rejected] == [(None, ("entry[0] Patient/p1",))]


def test_name_phone_and_language_are_chosen_by_use() -> None:
    panel = fhir_of(patient(
        name=[{"use": "usual", "family": "G", "given": ["Ro"]},
              {"use": "official", "family": "Garcia", "given": ["Rosa", "Maria"]}],
        telecom=[{"system": "phone", "value": "312-555-0000", "use": "work"},
                 {"system": "email", "value": "r@example.org"},
                 {"system": "phone", "value": "312-555-0001", "use": "mobile"},
                 {"system": "phone", "value": "312-555-0002", "use": "old"}],
        communication=[{"language": {"coding": [{"code": "en"}]}},
                       {"language": {"coding": [{"code": "es-MX"}]}, "preferred": True}]))
    record = panel.patients[0]
    assert (record.given_name, record.family_name) == ("Rosa Maria", "Garcia")
    assert record.phone == "312-555-0001"
    assert record.preferred_language == "es-MX"


@pytest.mark.parametrize(("fields", "expected"), [
    ({"name": []}, "name: required (a name with family and given parts)"),
    ({"name": [{"given": ["Rosa"]}]}, "name[0].family: required"),
    ({"name": [{"family": "Garcia"}]}, "name[0].given: required"),
    ({"birthDate": "1948"}, "birthDate: a full date is needed (YYYY-MM-DD): '1948'"),
    ({"birthDate": "2027-01-01"}, "birthDate: in the future: 2027-01-01"),
    ({"telecom": [{"system": "phone", "value": "ask the daughter"}]},
     "telecom[0].value: not a phone number: 'ask the daughter'"),
    ({"communication": [{"language": {"coding": [{"code": "Spanish language"}]}}]},
     "communication[0].language.coding[0].code: not a language code (e.g. en, es, zh-TW): "
     "'Spanish language'"),
])
def test_patient_field_errors(fields: dict[str, Any], expected: str) -> None:
    panel = fhir_of(patient(**fields))
    assert errors(panel) == [f"entry[0] Patient/p1: {expected}"]


def test_a_missing_birth_date_is_required() -> None:
    resource = patient()
    del resource["birthDate"]
    assert errors(fhir_of(resource)) == ["entry[0] Patient/p1: birthDate: required"]


def test_two_patients_with_one_mrn_are_both_refused() -> None:
    panel = fhir_of(patient("p1", "A1"), patient("p2", "A1"), patient("p3", "B2"))
    assert errors(panel) == [
        "entry[0] Patient/p1: identifier: MRN 'A1' is also used by entry[1] Patient/p2",
        "entry[1] Patient/p2: identifier: MRN 'A1' is also used by entry[0] Patient/p1: one "
        "Patient per MRN",
    ]
    assert [p.mrn for p in panel.patients] == ["B2"]


def test_conditions_find_their_patient_by_id_or_full_url_in_any_order() -> None:
    panel = fhir_of(condition("c1", "Patient/p1", "E11.9"), patient(),
                    condition("c2", "urn:uuid:p1", "I10"))
    assert errors(panel) == []
    assert [c.code for c in panel.patients[0].conditions] == ["E11.9", "I10"]
    assert panel.patients[0].rows == ("entry[1] Patient/p1", "entry[0] Condition/c1",
                                      "entry[2] Condition/c2")


def test_condition_dates_and_statuses() -> None:
    panel = fhir_of(patient(),
                    condition("c1", code="E11.9", onsetDateTime="2019-04-01T10:00:00-05:00"),
                    condition("c2", code="J06.9", status="resolved",
                              onsetDateTime="2025-01-01", abatementDateTime="2025-01-20"),
                    condition("c3", code="F33.1", status=None, abatementDateTime="2024-05-05"),
                    condition("c4", code="I10", status="recurrence"))
    assert errors(panel) == []
    got = [(c.code, c.onset_date, c.resolved_date) for c in panel.patients[0].conditions]
    assert got == [("E11.9", date(2019, 4, 1), None),
                   ("J06.9", date(2025, 1, 1), date(2025, 1, 20)),
                   ("F33.1", None, date(2024, 5, 5)), ("I10", None, None)]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"system": "http://snomed.info/sct", "code": "38341003"},
     "code.coding: no ICD-10-CM coding (system http://hl7.org/fhir/sid/icd-10-cm)"),
    ({"code": "E1.19"}, "code.coding[0].code: not an ICD-10-CM code: 'E1.19'"),
    ({"status": "resolved"}, "abatementDateTime: required when clinicalStatus is resolved "
                             "(the date the condition ended)"),
    ({"status": "remission"}, "abatementDateTime: required when clinicalStatus is remission "
                              "(the date the condition ended)"),
    ({"status": "active", "abatementDateTime": "2020-01-01"},
     "clinicalStatus: is active but abatementDateTime says the condition ended 2020-01-01"),
    ({"status": "resolved", "onsetDateTime": "2020-01-01", "abatementDateTime": "2019-01-01"},
     "abatementDateTime: 2019-01-01 is before the onset date 2020-01-01"),
    ({"onsetDateTime": "2019-04"}, "onsetDateTime: a full date is needed (YYYY-MM-DD): "
                                   "'2019-04'"),
    ({"onsetDateTime": "2027-01-01"}, "onsetDateTime: in the future: 2027-01-01"),
    ({"onsetDateTime": "2019-02-30"}, "onsetDateTime: Input should be a valid datetime or "
                                      "date, day value is outside expected range: "
                                      "'2019-02-30'"),
])
def test_a_bad_condition_refuses_its_patient(fields: dict[str, Any], expected: str) -> None:
    panel = fhir_of(patient(), condition("c0", code="E11.9"), condition(**fields),
                    patient("p2", "B2"))
    assert errors(panel) == [f"entry[2] Condition/c1: {expected}"]
    assert panel.errors[0].mrn == "A1"
    assert [p.mrn for p in panel.patients] == ["B2"]  # A1 not imported without it
    assert [r.mrn for r in panel.rejected] == ["A1"]


def test_a_condition_without_subject_is_an_error_of_its_own() -> None:
    resource = condition()
    del resource["subject"]
    panel = fhir_of(patient(), resource)
    assert errors(panel) == ["entry[1] Condition/c1: subject: Field required"]
    assert [p.mrn for p in panel.patients] == ["A1"]


def test_the_same_code_twice_with_other_dates_refuses_the_patient() -> None:
    panel = fhir_of(patient(), condition("c1", onsetDateTime="2010-01-01"),
                    condition("c2", onsetDateTime="2011-01-01"))
    assert errors(panel) == ["entry[2] Condition/c2: code: I10 is already listed for this "
                             "patient by entry[1] Condition/c1 with other dates"]


def test_refuted_conditions_are_skipped_with_a_note() -> None:
    panel = fhir_of(patient(), condition(verificationStatus={"coding": [{"code": "refuted"}]}))
    assert errors(panel) == []
    assert panel.patients[0].conditions == []
    assert panel.patients[0].notes == ["entry[1] Condition/c1 skipped: verificationStatus is "
                                       "refuted"]


def test_describe_rows() -> None:
    assert describe_rows(("row 2",)) == "row 2"
    assert describe_rows(("row 2", "row 5")) == "rows 2, 5"
    assert describe_rows(("entry[0] Patient/p1", "entry[1] Condition/c1")) == \
        "entry[0] Patient/p1 +1 entry"
    assert describe_rows(()) == ""
