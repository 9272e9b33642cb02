"""National non-facility Medicare payment per code and year (docs/cms-ccm-rules.md §1b)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Fee:
    """One payment figure; `approximate` marks secondary-source "~" values and ranges."""

    amount: Decimal
    approximate: bool = False
    source: str = ""


# None means the rules document says "not found": such a code ranks as $0 when lanes are
# compared but is still billable. Ranges ("~$48-50") are entered at their lower bound.
FEE_SCHEDULE: dict[int, dict[str, Fee | None]] = {
    2025: {
        "99490": Fee(Decimal("60.49"), source="HumWorld-2025"),
        "99439": Fee(Decimal("45.93"), source="HumWorld-2025; medpayiq-99439"),
        "99491": Fee(Decimal("82.16"), source="HumWorld-2025"),
        "99437": Fee(Decimal("57.58"), source="HumWorld-2025"),
        "99487": Fee(Decimal("131.65"), source="HumWorld-2025"),
        "99489": Fee(Decimal("70.52"), source="medpayiq-99489 (RVU 2.18)"),
        "99424": None,
        "99425": None,
        "99426": None,
        "99427": None,
    },
    2026: {
        "99490": Fee(Decimal("66.13"), source="payerready-99490; cptcalc-99490 (RVU 1.98)"),
        "99439": Fee(
            Decimal("48.00"), approximate=True, source="~$48-50, lower bound; positivecheck"
        ),
        "99491": None,
        "99437": Fee(Decimal("63.13"), source="payerready-99437 (RVU 1.89)"),
        "99487": Fee(Decimal("144.29"), approximate=True, source="~$144.29; immedicare-99489"),
        "99489": Fee(Decimal("78.16"), source="immedicare-99489; payerready-99489 (RVU 2.34)"),
        "99424": Fee(Decimal("87.84"), approximate=True, source="~$87.84; ccnhealth-99424"),
        "99425": Fee(Decimal("61.46"), source="cptcalc-99425 (RVU 1.84)"),
        "99426": None,
        "99427": Fee(Decimal("45.42"), source="cptcalc-99427 (RVU 1.36)"),
    },
}


def fee_years() -> tuple[int, ...]:
    return tuple(sorted(FEE_SCHEDULE))


def fee_for(year: int, code: str) -> Fee | None:
    """None for an unknown year or code, so a missing figure never blocks billing."""
    return FEE_SCHEDULE.get(year, {}).get(code)
