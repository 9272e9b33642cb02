"""The billing lanes as data: codes, full-time thresholds, add-on caps and whose time counts."""

from __future__ import annotations

from dataclasses import dataclass

from ccm_pwa.domain.billing_case import Performer, Program

STAFF_AND_PRACTITIONER = frozenset({Performer.CLINICAL_STAFF, Performer.BILLING_PRACTITIONER})
PRACTITIONER_ONLY = frozenset({Performer.BILLING_PRACTITIONER})


@dataclass(frozen=True)
class LineSpec:
    """A code and unit count that `threshold_minutes` of lane time fully supports."""

    code: str
    units: int
    threshold_minutes: int


@dataclass(frozen=True)
class Lane:
    """One way to bill a patient-month: a base code plus capped add-on units.

    `tie_rank` orders lanes that pay the same: lower wins, staff lanes first, because their
    documentation is simpler to defend.
    """

    key: str
    name: str
    base_code: str
    base_minutes: int
    add_on_code: str
    add_on_minutes: int
    max_add_on_units: int
    counted_performers: frozenset[Performer]
    tie_rank: int
    cap_reason: str
    needs_complex_mdm: bool = False

    def thresholds(self) -> tuple[int, ...]:
        """Minutes at which each further unit is earned: base, then each full add-on step."""
        return tuple(
            self.base_minutes + self.add_on_minutes * units
            for units in range(self.max_add_on_units + 1)
        )

    def lines_for(self, minutes: int) -> tuple[LineSpec, ...]:
        """Full thresholds only (no midpoint, no rounding up); an add-on never without base."""
        if minutes < self.base_minutes:
            return ()
        lines = [LineSpec(self.base_code, 1, self.base_minutes)]
        add_on_units = min(
            (minutes - self.base_minutes) // self.add_on_minutes, self.max_add_on_units
        )
        if add_on_units:
            threshold = self.base_minutes + self.add_on_minutes * add_on_units
            lines.append(LineSpec(self.add_on_code, add_on_units, threshold))
        return tuple(lines)

    def next_after(self, minutes: int) -> tuple[str, int] | None:
        """The next code to earn and the lane minutes it needs; None once the cap is hit."""
        for threshold in self.thresholds():
            if minutes < threshold:
                code = self.base_code if threshold == self.base_minutes else self.add_on_code
                return code, threshold
        return None


CCM_STAFF = Lane(
    key="ccm_staff",
    name="Non-complex CCM (99490 + 99439)",
    base_code="99490",
    base_minutes=20,
    add_on_code="99439",
    add_on_minutes=20,
    max_add_on_units=2,
    counted_performers=STAFF_AND_PRACTITIONER,
    tie_rank=0,
    cap_reason="CMS frequency limit of 2 per month",
)
CCM_COMPLEX = Lane(
    key="ccm_complex",
    name="Complex CCM (99487 + 99489)",
    base_code="99487",
    base_minutes=60,
    add_on_code="99489",
    add_on_minutes=30,
    max_add_on_units=10,
    counted_performers=STAFF_AND_PRACTITIONER,
    tie_rank=2,
    cap_reason="no CPT monthly cap; its MUE of 10 is used",
    needs_complex_mdm=True,
)
CCM_PRACTITIONER = Lane(
    key="ccm_practitioner",
    name="CCM by the billing practitioner personally (99491 + 99437)",
    base_code="99491",
    base_minutes=30,
    add_on_code="99437",
    add_on_minutes=30,
    max_add_on_units=2,
    counted_performers=PRACTITIONER_ONLY,
    tie_rank=3,
    cap_reason="no monthly cap found; its MUE of 2 per date of service is used",
)
PCM_STAFF = Lane(
    key="pcm_staff",
    name="PCM by clinical staff (99426 + 99427)",
    base_code="99426",
    base_minutes=30,
    add_on_code="99427",
    add_on_minutes=30,
    max_add_on_units=2,
    counted_performers=STAFF_AND_PRACTITIONER,
    tie_rank=1,
    cap_reason="sources conflict (no cap vs 2); the lower, 2, is used",
)
PCM_PRACTITIONER = Lane(
    key="pcm_practitioner",
    name="PCM by the billing practitioner (99424 + 99425)",
    base_code="99424",
    base_minutes=30,
    add_on_code="99425",
    add_on_minutes=30,
    max_add_on_units=2,
    counted_performers=PRACTITIONER_ONLY,
    tie_rank=4,
    cap_reason="no cap found (VERIFY); 2 is used, as for 99427 and 99437",
)

# The first lane of each program is the one progress screens show.
PROGRAM_LANES: dict[Program, tuple[Lane, ...]] = {
    Program.CCM: (CCM_STAFF, CCM_PRACTITIONER),
    Program.COMPLEX_CCM: (CCM_COMPLEX, CCM_STAFF, CCM_PRACTITIONER),
    Program.PCM: (PCM_STAFF, PCM_PRACTITIONER),
}

MINIMUM_CONDITIONS: dict[Program, int] = {
    Program.CCM: 2,
    Program.COMPLEX_CCM: 2,
    Program.PCM: 1,
}
