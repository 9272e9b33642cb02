"""Reflex side of the field kit (assets/field/field.js): client-state vars, its React
components, and buttons that call it directly.

Offline-critical screens never go through backend event handlers (offline notes P4/P5):
their data lives in ClientStateVars that field.js fills from the field API, and their
buttons are JavaScript functions, not queued Reflex events.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.experimental.client_state import ClientStateVar
from reflex_base.vars.base import Var
from reflex_base.vars.function import FunctionVar

FIELD_JS = "$/public/field/field.js"


class FieldRuntime(rx.Component):
    """Mounts the field kit on a screen and loads that screen's data."""

    library = FIELD_JS
    tag = "FieldRuntime"
    view: Var[str]


class ElapsedTimer(rx.Component):
    """Ticking display of a running timer, computed from its stored start instant."""

    library = FIELD_JS
    tag = "ElapsedTimer"
    started_at: Var[str]


class MinutesBar(rx.Component):
    """This month's minutes against the program's thresholds; green once one is passed."""

    library = FIELD_JS
    tag = "MinutesBar"
    minutes: Var[str]
    marks: Var[str]
    label: Var[str]


field_runtime = FieldRuntime.create
elapsed_timer = ElapsedTimer.create
minutes_bar = MinutesBar.create


def js(expression: str) -> Any:
    """A click handler that runs `expression` in the browser, outside Reflex's event queue.

    Arguments may be foreach items (`arg(row["id"])`) but never client-state values: those
    need hooks a plain expression cannot carry, so the field kit reads the patient on screen
    itself.
    """
    return Var(f"(() => {{ {expression}; }})").to(FunctionVar, rx.EventChain)


def arg(var: Var | str) -> str:
    """A Var (or a Python string) as a JavaScript argument."""
    return str(var) if isinstance(var, Var) else repr(var)


# All-lowercase names: Reflex derives the setter by capitalising the name (offline notes).
ROWS = ClientStateVar.create("rows", Var.create([]).to(list[dict[str, str]]))
WORKLIST_INFO = ClientStateVar.create("worklistinfo", {"month": "", "days_left": "",
                                                       "practices": "",
                                                       "count": "", "total": "",
                                                       "filter": "all", "loaded": "",
                                                       "more": "0"})
# Every key a screen reads exists from the start, so nothing renders an undefined list.
EMPTY_PATIENT: dict[str, Any] = {
    "id": "", "name": "", "missing": "", "summary": "", "conditions": "", "consent": "",
    "practitioner": "", "eligible": "", "eligibility": "", "enrolled": "", "month": "",
    "minutes": "0", "marks": "", "status": "", "codes": "", "next": "", "blocking": "",
    "last_month": "", "tel": "", "phone": "", "mrn": "", "has_plan": "", "plan_line": "",
    "pending": "", "practice": "",
    "entries": [], "notes": [], "tasks": [], "elements": [],
}
PATIENT = ClientStateVar.create("patient", Var.create(EMPTY_PATIENT).to(dict[str, Any]))
HISTORY = ClientStateVar.create("history", Var.create([]).to(list[dict[str, str]]))
TIMER = ClientStateVar.create("timer", {"running": "no", "patient_id": "", "patient_name": "",
                                        "started_at": "0"})
STOP_FORM = ClientStateVar.create("stopform", {"open": "no", "seconds": "0", "elapsed": "",
                                               "minutes": "0", "long": "no",
                                               "patient_name": ""})
CANDIDATES = ClientStateVar.create("candidates", Var.create([]).to(list[dict[str, str]]))
PENDING = ClientStateVar.create("pending", 0)
# The sync client's state for the calm offline indicator (state: online | offline | refused).
SYNC = ClientStateVar.create("sync", {"state": "online", "pending": "0", "stale": "no",
                                      "oldest": "", "error": ""})
UPDATE = ClientStateVar.create("update", "no")  # "yes": a new build is installed and waiting
REJECTIONS = ClientStateVar.create("rejections", Var.create([]).to(list[dict[str, str]]))
CONFLICTS = ClientStateVar.create("conflicts", Var.create([]).to(list[dict[str, str]]))
CONFLICT_COUNT = ClientStateVar.create("conflictcount", 0)
# Reminders on this phone (state: unsupported | denied | off | on | working).
REMINDERS = ClientStateVar.create("reminders", {"state": "", "devices": "", "message": ""})
ME = ClientStateVar.create("me", {"name": "", "role": ""})  # from the last sync, for offline
NOTICE = ClientStateVar.create("notice", "")
SYNC_ERROR = ClientStateVar.create("syncerror", "")


def patient_field(name: str) -> Var:
    return PATIENT.value[name].to(str)


def patient_list(name: str) -> Var:
    return PATIENT.value[name].to(list[dict[str, str]])
