"""`ccm-pwa month checks|close|reopen --month YYYY-MM [--by EMAIL] [--reason ...]`.

Exit status: 0 done; 1 the close was refused (the checks are printed); 2 bad input (one
line on stderr: unknown email, not a supervisor or admin, no reason, month not closed…).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.cli.billing_reports import _cli_client
from ccm_pwa.db import session_scope
from ccm_pwa.models import User
from ccm_pwa.services.close_checks import CheckResult
from ccm_pwa.services.month_close import (
    MonthCloseError,
    close_checks,
    close_month,
    reopen_month,
)
from ccm_pwa.services.month_packets import write_packets
from ccm_pwa.services.practices import PracticeError, choose_practice


def add_month_commands(commands: argparse._SubParsersAction, parser_class: type,
                       year_month: object) -> None:
    month = commands.add_parser("month", help="close a billing month").add_subparsers(
        dest="month_command", required=True, parser_class=parser_class)
    for name, words in (("checks", "run the close checks and print their findings"),
                        ("close", "close (lock) an ended month whose checks pass"),
                        ("reopen", "reopen a closed month, with a reason"),
                        ("packets", "write claims.csv and every audit packet to a folder")):
        command = month.add_parser(name, help=words)
        command.add_argument("--month", required=True, type=year_month, help="YYYY-MM")
        command.add_argument("--practice", default=None, help="practice name (if several)")
        if name in ("close", "reopen"):
            command.add_argument("--by", required=True, help="email of the supervisor or admin")
        if name == "reopen":
            command.add_argument("--reason", required=True)
        if name == "packets":
            command.add_argument("--out", required=True, type=Path, help="folder to write")


def run_month(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        with session_scope() as session:
            practice = choose_practice(session=session, name=args.practice)
            if args.month_command == "checks":
                _print_checks(close_checks(session=session, practice=practice,
                                           month=args.month, now=now))
                return 0
            if args.month_command == "packets":
                written = write_packets(session=session, practice=practice, month=args.month,
                                        directory=args.out)
                print(f"wrote {len(written)} files to {args.out}")
                return 0
            by = _person(session, practice.id, args.by)
            if args.month_command == "reopen":
                state = reopen_month(session=session, practice=practice, month=args.month,
                                     by=by, reason=args.reason, now=now, client=_cli_client())
                print(f"{state.month} reopened: {state.reopened_reason}")
                return 0
            try:
                state = close_month(session=session, practice=practice, month=args.month,
                                    by=by, now=now, client=_cli_client())
            except MonthCloseError as exc:
                if not exc.checks:
                    raise
                _print_checks(exc.checks)
                print(f"ccm-pwa: {exc}", file=sys.stderr)
                refused = 1
            else:
                print(f"{state.month} closed by {state.closed_by} at {state.closed_at}")
                refused = 0
        return refused
    except (PracticeError, MonthCloseError, ValueError) as exc:
        return _fail(str(exc))
    except AccessDenied:
        return _fail(f"{args.by} is not an active supervisor or admin of this practice")


def _person(session, practice_id, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or user.practice_id != practice_id:
        raise ValueError(f"no user {email!r} in this practice")
    return user


def _print_checks(checks: list[CheckResult]) -> None:
    for check in checks:
        verdict = "ok" if check.passed else ("FAIL" if check.blocks_close else "warn")
        print(f"[{verdict}] {check.name}: {check.title} ({len(check.findings)} findings)")
        for finding in check.findings:
            mark = "!" if finding.blocking else "-"
            print(f"    {mark} {finding.mrn} {finding.patient_name}: {finding.reason}")


def _fail(message: str) -> int:
    print(f"ccm-pwa: error: {message}", file=sys.stderr)
    return 2
