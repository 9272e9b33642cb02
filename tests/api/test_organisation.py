"""GET /api/v1/organisation/month over real HTTP (api/routes/organisation.py): every
practice the caller oversees, the total and minutes per care manager.

The world is tests/db/test_organisation_month.Overseen: Lou supervises Sam and Tess at
Lakeside and Sam at Northside; Nick is Nora's team at Northside.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import create_session
from ccm_pwa.models import AuditEvent, User
from tests.api.conftest import ApiServer
from tests.api.test_practice_oversight_routes import set_up_accounts
from tests.db.test_organisation_month import CCM_20, CCM_ADD_ON, Overseen

FIGURES = {"practice_id", "practice", "timezone", "month", "days_left", "enrolled_patients",
           "billable_patients", "at_risk_patients", "blocked_patients", "countable_minutes",
           "expected_amount_cents", "projected_billable_patients", "projected_claim_lines",
           "projected_revenue_cents"}


@pytest.fixture
def world(session: Session) -> Overseen:
    made = Overseen(session)
    set_up_accounts(session)
    return made


def _get(server: ApiServer, session: Session, user: User, query: str) -> httpx.Response:
    token = create_session(session=session, user=user, now=datetime.now(UTC))
    session.commit()
    return httpx.get(f"{server.url}/api/v1/organisation/month{query}",
                     cookies={"ccm_session": token}, timeout=120)


def test_an_overseer_gets_every_practice_and_the_total(api_server: ApiServer,
                                                       session: Session,
                                                       world: Overseen) -> None:
    answer = _get(api_server, session, world.lou, "?month=2026-11")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"practices", "total", "care_managers"}
    assert all(set(row) == FIGURES for row in (*body["practices"], body["total"]))
    assert [(p["practice_id"], p["timezone"], p["month"], p["enrolled_patients"],
             p["billable_patients"], p["at_risk_patients"], p["blocked_patients"],
             p["countable_minutes"], p["expected_amount_cents"])
            for p in body["practices"]] == [
        (str(world.lakeside.id), "America/Chicago", "2026-11", 4, 2, 1, 1, 70,
         2 * CCM_20 + CCM_ADD_ON),
        (str(world.northside.id), "America/New_York", "2026-11", 1, 1, 0, 0, 25, CCM_20)]
    total = body["total"]
    assert (total["practice_id"], total["practice"], total["month"], total["enrolled_patients"],
            total["countable_minutes"], total["expected_amount_cents"]) == (
        None, "Total", "2026-11", 5, 95, 3 * CCM_20 + CCM_ADD_ON)
    assert total["projected_claim_lines"] == sum(p["projected_claim_lines"]
                                                 for p in body["practices"])
    assert [(c["care_manager_id"], c["name"], c["minutes_by_practice"], c["total_minutes"],
             c["billable_patients"]) for c in body["care_managers"]] == [
        (str(world.sam.id), "Sam", {str(world.lakeside.id): 25, str(world.northside.id): 25},
         50, 2),
        (str(world.tess.id), "Tess", {str(world.lakeside.id): 45}, 45, 1)]
    # without a month: each practice's current one, whatever that is today
    current = _get(api_server, session, world.lou, "")
    assert current.status_code == 200
    assert [p["practice"] for p in current.json()["practices"]] == ["Lakeside", "Northside"]
    session.expire_all()
    reads = session.exec(select(AuditEvent).where(
        AuditEvent.action == "organisation.month.read",
        AuditEvent.user_id == world.lou.id)).all()
    assert sorted((e.detail["month"] or "", e.detail["practices"]) for e in reads) == [
        ("", 2), ("2026-11", 2)]


def test_a_malformed_month_is_refused(api_server: ApiServer, session: Session,
                                      world: Overseen) -> None:
    answer = _get(api_server, session, world.lou, "?month=2026-13")
    assert answer.status_code == 422 and answer.json()["error"] == "malformed"


def test_a_care_manager_is_forbidden(api_server: ApiServer, session: Session,
                                     world: Overseen) -> None:
    for user in (world.sam, world.eve):
        answer = _get(api_server, session, user, "?month=2026-11")
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
        assert "Lakeside" not in answer.text
    session.expire_all()
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert sorted((e.user_id, e.detail["route"]) for e in denied) == sorted(
        [(world.sam.id, "organisation.month"), (world.eve.id, "organisation.month")])
    assert session.exec(select(AuditEvent).where(
        AuditEvent.action == "organisation.month.read")).first() is None


def test_no_session_no_figures(api_server: ApiServer, world: Overseen) -> None:
    answer = httpx.get(f"{api_server.url}/api/v1/organisation/month?month=2026-11",
                       timeout=60)
    assert answer.status_code == 401
    assert "Lakeside" not in answer.text
