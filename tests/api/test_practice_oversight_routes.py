"""The supervisor routes in a practice of the caller's choice (`?practice=<id>`) and the
month of every practice she oversees in one zip, over real HTTP.

The world is tests/db/test_practice_oversight.Oversight: Lou supervises Sam at Lakeside
and Northside; Nora is Northside's own supervisor, Nadia its admin.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import create_session
from ccm_pwa.models import AuditEvent, User
from tests.api.conftest import ApiServer
from tests.db.test_practice_oversight import Oversight


def set_up_accounts(session: Session) -> None:
    """Every user of the world has finished account setup, so a session reaches PHI."""
    for user in session.exec(select(User)):
        user.totp_enrolled_at = datetime.now(UTC)
        session.add(user)
    session.commit()


@pytest.fixture
def world(session: Session) -> Oversight:
    made = Oversight(session)
    set_up_accounts(session)
    return made


def _get(server: ApiServer, session: Session, user: User, path: str) -> httpx.Response:
    token = create_session(session=session, user=user, now=datetime.now(UTC))
    session.commit()
    return httpx.get(f"{server.url}/api/v1{path}", cookies={"ccm_session": token},
                     timeout=120)


def test_a_supervisor_works_the_practice_she_names(api_server: ApiServer, session: Session,
                                                   world: Oversight) -> None:
    def worklist(practice: str) -> set[str]:
        answer = _get(api_server, session, world.lou,
                      f"/team/{world.sam.id}/worklist{practice}")
        assert answer.status_code == 200, answer.text
        return {row["mrn"] for row in answer.json()["patients"]}

    assert worklist("") == {"L1"}
    assert worklist(f"?practice={world.lakeside.id}") == {"L1"}
    assert worklist(f"?practice={world.northside.id}") == {"N1"}
    team = _get(api_server, session, world.lou,
                f"/team/progress?month=2026-11&practice={world.northside.id}").json()
    assert [(r["name"], r["countable_minutes"]) for r in team["rows"]] == [("Sam", 25)]
    claims = _get(api_server, session, world.lou,
                  f"/months/2026-11/billing.csv?practice={world.northside.id}")
    assert claims.status_code == 200
    assert {row["mrn"] for row in csv.DictReader(io.StringIO(claims.text))} == {"N1"}


def test_a_practice_without_her_role_is_refused(api_server: ApiServer, session: Session,
                                                world: Oversight) -> None:
    refusals = [
        (world.lou, f"/team/progress?practice={world.elsewhere.id}"),  # another organisation
        (world.lou, "/team/progress?practice=not-an-id"),
        (world.nora, f"/months/2026-11/billing.csv?practice={world.lakeside.id}"),
        (world.sam, f"/team/progress?practice={world.northside.id}"),  # care manager there
        (world.sam, "/months/2026-11/practices.zip"),
    ]
    for user, path in refusals:
        answer = _get(api_server, session, user, path)
        assert answer.status_code == 403, (user.name, path, answer.text)
        assert answer.json()["error"] == "forbidden"
    session.expire_all()
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denied) == len(refusals)


def test_every_practices_month_in_one_zip(api_server: ApiServer, session: Session,
                                          world: Oversight) -> None:
    answer = _get(api_server, session, world.lou, "/months/2026-11/practices.zip")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert "ccm-packets-2026-11-practices.zip" in answer.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert sorted(n for n in names if n.endswith(".html") and "/packets/" in n) == [
        "ccm-2026-11/Lakeside/packets/L1.html", "ccm-2026-11/Northside/packets/N1.html"]
    session.expire_all()
    exported = {row.patient_id for row in session.exec(select(AuditEvent).where(
        AuditEvent.action == "audit_packet.export", AuditEvent.user_id == world.lou.id))}
    assert exported == {world.l1.id, world.n1.id}
    admin = _get(api_server, session, world.nadia, "/months/2026-11/practices.zip")
    assert sorted(n for n in zipfile.ZipFile(io.BytesIO(admin.content)).namelist()
                  if "/packets/" in n) == ["ccm-2026-11/Northside/packets/N1.html",
                                           "ccm-2026-11/Northside/packets/N2.html"]


def test_all_practices_over_http(api_server: ApiServer, session: Session,
                                 world: Oversight) -> None:
    answer = _get(api_server, session, world.lou, "/organisation/month?month=2026-11")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert [(p["practice"], p["enrolled_patients"], p["countable_minutes"])
            for p in body["practices"]] == [("Lakeside", 1, 25), ("Northside", 1, 25)]
    assert (body["total"]["practice"], body["total"]["countable_minutes"]) == ("Total", 50)
    assert [(c["name"], c["total_minutes"]) for c in body["care_managers"]] == [("Sam", 50)]
    assert _get(api_server, session, world.lou,
                "/organisation/month?month=2026-13").status_code == 422
    refused = _get(api_server, session, world.sam, "/organisation/month")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert httpx.get(f"{api_server.url}/api/v1/organisation/month",
                     timeout=60).status_code == 401
    session.expire_all()
    assert session.exec(select(AuditEvent).where(
        AuditEvent.action == "organisation.month.read",
        AuditEvent.user_id == world.lou.id)).first() is not None
