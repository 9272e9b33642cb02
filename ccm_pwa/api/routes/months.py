"""/api/v1/months/{YYYY-MM}: close checks, close, reopen, the CSV and the audit packets."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ccm_pwa.api.deps import (
    NO_STORE,
    ActingUser,
    CurrentUser,
    forbidden,
    json_object,
    parse_path_month,
    request_client,
    role_forbidden,
)
from ccm_pwa.api.errors import ApiError
from ccm_pwa.auth.access import AccessDenied, acting_in, overseen_practices, require_patient
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.models import Practice, User
from ccm_pwa.services.close_checks import CheckResult
from ccm_pwa.services.month_close import (
    MonthCloseError,
    close_checks,
    close_month,
    month_state,
    reopen_month,
)
from ccm_pwa.services.month_packets import (
    billing_csv,
    month_claim_rows,
    packet_html,
    packets_zip,
    practices_zip,
)
from ccm_pwa.services.team_scope import require_overseer

router = APIRouter(prefix="/months", tags=["supervisor"])


def _checks_json(checks: list[CheckResult]) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(c), "blocks_close": c.blocks_close} for c in checks]


@router.get("/{month}/checks")
def read_checks(request: Request, user: ActingUser, month: str) -> JSONResponse:
    """The month's state and every close check with its findings (CheckResult)."""
    wanted = parse_path_month(month)
    now = datetime.now(UTC)
    try:
        with session_scope() as session:
            require_overseer(user)
            practice = session.get(Practice, user.practice_id)
            checks = close_checks(session=session, practice=practice, month=wanted,
                                  viewer=user, now=now)
            state = month_state(session=session, practice=practice, month=wanted, now=now)
            record_audit(session=session, action="month.checks.read", user_id=user.id,
                         client=request_client(request), detail={"month": str(wanted)})
    except AccessDenied:
        raise role_forbidden(user, request, "months.checks") from None
    return JSONResponse({"state": dataclasses.asdict(state), "checks": _checks_json(checks),
                         "can_close": state.ended and state.status == "open"
                         and not any(c.blocks_close for c in checks)}, headers=NO_STORE)


@router.post("/{month}/close", responses={409: {"description": "not ended, closed, or a "
                                                               "blocking check fails"}})
def close(request: Request, user: ActingUser, month: str) -> JSONResponse:
    """Lock the month after its checks pass; 409 with the checks when refused."""
    wanted = parse_path_month(month)
    refused: MonthCloseError | None = None
    try:
        with session_scope() as session:
            practice = session.get(Practice, user.practice_id)
            try:
                state = close_month(session=session, practice=practice, month=wanted, by=user,
                                    now=datetime.now(UTC), client=request_client(request))
            except MonthCloseError as exc:
                refused = exc  # the refusal's audit row still commits
    except AccessDenied:
        raise role_forbidden(user, request, "months.close") from None
    if refused is not None:
        return JSONResponse({"error": "refused", "detail": str(refused),
                             "checks": _checks_json(refused.checks)},
                            status_code=409, headers=NO_STORE)
    return JSONResponse({"state": dataclasses.asdict(state)}, headers=NO_STORE)


@router.post("/{month}/reopen", responses={409: {"description": "the month is not closed"}})
async def reopen(request: Request, user: ActingUser, month: str) -> JSONResponse:
    """`{reason}`: unlock a closed month; the reason is kept and audited."""
    wanted = parse_path_month(month)
    body = await json_object(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError(422, "malformed", "reason: reopening a month needs a reason")
    return await run_in_threadpool(_reopen, request, user, wanted, reason)


def _reopen(request: Request, user: User, wanted, reason: str) -> JSONResponse:
    try:
        with session_scope() as session:
            practice = session.get(Practice, user.practice_id)
            state = reopen_month(session=session, practice=practice, month=wanted, by=user,
                                 reason=reason, now=datetime.now(UTC),
                                 client=request_client(request))
    except AccessDenied:
        raise role_forbidden(user, request, "months.reopen") from None
    except MonthCloseError as exc:
        raise ApiError(409, "refused", str(exc)) from None
    return JSONResponse({"state": dataclasses.asdict(state)}, headers=NO_STORE)


@router.get("/{month}/billing.csv")
def download_csv(request: Request, user: ActingUser, month: str) -> Response:
    """The billing report CSV of the month (the caller's team; an admin's: the practice)."""
    wanted = parse_path_month(month)
    try:
        with session_scope() as session:
            require_overseer(user)
            practice = session.get(Practice, user.practice_id)
            text = billing_csv(session=session, practice=practice, month=wanted, viewer=user)
            record_audit(session=session, action="billing_report.export", user_id=user.id,
                         client=request_client(request),
                         detail={"month": str(wanted), "format": "csv",
                                 "claim_lines": max(0, text.count("\n") - 1)})
    except AccessDenied:
        raise role_forbidden(user, request, "months.billing_csv") from None
    return Response(text, media_type="text/csv", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="ccm-claims-{wanted}.csv"'})


@router.get("/{month}/packets.zip")
def download_packets(request: Request, user: ActingUser, month: str) -> Response:
    """claims.csv, index.html and one audit packet per billed patient, zipped."""
    wanted = parse_path_month(month)
    try:
        with session_scope() as session:
            require_overseer(user)
            practice = session.get(Practice, user.practice_id)
            content = packets_zip(session=session, practice=practice, month=wanted, viewer=user)
            rows = month_claim_rows(session=session, practice=practice, month=wanted,
                                    viewer=user)
            _audit_packets(session, user, request, wanted, {r.mrn for r in rows}, practice)
    except AccessDenied:
        raise role_forbidden(user, request, "months.packets") from None
    return Response(content, media_type="application/zip", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="ccm-packets-{wanted}.zip"'})


@router.get("/{month}/practices.zip")
def download_all_practices(request: Request, user: CurrentUser, month: str) -> Response:
    """The month of every practice where the caller is a supervisor or admin, one folder
    per practice (its claims.csv, index.html and packets, as each `packets.zip`)."""
    wanted = parse_path_month(month)
    with session_scope() as session:
        viewers = []
        for practice_id in overseen_practices(session=session, user=user):
            practice = session.get(Practice, practice_id)
            assert practice is not None
            viewers.append((practice, acting_in(session=session, user=user,
                                                practice_id=practice_id)))
        if viewers:
            content, billed = practices_zip(session=session, month=wanted, viewers=viewers)
            for practice, acting in viewers:
                _audit_packets(session, acting, request, wanted, billed[practice.id], practice)
    if not viewers:
        raise role_forbidden(user, request, "months.practices_zip")
    return Response(content, media_type="application/zip", headers={
        **NO_STORE,
        "Content-Disposition": f'attachment; filename="ccm-packets-{wanted}-practices.zip"'})


@router.get("/{month}/packets/{patient_id}.html")
def read_packet(request: Request, user: ActingUser, month: str, patient_id: str) -> Response:
    """One patient's audit packet for the month, printable HTML."""
    wanted = parse_path_month(month)
    try:
        with session_scope() as session:
            require_overseer(user)
            practice = session.get(Practice, user.practice_id)
            patient = require_patient(session=session, user=user, patient_id=patient_id)
            html = packet_html(session=session, practice=practice, month=wanted,
                               patient=patient)
            record_audit(session=session, action="audit_packet.export", user_id=user.id,
                         patient_id=patient.id, client=request_client(request),
                         detail={"month": str(wanted)})
    except AccessDenied:
        if user.role in ("supervisor", "admin"):
            raise forbidden(user, request, patient_id, "months.packet") from None
        raise role_forbidden(user, request, "months.packet") from None
    return Response(html, media_type="text/html; charset=utf-8", headers=NO_STORE)


def _audit_packets(session, user: User, request: Request, month, mrns: set[str],
                   practice: Practice) -> None:
    from sqlmodel import select

    from ccm_pwa.models import Patient

    for patient_id in session.exec(select(Patient.id).where(
            Patient.practice_id == practice.id, Patient.mrn.in_(sorted(mrns)))):
        record_audit(session=session, action="audit_packet.export", user_id=user.id,
                     patient_id=uuid.UUID(str(patient_id)), client=request_client(request),
                     detail={"month": str(month), "via": "packets.zip"})
