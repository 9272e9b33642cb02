"""Admin: create accounts (one-time password + authenticator QR shown once), deactivate,
unlock, reset a lost authenticator, erase a lost phone. Every action is checked on the
server and audited."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx
from sqlmodel import select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.totp import provisioning_uri, qr_svg_data_uri
from ccm_pwa.db import session_scope
from ccm_pwa.models import PerformerKind, Role, User
from ccm_pwa.services import user_admin
from ccm_pwa.services.installations import (
    installations_of_practice,
    practice_zone,
    request_wipe,
)
from ccm_pwa.services.practice_roles import visiting_staff
from ccm_pwa.services.users import UserError, create_user
from ccm_pwa.ui.components.layout import app_shell, table_caption
from ccm_pwa.ui.pages.login import field
from ccm_pwa.ui.states.auth import AuthState

ROLES = ["care_manager", "supervisor", "admin"]
PERFORMERS = ["clinical_staff", "billing_practitioner", "non_clinical"]


class UsersState(AuthState):
    users: list[dict[str, str]] = []
    visitors: list[dict[str, str]] = []
    phones: list[dict[str, str]] = []
    message: str = ""
    handover_email: str = ""
    handover_password: str = ""
    handover_qr: str = ""
    handover_secret: str = ""

    def _refresh(self, admin: User) -> None:
        with session_scope() as session:
            users = session.exec(select(User).where(User.practice_id == admin.practice_id)
                                 .order_by(User.name)).all()
            self.visitors = visiting_staff(session=session, practice_id=admin.practice_id)
        self.users = [{
            "id": str(u.id), "name": u.name, "email": u.email, "role": u.role.replace("_", " "),
            "status": ("locked" if u.locked_at else "active" if u.active else "deactivated")
            + ("" if u.totp_enrolled_at else ", not enrolled"),
        } for u in users]
        now = datetime.now(UTC)
        with session_scope() as session:
            zone = practice_zone(session=session, user=admin)
            self.phones = [phone.describe(now=now, zone=zone) for phone in
                           installations_of_practice(session=session, admin=admin)]

    def _handover(self, email: str, password: str, secret: str | None) -> None:
        self.handover_email, self.handover_password = email, password
        self.handover_secret = secret or ""
        self.handover_qr = qr_svg_data_uri(provisioning_uri(secret, email)) if secret else ""

    @rx.event
    def load(self) -> None:
        self.users, self.visitors, self.phones, self.message = [], [], [], ""
        self._handover("", "", None)
        try:
            admin = self._require_user(Role.ADMIN)
        except AccessDenied:
            return
        self._refresh(admin)

    @rx.event
    def add_user(self, form: dict[str, str]) -> None:
        admin = self._require_user(Role.ADMIN)
        try:
            with session_scope() as session:
                new = create_user(
                    session=session, practice_id=admin.practice_id, email=form.get("email", ""),
                    name=form.get("name", ""), role=Role(form.get("role", "care_manager")),
                    performer_kind=PerformerKind(form.get("performer", "clinical_staff")),
                    credential=form.get("credential", "").strip()[:20])
                record_audit(session=session, action="user.create", user_id=admin.id,
                             client=self._client(), detail={"target_user": str(new.user.id)})
        except (UserError, ValueError) as exc:
            self.message = str(exc)
            return
        self.message = f"Account created for {new.user.email}. Hand these over in person:"
        self._handover(new.user.email, new.password, new.totp_secret)
        self._refresh(admin)

    @rx.event
    def deactivate(self, user_id: str) -> None:
        admin = self._require_user(Role.ADMIN)
        try:
            with session_scope() as session:
                user = user_admin.deactivate_user(session=session, admin=admin, user_id=user_id,
                                                  now=datetime.now(UTC), client=self._client())
        except ValueError as exc:
            self.message = str(exc)
            return
        self.message = f"{user.email} is deactivated and signed out everywhere."
        self._refresh(admin)

    @rx.event
    def unlock(self, user_id: str) -> None:
        admin = self._require_user(Role.ADMIN)
        with session_scope() as session:
            user = user_admin.unlock(session=session, admin=admin, user_id=user_id,
                                     client=self._client())
        self.message = f"{user.email} can sign in again."
        self._refresh(admin)

    @rx.event
    def reset_authenticator(self, user_id: str) -> None:
        admin = self._require_user(Role.ADMIN)
        with session_scope() as session:
            password = user_admin.reset_totp(session=session, admin=admin, user_id=user_id,
                                             now=datetime.now(UTC), client=self._client())
            user = user_admin.practice_user(session=session, admin=admin, user_id=user_id)
        self.message = (f"{user.email} is signed out everywhere and will set up a new "
                        "authenticator at the next sign-in with this one-time password:")
        self._handover(user.email, password, None)
        self._refresh(admin)

    @rx.event
    def erase_phone(self, client_id: str) -> None:
        """Any phone of any user of the admin's own practice; another practice's, or an id
        that is not a phone, is refused alike and audited."""
        admin = self._require_user(Role.ADMIN)
        try:
            with session_scope() as session:
                phone = request_wipe(session=session, actor=admin, client_id=client_id,
                                     now=datetime.now(UTC), client=self._client())
        except AccessDenied:
            self._record_denial(admin, None, "installation")
            raise
        self.message = (f"{phone.user_name}'s phone is signed out of sync now and erases "
                        "itself at its next contact.")
        self._refresh(admin)


def _user_row(user: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(rx.text(user["name"], weight="medium"),
                                           rx.text(user["email"], size="1"), spacing="0")),
        rx.table.cell(user["role"]),
        rx.table.cell(user["status"]),
        rx.table.cell(rx.hstack(
            rx.button("Unlock", size="1", variant="soft",
                      on_click=UsersState.unlock(user["id"])),
            rx.button("Reset authenticator", size="1", variant="soft", color_scheme="amber",
                      on_click=UsersState.reset_authenticator(user["id"])),
            rx.button("Deactivate", size="1", variant="soft", color_scheme="red",
                      on_click=UsersState.deactivate(user["id"])),
            wrap="wrap", spacing="2")),
    )


def _phone_row(phone: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(phone["user_name"]),
        rx.table.cell(rx.text(phone["name"], " · ", phone["last_contact"])),
        rx.table.cell(rx.hstack(
            rx.cond(phone["status"] != "", rx.text(phone["status"], size="2")),
            rx.cond(phone["requested_by"] != "",
                    rx.text("by ", phone["requested_by"], size="1", color_scheme="gray")),
            rx.cond(phone["can_erase"] != "",
                    rx.button("Erase this phone", size="1", variant="soft", color_scheme="red",
                              on_click=UsersState.erase_phone(phone["id"]))),
            wrap="wrap", spacing="2", align="center")),
    )


def _select(label: str, name: str, options: list[str]) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=name, style={"fontWeight": 500}),
                     rx.el.select(*[rx.el.option(o.replace("_", " "), value=o) for o in options],
                                  id=name, name=name, style={"padding": "8px", "width": "100%"}),
                     spacing="1", width="100%")


@rx.page(route="/admin/users", title="Users · ccm_pwa",
         on_load=[AuthState.guard, UsersState.load])
def admin_users_page() -> rx.Component:
    return app_shell(
        rx.heading("Users", size="6", as_="h1"),
        rx.cond(UsersState.message != "", rx.callout(UsersState.message, role="status")),
        rx.cond(UsersState.handover_password != "", rx.card(rx.vstack(
            rx.text("Email: ", rx.code(UsersState.handover_email)),
            rx.text("One-time password: ", rx.code(UsersState.handover_password,
                                                   aria_label="One-time password")),
            rx.cond(UsersState.handover_qr != "", rx.image(
                src=UsersState.handover_qr, alt="Authenticator QR code", width="180px")),
            rx.cond(UsersState.handover_secret != "",
                    rx.text("Secret key: ", rx.code(UsersState.handover_secret))),
        ))),
        rx.table.root(
            table_caption("Users"),
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Name"), rx.table.column_header_cell("Role"),
                rx.table.column_header_cell("Status"), rx.table.column_header_cell("Actions"))),
            rx.table.body(rx.foreach(UsersState.users, _user_row)),
            width="100%",
        ),
        rx.cond(UsersState.visitors.length() > 0, rx.vstack(
            rx.heading("From other practices", size="4", as_="h2", margin_top="24px"),
            rx.text("Staff of your organisation's other practices who hold a role here "
                    "(ccm-pwa user grant). They see only the patients their role here gives "
                    "them.", size="2"),
            rx.table.root(
                table_caption("From other practices"),
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Name"),
                    rx.table.column_header_cell("Role here"),
                    rx.table.column_header_cell("Their practice"))),
                rx.table.body(rx.foreach(UsersState.visitors, lambda v: rx.table.row(
                    rx.table.row_header_cell(rx.text(v["name"], " · ", v["email"])),
                    rx.table.cell(v["role"]), rx.table.cell(v["home"])))),
                width="100%"),
            width="100%")),
        rx.heading("Phones", size="4", as_="h2", margin_top="24px"),
        rx.text("Each installation of the app on a phone. A lost phone: Erase this phone. It is "
                "refused by sync at once, and erases its data (changes it never sent "
                "included) and signs out at its next contact.", size="2"),
        rx.cond(UsersState.phones.length() > 0, rx.table.root(
            table_caption("Phones"),
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("User"), rx.table.column_header_cell("Phone"),
                rx.table.column_header_cell("Erase"))),
            rx.table.body(rx.foreach(UsersState.phones, _phone_row)),
            width="100%",
        ), rx.text("No phone has synced yet.", size="2", color_scheme="gray")),
        rx.heading("Add a user", size="4", as_="h2", margin_top="24px"),
        rx.form(
            rx.vstack(
                field("Full name", "name"),
                field("Email", "email", type="email"),
                _select("Role", "role", ROLES),
                _select("Whose time is it", "performer", PERFORMERS),
                rx.vstack(rx.el.label("Credential (RN, LPN, MD…)", html_for="credential",
                                      style={"fontWeight": 500}),
                          rx.input(id="credential", name="credential", size="3", width="100%"),
                          spacing="1", width="100%"),
                rx.button("Create account", type="submit", size="3"),
                spacing="3", max_width="420px",
            ),
            on_submit=UsersState.add_user, reset_on_submit=True,
        ),
    )
