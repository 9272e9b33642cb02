"""Admin: practice settings (time zone, reminder time, fee year, phone app lock) and caseload
assignment (move patients between care managers; their reminders follow). Checked and
audited."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import reflex as rx
from sqlmodel import select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.models import Patient, Practice, Role, User
from ccm_pwa.services.caseload_admin import CaseloadError, assign_patients
from ccm_pwa.services.practice_roles import members
from ccm_pwa.services.practice_settings import (
    APP_LOCK_MINUTES,
    SettingsError,
    update_practice_settings,
)
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.styles import BIG, INPUT
from ccm_pwa.ui.states.auth import AuthState

US_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
            "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico"]


class PracticeState(AuthState):
    timezone: str = ""
    reminder_time: str = ""
    fee_year: str = ""
    app_lock_minutes: str = ""
    people: list[list[str]] = []
    message: str = ""
    is_error: bool = False

    def _refresh(self, admin: User) -> None:
        with session_scope() as session:
            practice = session.get(Practice, admin.practice_id)
            assert practice is not None
            self.timezone, self.reminder_time = practice.timezone, practice.reminder_local_time
            self.fee_year = str(practice.fee_year)
            self.app_lock_minutes = str(practice.app_lock_minutes)
            # The managed team's members with a role here may own patients here too.
            self.people = [[str(u.id), u.name + ("" if u.practice_id == admin.practice_id
                                                 else " (managed team)")]
                           for u, role in members(session=session, practice_id=admin.practice_id)
                           if u.active and role in (Role.CARE_MANAGER, Role.SUPERVISOR)]

    @rx.event
    def load(self) -> None:
        self.message = ""
        try:
            admin = self._require_user(Role.ADMIN)
        except AccessDenied:
            return
        self._refresh(admin)

    @rx.event
    def save_settings(self, form: dict[str, str]) -> None:
        admin = self._require_user(Role.ADMIN)
        try:
            year = int(form.get("fee_year") or self.fee_year or 0)
            lock = int(form.get("app_lock_minutes") or self.app_lock_minutes or 0)
            with session_scope() as session:
                update_practice_settings(
                    session=session, admin=admin, now=datetime.now(UTC),
                    timezone=form.get("timezone") or None,
                    reminder_local_time=form.get("reminder_time") or None,
                    fee_year=year or None, app_lock_minutes=lock or None,
                    client=self._client())
        except (SettingsError, ValueError) as exc:
            self.message, self.is_error = str(exc), True
            return
        self.message, self.is_error = "Practice settings saved.", False
        self._refresh(admin)

    @rx.event
    def move_patients(self, form: dict[str, str]) -> None:
        admin = self._require_user(Role.ADMIN)
        mrns = [m for m in re.split(r"[\s,;]+", form.get("mrns", "")) if m]
        ids: list[uuid.UUID | str] = [form["patient_id"]] if form.get("patient_id") else []
        with session_scope() as session:
            if mrns:
                found = {p.mrn: p.id for p in session.exec(select(Patient).where(
                    Patient.practice_id == admin.practice_id, Patient.mrn.in_(mrns)))}
                missing = [m for m in mrns if m not in found]
                if missing:
                    self.message = f"No patient with MRN {', '.join(missing)} in this practice."
                    self.is_error = True
                    return
                ids.extend(found.values())
            try:
                moved = assign_patients(session=session, admin=admin, patient_ids=ids,
                                        care_manager_id=form.get("care_manager_id", ""),
                                        now=datetime.now(UTC), client=self._client())
            except CaseloadError as exc:
                self.message, self.is_error = str(exc), True
                return
        self.message = f"{len(moved)} patient(s) moved; their reminders follow them."
        self.is_error = False


def _label(text: str, for_id: str) -> rx.Component:
    return rx.el.label(text, html_for=for_id, style={"fontWeight": 500})


@rx.page(route="/admin/practice", title="Practice · ccm_pwa",
         on_load=[AuthState.guard, PracticeState.load])
def practice_page() -> rx.Component:
    return app_shell(
        rx.heading("Practice", size="7", as_="h1"),
        rx.cond(PracticeState.message != "",
                rx.callout(PracticeState.message,
                           role=rx.cond(PracticeState.is_error, "alert", "status"),
                           color_scheme=rx.cond(PracticeState.is_error, "red", "teal"))),
        rx.heading("Settings", size="4", as_="h2", margin_top="12px"),
        rx.form(rx.vstack(
            _label("Time zone (months and reminders follow it)", "practice-timezone"),
            rx.el.input(id="practice-timezone", name="timezone", list="us-zones",
                        default_value=PracticeState.timezone, key=PracticeState.timezone,
                        style=INPUT),
            rx.el.datalist(*[rx.el.option(value=zone) for zone in US_ZONES], id="us-zones"),
            _label("Daily reminder time (practice time)", "practice-reminder"),
            rx.el.input(id="practice-reminder", name="reminder_time", type="time",
                        default_value=PracticeState.reminder_time,
                        key=PracticeState.reminder_time, style=INPUT),
            _label("Fee schedule year", "practice-fee-year"),
            rx.el.input(id="practice-fee-year", name="fee_year", type="number",
                        default_value=PracticeState.fee_year, key=PracticeState.fee_year,
                        style=INPUT),
            _label("Lock the phone app after this many idle minutes (1–30)", "practice-lock"),
            rx.el.input(id="practice-lock", name="app_lock_minutes", type="number",
                        min=APP_LOCK_MINUTES[0], max=APP_LOCK_MINUTES[-1],
                        default_value=PracticeState.app_lock_minutes,
                        key=PracticeState.app_lock_minutes, style=INPUT),
            rx.text("Phones pick up a change at their next sync.", size="1",
                    color_scheme="gray"),
            rx.button("Save settings", type="submit", size="3", style=BIG),
            spacing="2", max_width="480px"), on_submit=PracticeState.save_settings),
        rx.heading("Move patients to another care manager", size="4", as_="h2",
                   margin_top="20px"),
        rx.form(rx.vstack(
            _label("MRNs (one per line, or separated by commas)", "move-mrns"),
            rx.el.textarea(id="move-mrns", name="mrns", rows=4, style=INPUT),
            _label("New care manager", "move-to"),
            rx.el.select(rx.foreach(PracticeState.people,
                                    lambda p: rx.el.option(p[1], value=p[0])),
                         id="move-to", name="care_manager_id", style=INPUT),
            rx.button("Move patients", type="submit", size="3", style=BIG),
            spacing="2", max_width="480px"), on_submit=PracticeState.move_patients,
            reset_on_submit=True),
    )
