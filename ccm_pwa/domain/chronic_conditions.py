"""Which ICD-10-CM codes count as chronic conditions for CCM and PCM eligibility.

Why a list: CMS defines a qualifying chronic condition clinically: it is expected to last at
least 12 months (PCM: at least 3 months) or until death, and it puts the patient at
significant risk of death, acute exacerbation or decompensation, or functional decline
(shared/docs/cms-ccm-rules.md §1a, [MLN-2015; RHI-CCM]). CMS publishes no code list for
that definition. An import therefore needs a stated, versioned list, so that every
"eligible" the app prints can be traced back to a rule someone can review.

Source: the condition categories of the CMS Chronic Conditions Warehouse (CCW),
https://www2.ccwdata.org/web/guest/condition-categories. The CCW lists 27 common chronic
conditions and about 40 "other chronic or potentially disabling conditions". This list
keeps their category names and the ICD-10-CM code families behind them, with these
simplifications:
- matching is by code prefix (a three-character category such as "E11", or a longer
  subcategory such as "G31.83"), not the CCW's exact code lists;
- the CCW's claim-count and look-back rules are left out: a problem-list entry is enough;
- CCW categories that are episodes rather than lasting conditions are left out (acute
  myocardial infarction as a category of its own, hip or pelvic fracture, cataract), and
  so are tobacco use, hearing and vision loss and mobility impairments. I21/I22 still
  count, inside ischemic heart disease I20–I25, as they do in the CCW;
- a few families outside the CCW that CCM panels commonly carry are added and marked
  "not a CCW category" below (inflammatory bowel disease).

A code on the list is not proof of eligibility: the billing practitioner still judges that
the conditions meet the CMS definition for this patient. A code not on the list still
imports, but with `chronic` false, so it does not count towards the 2 (CCM) or 1 (PCM)
conditions.

How to maintain it (docs/import.md, "The chronic-condition list"):
1. Add or remove prefixes in `CATEGORIES`. Prefixes are written with the dot, as in the
   code book ("G31.83"); three characters cover a whole category. A longer prefix wins
   over a shorter one, so a subcategory may belong to another category than its parent;
   the same prefix may not be listed twice (D57, sickle cell disease, is therefore left
   out of the D50–D64 anemia range rather than listed in both).
2. Change `LIST_VERSION` (date plus a counter). Every import report prints it, so a
   finding can always be matched to the list that made it.
3. Run tests/unit/test_chronic_conditions.py: it checks every prefix is well formed and
   claimed by exactly one category.
4. A stored `Condition.chronic` flag is recomputed when an import names that condition
   again; conditions no file mentions keep the flag they were given.

Pure: no database, no Reflex. Both the importer and its tests read it directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LIST_VERSION = "2026-11-23.1"
LIST_SOURCE = "CMS Chronic Conditions Warehouse condition categories, by ICD-10-CM prefix"

# A letter, a digit, a digit or letter, then up to four more characters (ICD-10-CM
# codes are 3 to 7 characters long). The dot, when written, follows the third character.
_DOTLESS_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")


@dataclass(frozen=True)
class ChronicCategory:
    """One condition category: what a clinician calls it and the code families in it."""

    key: str
    name: str
    prefixes: tuple[str, ...]
    note: str = ""


def _span(first: str, last: str) -> tuple[str, ...]:
    """"E08".."E13" as every three-character category between them (same letter)."""
    letter = first[0]
    assert letter == last[0], (first, last)
    return tuple(f"{letter}{n:02d}" for n in range(int(first[1:]), int(last[1:]) + 1))


CATEGORIES: tuple[ChronicCategory, ...] = (
    # --- the CCW common chronic conditions ------------------------------------------------
    ChronicCategory("alzheimers_dementia", "Alzheimer's disease or dementia",
                    (*_span("F01", "F03"), "G30", "G31.0", "G31.1", "G31.83")),
    ChronicCategory("anemia", "anemia", (*_span("D50", "D56"), *_span("D58", "D64"))),
    ChronicCategory("asthma", "asthma", ("J45",)),
    ChronicCategory("atrial_fibrillation", "atrial fibrillation", ("I48",)),
    ChronicCategory("bph", "benign prostatic hyperplasia", ("N40",)),
    ChronicCategory("cancer_breast", "breast cancer", ("C50",)),
    ChronicCategory("cancer_colorectal", "colorectal cancer", _span("C18", "C20")),
    ChronicCategory("cancer_endometrial", "endometrial cancer", ("C54", "C55")),
    ChronicCategory("cancer_lung", "lung cancer", ("C33", "C34")),
    ChronicCategory("cancer_prostate", "prostate cancer", ("C61",)),
    ChronicCategory("ckd", "chronic kidney disease", ("N18",)),
    ChronicCategory("copd", "COPD or bronchiectasis", (*_span("J41", "J44"), "J47")),
    ChronicCategory("depression", "depression", ("F32", "F33", "F34.1")),
    ChronicCategory("diabetes", "diabetes", _span("E08", "E13")),
    ChronicCategory("glaucoma", "glaucoma", ("H40", "H42")),
    ChronicCategory("heart_failure", "heart failure", ("I50",)),
    ChronicCategory("hyperlipidemia", "hyperlipidemia", ("E78",)),
    ChronicCategory("hypertension", "hypertension", _span("I10", "I16")),
    ChronicCategory("hypothyroidism", "hypothyroidism", ("E03", "E89.0")),
    ChronicCategory("ischemic_heart_disease", "ischemic heart disease", _span("I20", "I25")),
    ChronicCategory("osteoporosis", "osteoporosis", ("M80", "M81")),
    ChronicCategory("ra_oa", "rheumatoid arthritis or osteoarthritis",
                    (*_span("M05", "M06"), *_span("M15", "M19"))),
    ChronicCategory("stroke", "stroke or its after-effects", ("I61", "I63", "I69")),
    # --- CCW other chronic or potentially disabling conditions -----------------------------
    ChronicCategory("anxiety", "anxiety disorder", ("F40", "F41", "F42", "F43.1")),
    ChronicCategory("autism", "autism spectrum disorder", ("F84",)),
    ChronicCategory("bipolar", "bipolar disorder", ("F31",)),
    ChronicCategory("cerebral_palsy", "cerebral palsy", ("G80",)),
    ChronicCategory("chronic_pain", "fibromyalgia, chronic pain or fatigue",
                    ("G89.2", "G89.4", "M79.7", "R53.82")),
    ChronicCategory("cystic_fibrosis", "cystic fibrosis", ("E84",)),
    ChronicCategory("epilepsy", "epilepsy", ("G40",)),
    ChronicCategory("hepatitis", "chronic viral hepatitis", ("B18",)),
    ChronicCategory("hiv", "HIV/AIDS", ("B20", "Z21")),
    ChronicCategory("intellectual_disability", "intellectual disability", _span("F70", "F79")),
    ChronicCategory("leukemia_lymphoma", "leukemia or lymphoma",
                    (*_span("C81", "C86"), "C88", *_span("C90", "C96"))),
    ChronicCategory("liver", "chronic liver disease or cirrhosis", ("K70", "K73", "K74")),
    ChronicCategory("migraine", "migraine or chronic headache", ("G43",)),
    ChronicCategory("multiple_sclerosis", "multiple sclerosis", ("G35",)),
    ChronicCategory("muscular_dystrophy", "muscular dystrophy", ("G71.0",)),
    ChronicCategory("obesity", "obesity", ("E66",)),
    ChronicCategory("parkinsons", "Parkinson's disease", ("G20", "G21")),
    ChronicCategory("personality_disorder", "personality disorder", ("F60",)),
    ChronicCategory("peripheral_vascular", "peripheral vascular disease", ("I70", "I73")),
    ChronicCategory("schizophrenia", "schizophrenia or other psychotic disorder",
                    ("F20", "F22", "F25")),
    ChronicCategory("sickle_cell", "sickle cell disease", ("D57",)),
    ChronicCategory("substance_use", "alcohol or drug use disorder",
                    (*_span("F10", "F16"), "F18", "F19")),
    ChronicCategory("ulcers", "pressure or chronic skin ulcer", ("L89", "L97", "L98.4")),
    # --- additions outside the CCW -----------------------------------------------------------
    ChronicCategory("ibd", "inflammatory bowel disease", ("K50", "K51"),
                    note="not a CCW category; lasts for life and is managed in primary care"),
)


def normalise(code: str) -> str:
    """The comparable form: upper case, no dot, no spaces ("e11.9 " -> "E119").

    EHR exports write codes with and without the dot; both must meet the same rule and
    must merge with a code already on file written the other way.
    """
    return re.sub(r"[\s.]", "", code).upper()


def display(code: str) -> str:
    """The code-book form, with the dot after the third character ("E119" -> "E11.9")."""
    key = normalise(code)
    return f"{key[:3]}.{key[3:]}" if len(key) > 3 else key


def looks_like_icd10_cm(code: str) -> bool:
    """Shaped like an ICD-10-CM code; whether the code exists is the EHR's business."""
    stripped = code.strip().upper()
    if "." in stripped and stripped.index(".") != 3:
        return False
    return bool(_DOTLESS_CODE.match(normalise(code)))


def _build_index() -> dict[str, ChronicCategory]:
    index: dict[str, ChronicCategory] = {}
    for item in CATEGORIES:
        for prefix in item.prefixes:
            key = normalise(prefix)
            if key in index:
                raise ValueError(f"prefix {prefix} is in both {index[key].key} and {item.key}")
            index[key] = item
    return index


_INDEX = _build_index()
_LONGEST = max(len(k) for k in _INDEX)


def category(code: str) -> ChronicCategory | None:
    """The chronic category of `code` by its longest listed prefix, or None if not chronic."""
    key = normalise(code)
    for length in range(min(len(key), _LONGEST), 2, -1):
        found = _INDEX.get(key[:length])
        if found is not None:
            return found
    return None


def is_chronic(code: str) -> bool:
    return category(code) is not None


def condition_key(code: str) -> str:
    """What makes two diagnosis codes the same *condition* for the "two or more" rule.

    CMS asks for two chronic conditions, not two codes: E11.9 and E11.65 are one patient's
    diabetes, and a claim resting on them invites a denial (rules §1a, checklist item 4 of
    §5). The audit-safe reading counts a listed category once ("diabetes"); a code not on
    the list counts once per three-character ICD-10-CM category ("M99.01" and "M99.03" are
    one). Spelling never matters ("E11.9" = "e119").
    """
    found = category(code)
    return f"category:{found.key}" if found is not None else f"icd10:{normalise(code)[:3]}"


def distinct_conditions(codes: Iterable[str]) -> frozenset[str]:
    """The conditions `codes` amount to (blank codes ignored)."""
    return frozenset(condition_key(code) for code in codes if code.strip())
