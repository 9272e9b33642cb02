"""Reference lists for the demo practice: real ICD-10-CM codes, names, notes.

The chronic codes are the conditions CCM panels are made of (CMS chronic-condition
categories); the few non-chronic ones make sure eligibility is computed, not assumed.
"""

from __future__ import annotations

# (code, description, chronic)
CHRONIC_CONDITIONS: list[tuple[str, str]] = [
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("E11.65", "Type 2 diabetes mellitus with hyperglycemia"),
    ("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease"),
    ("I10", "Essential (primary) hypertension"),
    ("J44.9", "Chronic obstructive pulmonary disease, unspecified"),
    ("J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation"),
    ("I50.22", "Chronic systolic (congestive) heart failure"),
    ("I50.32", "Chronic diastolic (congestive) heart failure"),
    ("N18.30", "Chronic kidney disease, stage 3 unspecified"),
    ("N18.4", "Chronic kidney disease, stage 4 (severe)"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("I48.91", "Unspecified atrial fibrillation"),
    ("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris"),
    ("F33.1", "Major depressive disorder, recurrent, moderate"),
    ("J45.40", "Moderate persistent asthma, uncomplicated"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("E03.9", "Hypothyroidism, unspecified"),
    ("G30.9", "Alzheimer's disease, unspecified"),
    ("M81.0", "Age-related osteoporosis without current pathological fracture"),
    ("E66.9", "Obesity, unspecified"),
    ("G20.A1", "Parkinson's disease without dyskinesia, without mention of fluctuations"),
]

# Plain words for the worklist ("diabetes, heart failure"), keyed by code prefix.
PLAIN_WORDS: dict[str, str] = {
    "E11": "diabetes",
    "I10": "high blood pressure",
    "J44": "COPD",
    "I50": "heart failure",
    "N18": "kidney disease",
    "E78": "high cholesterol",
    "I48": "atrial fibrillation",
    "I25": "coronary artery disease",
    "F33": "depression",
    "J45": "asthma",
    "M17": "knee arthritis",
    "E03": "low thyroid",
    "G30": "Alzheimer's",
    "M81": "osteoporosis",
    "E66": "obesity",
    "G20": "Parkinson's",
}

ACUTE_CONDITIONS: list[tuple[str, str]] = [
    ("J06.9", "Acute upper respiratory infection, unspecified"),
    ("S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter"),
    ("N39.0", "Urinary tract infection, site not specified"),
]

GIVEN_NAMES = [
    "Rosa", "James", "Mary", "Robert", "Patricia", "John", "Linda", "Michael", "Barbara",
    "William", "Elizabeth", "David", "Jennifer", "Richard", "Maria", "Joseph", "Susan",
    "Thomas", "Margaret", "Charles", "Dorothy", "Nguyen", "Mei", "Luis", "Carmen", "Ahmed",
    "Fatima", "Walter", "Gloria", "Harold", "Evelyn", "Frank", "Ruth", "Raymond", "Juanita",
    "Earl", "Bernice", "Leroy", "Hazel", "Wei", "Lan", "Jorge", "Esperanza", "Otis", "Ida",
]
FAMILY_NAMES = [
    "Garcia", "Johnson", "Smith", "Williams", "Brown", "Jones", "Miller", "Davis", "Martinez",
    "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Tran", "Nguyen", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen",
    "King", "Wright", "Hernandez", "Chen", "Khan", "Okafor", "Schmidt", "Novak", "Begay",
]
LANGUAGES = ["en"] * 14 + ["es"] * 4 + ["vi", "zh", "ar"]

CARE_MANAGER_NAMES = [
    ("Kim Alvarez", "RN"), ("Dana Brooks", "LPN"), ("Priya Raman", "RN"), ("Tom Okoro", "MA"),
    ("Lena Fischer", "RN"), ("Marcus Bell", "LPN"), ("Sofia Reyes", "RN"), ("Grace Liu", "RN"),
]

NOTE_TEMPLATES = {
    "phone_call_patient": [
        "Called patient: reviewed home BP log, averaging {bp}. Reinforced low-salt diet.",
        "Called patient about fasting glucose readings ({glucose} mg/dL). Adherent to metformin.",
        "Phone check-in: no new symptoms, sleeping better, walking 15 min daily.",
    ],
    "phone_call_caregiver": [
        "Spoke with daughter (caregiver): pill organizer filled weekly, no missed doses.",
    ],
    "care_coordination": [
        "Coordinated cardiology follow-up; faxed latest care plan to the clinic.",
        "Arranged home-health nursing visit for wound check.",
    ],
    "medication_reconciliation": [
        "Medication reconciliation after pharmacy refill: furosemide dose confirmed 40 mg daily.",
    ],
    "records_review": [
        "Reviewed A1c result ({a1c}%) and eGFR; flagged for practitioner review.",
    ],
    "care_plan_revision": [
        "Updated care plan goals with patient: A1c under 8%, daily weight log.",
    ],
    "transition_follow_up": [
        "Post-discharge call: discharge summary reviewed, follow-up visit booked within 7 days.",
    ],
    "community_services": [
        "Referred to Meals on Wheels; transportation benefit explained.",
    ],
}
