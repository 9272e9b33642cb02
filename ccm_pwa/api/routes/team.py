"""/api/v1/team: the supervisor's team today, the program month, a member's worklist."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ccm_pwa.api.deps import (
    NO_STORE,
    ActingUser,
    parse_month,
    request_client,
    role_forbidden,
)
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth, local_month
from ccm_pwa.models import Practice
from ccm_pwa.services.program_month import program_month
from ccm_pwa.services.team_scope import require_overseer, require_team_member
from ccm_pwa.services.team_today import care_manager_worklist, team_today

router = APIRouter(prefix="/team", tags=["supervisor"])


def _month(session, user, month: str | None) -> tuple[Practice, YearMonth]:
    practice = session.get(Practice, user.practice_id)
    assert practice is not None
    wanted = parse_month(month) or local_month(datetime.now(UTC), ZoneInfo(practice.timezone))
    return practice, wanted


@router.get("/progress")
def read_team_progress(
    request: Request, user: ActingUser,
    month: Annotated[str | None, Query(description="practice-local month, YYYY-MM")] = None,
) -> JSONResponse:
    """One row per care manager the caller oversees (services/team_today.TeamRow)."""
    try:
        with session_scope() as session:
            require_overseer(user)
            _practice, wanted = _month(session, user, month)
            rows = team_today(session=session, viewer=user, month=wanted,
                              now=datetime.now(UTC))
            record_audit(session=session, action="team.progress.read", user_id=user.id,
                         client=request_client(request),
                         detail={"month": str(wanted), "rows": len(rows)})
    except AccessDenied:
        raise role_forbidden(user, request, "team.progress") from None
    return JSONResponse({"month": str(wanted), "rows": [dataclasses.asdict(r) for r in rows]},
                        headers=NO_STORE)


@router.get("/program")
def read_program_month(
    request: Request, user: ActingUser,
    month: Annotated[str | None, Query(description="practice-local month, YYYY-MM")] = None,
    care_manager: Annotated[str | None, Query(description="a team member's user id")] = None,
) -> JSONResponse:
    """Billable patients by code, projection, 6-month history and funnel (ProgramMonth)."""
    try:
        with session_scope() as session:
            require_overseer(user)
            practice, wanted = _month(session, user, month)
            manager = (require_team_member(session=session, viewer=user, user_id=care_manager)
                       if care_manager else None)
            figures = program_month(session=session, practice=practice, month=wanted,
                                    care_manager_id=manager.id if manager else None,
                                    now=datetime.now(UTC))
            record_audit(session=session, action="team.program.read", user_id=user.id,
                         client=request_client(request),
                         detail={"month": str(wanted), "care_manager": care_manager})
    except AccessDenied:
        raise role_forbidden(user, request, "team.program") from None
    return JSONResponse(dataclasses.asdict(figures), headers=NO_STORE)


@router.get("/{care_manager_id}/worklist")
def read_member_worklist(
    request: Request, user: ActingUser, care_manager_id: str,
    month: Annotated[str | None, Query(description="practice-local month, YYYY-MM")] = None,
) -> JSONResponse:
    """A team member's worklist as she sees it (GET /worklist's body)."""
    wanted = parse_month(month)
    try:
        with session_scope() as session:
            body = care_manager_worklist(session=session, viewer=user,
                                         care_manager_id=care_manager_id, month=wanted,
                                         now=datetime.now(UTC), client=request_client(request))
    except AccessDenied:
        raise role_forbidden(user, request, "team.worklist") from None
    return JSONResponse(body, headers=NO_STORE)
