"""The chronic-condition list: well formed, unambiguous, and right about common codes."""

from __future__ import annotations

import re

import pytest

from ccm_pwa.domain import chronic_conditions as cc
from ccm_pwa.services.demo_data import ACUTE_CONDITIONS, CHRONIC_CONDITIONS


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("E11.9", "diabetes"), ("E08.00", "diabetes"), ("E13.9", "diabetes"),
        ("I10", "hypertension"), ("I16.0", "hypertension"), ("I50.22", "heart_failure"),
        ("J44.9", "copd"), ("J45.40", "asthma"), ("N18.30", "ckd"), ("F32.9", "depression"),
        ("F33.1", "depression"), ("F34.1", "depression"), ("F03.90", "alzheimers_dementia"),
        ("G30.9", "alzheimers_dementia"), ("G31.83", "alzheimers_dementia"),
        ("I48.91", "atrial_fibrillation"), ("I25.10", "ischemic_heart_disease"),
        ("E78.5", "hyperlipidemia"), ("M81.0", "osteoporosis"), ("M05.79", "ra_oa"),
        ("M17.11", "ra_oa"), ("I63.9", "stroke"), ("I69.354", "stroke"),
        ("E03.9", "hypothyroidism"), ("D50.9", "anemia"), ("D64.9", "anemia"),
        ("D57.1", "sickle_cell"), ("C50.911", "cancer_breast"), ("C61", "cancer_prostate"),
        ("E66.9", "obesity"), ("B20", "hiv"), ("G20.A1", "parkinsons"), ("G40.909", "epilepsy"),
        ("F20.9", "schizophrenia"), ("F31.9", "bipolar"),
    ],
)
def test_common_chronic_codes_have_their_category(code: str, key: str) -> None:
    found = cc.category(code)
    assert found is not None and found.key == key
    assert cc.is_chronic(code)


@pytest.mark.parametrize("code", ["J06.9", "S93.401A", "N39.0", "F34.0", "G31.84",
                                  "Z00.00", "R51.9", "F17.210"])
def test_acute_and_unlisted_codes_are_not_chronic(code: str) -> None:
    assert cc.category(code) is None
    assert not cc.is_chronic(code)


@pytest.mark.parametrize("spelling", ["E11.9", "E119", "e11.9", " e119 ", "E 11.9"])
def test_the_dot_and_case_do_not_matter(spelling: str) -> None:
    assert cc.normalise(spelling) == "E119"
    assert cc.display(spelling) == "E11.9"
    found = cc.category(spelling)
    assert found is not None and found.key == "diabetes"


def test_display_keeps_three_character_codes_without_a_dot() -> None:
    assert cc.display("i10") == "I10"
    assert cc.display("S93401A") == "S93.401A"


@pytest.mark.parametrize(("code", "ok"), [
    ("E11.9", True), ("E119", True), ("S93.401A", True), ("I10", True), ("G20.A1", True),
    ("E1.19", False), ("11.9", False), ("E11.99999", False), ("E", False), ("", False),
    ("E11-9", False),
])
def test_icd10_cm_shape(code: str, ok: bool) -> None:
    assert cc.looks_like_icd10_cm(code) is ok


def test_a_longer_prefix_wins_over_a_shorter_one() -> None:
    assert cc.category("F34.1") is not None
    assert cc.category("F34.8") is None  # only dysthymia of F34 is listed
    assert cc.category("G31.83").key == "alzheimers_dementia"  # type: ignore[union-attr]


def test_every_prefix_is_well_formed_and_listed_once() -> None:
    seen: dict[str, str] = {}
    for item in cc.CATEGORIES:
        assert item.key and item.name and item.prefixes
        for prefix in item.prefixes:
            assert re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", prefix), prefix
            key = cc.normalise(prefix)
            assert key not in seen, f"{prefix} in {seen.get(key)} and {item.key}"
            seen[key] = item.key
    assert len({item.key for item in cc.CATEGORIES}) == len(cc.CATEGORIES)


def test_list_is_versioned() -> None:
    assert re.match(r"\d{4}-\d{2}-\d{2}\.\d+$", cc.LIST_VERSION)
    assert cc.LIST_SOURCE


def test_the_demo_practice_agrees_with_the_list() -> None:
    """The demo plants chronic and acute codes; the list must call them the same way."""
    assert all(cc.is_chronic(code) for code, _ in CHRONIC_CONDITIONS)
    assert not any(cc.is_chronic(code) for code, _ in ACUTE_CONDITIONS)


@pytest.mark.parametrize("codes, conditions", [
    (["E11.9", "I10"], 2),
    (["E11.9", "E11.65"], 1),          # one diabetes, two codes
    (["E11.9", "e119", " E119 "], 1),  # one code, three spellings
    (["E10.9", "E11.9"], 1),           # type 1 and type 2: one listed category
    (["M99.01", "M99.03"], 1),         # off the list: one per three-character category
    (["M99.01", "Z99.2"], 2),
    (["", "  "], 0),
])
def test_conditions_are_counted_not_codes(codes: list[str], conditions: int) -> None:
    assert len(cc.distinct_conditions(codes)) == conditions


def test_the_billing_engine_and_enrollment_agree_on_conditions() -> None:
    from ccm_pwa.domain.billing_case import Patient, Program
    from ccm_pwa.services.enrollment import eligibility

    codes = ("E11.9", "E11.65")
    patient = Patient(chronic_conditions=codes, program=Program.CCM, consent_date=None)
    assert len(patient.distinct_conditions) == 1
    verdict = eligibility(Program.CCM, codes)
    assert not verdict.eligible and verdict.reason.endswith("1 on file")
