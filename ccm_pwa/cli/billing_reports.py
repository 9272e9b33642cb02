"""`ccm-pwa billing report|packet` and `ccm-pwa rollups rebuild`."""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys

from sqlmodel import select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import Patient, Practice
from ccm_pwa.services.audit_packet_html import render_packet_html
from ccm_pwa.services.billing_report import (
    audit_packet,
    claim_rows,
    report_summary,
    rows_as_csv,
)
from ccm_pwa.services.practices import PracticeError, choose_practice
from ccm_pwa.services.rollups import rebuild_rollups


def _cli_client() -> str:
    """Who ran the command, as far as the machine knows (the CLI has no signed-in user)."""
    return f"cli user={getpass.getuser()} host={socket.gethostname()}"


def _fail(message: str) -> int:
    print(f"ccm-pwa: error: {message}", file=sys.stderr)
    return 2


def run_report(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            practice = choose_practice(session=session, name=args.practice)
            rows = claim_rows(session=session, practice=practice, month=args.month)
            record_audit(session=session, action="billing_report.export", client=_cli_client(),
                         detail={"month": str(args.month), "format": args.format,
                                 "claim_lines": len(rows)})
    except PracticeError as exc:
        return _fail(str(exc))
    if args.format == "csv":
        sys.stdout.write(rows_as_csv(rows))
    else:
        document = {"month": str(args.month), "practice": practice.name,
                    "summary": report_summary(rows), "claim_lines": [vars(r) for r in rows]}
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def run_packet(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            practice = choose_practice(session=session, name=args.practice)
            patient = session.exec(select(Patient).where(Patient.practice_id == practice.id,
                                                         Patient.mrn == args.mrn)).first()
            if patient is None:
                return _fail(f"no patient with MRN {args.mrn!r} in {practice.name}")
            packet = audit_packet(session=session, practice=practice, month=args.month,
                                  patient=patient)
            record_audit(session=session, action="audit_packet.export", patient_id=patient.id,
                         client=_cli_client(), detail={"month": str(args.month)})
    except PracticeError as exc:
        return _fail(str(exc))
    if args.format == "html":
        sys.stdout.write(render_packet_html(packet))
    else:
        json.dump(packet, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    """Without --practice, every practice: a rebuild is an operator's repair of the whole
    installation (after a restore, an upgrade), not one practice's report."""
    try:
        with session_scope() as session:
            practices = ([choose_practice(session=session, name=args.practice)]
                         if args.practice else
                         list(session.exec(select(Practice).order_by(Practice.name))))
            if not practices:
                return _fail("no practice yet: run `ccm-pwa practice add` or `ccm-pwa demo`")
            for practice in practices:
                written = rebuild_rollups(session=session, practice=practice,
                                          workers=args.workers)
                print(f"rebuilt {written} patient-month rollups for {practice.name}")
    except PracticeError as exc:
        return _fail(str(exc))
    return 0


def year_month(text: str) -> YearMonth:
    try:
        return YearMonth.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
