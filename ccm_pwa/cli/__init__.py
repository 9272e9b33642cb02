"""The `ccm-pwa` command: database, demo practice, users, billing, rollups, reminders.

Bad input exits with status 2 and one line on stderr naming what is wrong (design §7).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import NoReturn

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one clear line, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ccm-pwa", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, parser_class=_Parser)
    db.add_parser("upgrade", help="migrate the configured database to the newest schema")
    db.add_parser("current", help="print the schema revision the database is at")

    practice = commands.add_parser("practice", help="practices").add_subparsers(
        dest="practice_command", required=True, parser_class=_Parser)
    add_practice = practice.add_parser("add", help="create a practice")
    add_practice.add_argument("--name", required=True)
    add_practice.add_argument("--timezone", required=True, help="IANA zone, e.g. America/Chicago")
    add_practice.add_argument("--organisation", default=None,
                              help="join (or start) the organisation of this name; without "
                                   "it the practice is an organisation of its own")

    demo = commands.add_parser("demo", help="create (or replace) the demo organisation: "
                                            "two practices and a managed care manager")
    demo.add_argument("--patients", type=_positive_int, default=300)
    demo.add_argument("--partner-patients", type=_non_negative_int, default=None,
                      help="patients of the partner practice (New York; default: a quarter "
                           "of --patients; 0: one practice only)")
    demo.add_argument("--care-managers", type=_positive_int, default=5)
    demo.add_argument("--seed", type=_non_negative_int, default=1)
    demo.add_argument("--today", type=_iso_date, default=None,
                      help="the practice's 'today' (default: today in the practice's zone)")
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing when the database already has a practice")

    user = commands.add_parser("user", help="user accounts").add_subparsers(
        dest="user_command", required=True, parser_class=_Parser)
    add_user = user.add_parser("add", help="create a user; prints a one-time password")
    add_user.add_argument("--email", required=True)
    add_user.add_argument("--name", required=True)
    add_user.add_argument("--role", required=True, choices=["care_manager", "supervisor", "admin"])
    add_user.add_argument("--performer", default=None,
                          choices=["clinical_staff", "billing_practitioner", "non_clinical"])
    add_user.add_argument("--credential", default="", help="RN, LPN, MD, NP, ...")
    add_user.add_argument("--practice", default=None, help="practice name (if several)")
    grant = user.add_parser("grant", help="give a user a role in another practice of her "
                                          "organisation")
    grant.add_argument("--email", required=True)
    grant.add_argument("--practice", required=True, help="practice name")
    grant.add_argument("--role", required=True, choices=["care_manager", "supervisor", "admin"])
    grant.add_argument("--supervisor", default=None, help="her supervisor there (email)")
    revoke = user.add_parser("revoke", help="take away a user's role in another practice")
    revoke.add_argument("--email", required=True)
    revoke.add_argument("--practice", required=True, help="practice name")

    billing = commands.add_parser("billing", help="CMS billing").add_subparsers(
        dest="billing_command", required=True, parser_class=_Parser)
    billing.add_parser("evaluate", help="evaluate one case: JSON on stdin, JSON on stdout")
    report = billing.add_parser("report", help="the month's claim lines")
    report.add_argument("--month", required=True, type=_year_month, help="YYYY-MM")
    report.add_argument("--format", choices=["csv", "json"], default="csv")
    report.add_argument("--practice", default=None, help="practice name (if several)")
    packet = billing.add_parser("packet", help="one patient's audit packet for a month")
    packet.add_argument("--month", required=True, type=_year_month, help="YYYY-MM")
    packet.add_argument("--mrn", required=True)
    packet.add_argument("--format", choices=["html", "json"], default="html")
    packet.add_argument("--practice", default=None, help="practice name (if several)")

    audit = commands.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, parser_class=_Parser)
    export = audit.add_parser("export", help="audit events since a moment, oldest first")
    export.add_argument("--since", required=True, type=_instant,
                        help="YYYY-MM-DD or ISO-8601 with offset (UTC if none)")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")

    from ccm_pwa.cli.months import add_month_commands

    add_month_commands(commands, _Parser, _year_month)

    from ccm_pwa.cli.backup import add_backup_commands

    add_backup_commands(commands, _Parser, _positive_int)

    rollups = commands.add_parser("rollups", help="monthly progress rollups").add_subparsers(
        dest="rollups_command", required=True, parser_class=_Parser)
    rebuild = rollups.add_parser("rebuild", help="recompute every rollup from the time events")
    rebuild.add_argument("--practice", default=None,
                         help="practice name (default: every practice)")
    rebuild.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                         help="processes computing rollups (default: one per CPU)")

    reminders = commands.add_parser("reminders", help="push reminders").add_subparsers(
        dest="reminders_command", required=True, parser_class=_Parser)
    run = reminders.add_parser("run", help="send the reminders due now (or list them)")
    run.add_argument("--dry-run", action="store_true", help="list what is due; send nothing")
    run.add_argument("--now", type=_reminder_now, default=None,
                     help="pretend it is this ISO-8601 time (UTC if no offset)")
    reminders.add_parser("keys", help="print the VAPID public key browsers subscribe with")

    from ccm_pwa.cli.panel_import import add_import_commands

    add_import_commands(commands, _Parser)
    return parser


def _reminder_now(text: str) -> datetime:
    from ccm_pwa.cli.reminders import parse_now

    return parse_now(text)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or ISO-8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _year_month(text: str) -> object:
    from ccm_pwa.cli.billing_reports import year_month

    return year_month(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    key = (args.command, _subcommand(args))
    if key in _NEEDS_SCHEMA and (problem := _schema_problem()):
        return _fail(problem)
    try:
        return _HANDLERS[key](args)
    except BrokenPipeError:
        # `ccm-pwa billing report … | head` closed the pipe: the reader has what it wanted.
        # Point stdout at nothing so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _schema_problem() -> str | None:
    """Why the configured database cannot be used yet, or None when it is at head."""
    from sqlalchemy.exc import SQLAlchemyError

    from ccm_pwa.migrations import current_revision, head_revision

    try:
        current = current_revision()
    except SQLAlchemyError as exc:
        return f"cannot open the database: {str(exc.orig or exc).splitlines()[0]}"
    if current != head_revision():
        return f"database schema is at {current or 'nothing'}; run `ccm-pwa db upgrade` first"
    return None


def _subcommand(args: argparse.Namespace) -> str | None:
    return getattr(args, f"{args.command}_command", None)


def _db_upgrade(_args: argparse.Namespace) -> int:
    from ccm_pwa.config import load_settings
    from ccm_pwa.migrations import upgrade

    revision = upgrade()
    print(f"database {_safe_url(load_settings().database_url)} is at revision {revision}")
    return 0


def _db_current(_args: argparse.Namespace) -> int:
    from ccm_pwa.migrations import current_revision

    print(current_revision() or "empty (run `ccm-pwa db upgrade`)")
    return 0


def _practice_add(args: argparse.Namespace) -> int:
    from ccm_pwa.db import session_scope
    from ccm_pwa.services.practices import PracticeError, create_practice

    try:
        with session_scope() as session:
            practice = create_practice(session=session, name=args.name, timezone=args.timezone,
                                       organisation=args.organisation)
            print(f"practice {practice.name!r} created ({practice.timezone})"
                  + (f" in organisation {args.organisation.strip()!r}"
                     if args.organisation else ""))
    except PracticeError as exc:
        return _fail(str(exc))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.demo import run_demo
    from ccm_pwa.migrations import upgrade

    upgrade()  # a newcomer's first command: bring the schema up rather than refuse

    return run_demo(args)


def _user_add(args: argparse.Namespace) -> int:
    from ccm_pwa.db import session_scope
    from ccm_pwa.models import PerformerKind, Role
    from ccm_pwa.services.practices import PracticeError, choose_practice
    from ccm_pwa.services.users import UserError, create_user

    try:
        with session_scope() as session:
            practice = choose_practice(session=session, name=args.practice)
            new = create_user(
                session=session, practice_id=practice.id, email=args.email, name=args.name,
                role=Role(args.role),
                performer_kind=PerformerKind(args.performer) if args.performer else None,
                credential=args.credential,
            )
    except (UserError, PracticeError) as exc:
        return _fail(str(exc))
    print(f"user:                {new.user.email} ({new.user.role})")
    print(f"one-time password:   {new.password}   (must be changed at first sign-in)")
    print(f"TOTP secret:         {new.totp_secret}")
    print(f"authenticator URI:   {new.otpauth_uri}")
    return 0


def _user_grant(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.practice_roles import run_grant

    return run_grant(args)


def _user_revoke(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.practice_roles import run_revoke

    return run_revoke(args)


def _billing_evaluate(_args: argparse.Namespace) -> int:
    from ccm_pwa.cli.billing_evaluate import evaluate_command

    return evaluate_command(sys.stdin, sys.stdout, sys.stderr)


def _billing_report(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.billing_reports import run_report

    return run_report(args)


def _billing_packet(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.billing_reports import run_packet

    return run_packet(args)


def _rollups_rebuild(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.billing_reports import run_rebuild

    return run_rebuild(args)


def _month(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.months import run_month

    return run_month(args)


def _audit_export(args: argparse.Namespace) -> int:
    from ccm_pwa.db import session_scope
    from ccm_pwa.services.audit_log import as_csv, as_jsonl, audit_lines

    with session_scope() as session:
        lines = list(reversed(audit_lines(session=session, practice_id=None, since=args.since)))
    sys.stdout.write(as_csv(lines) if args.format == "csv" else as_jsonl(lines))
    return 0


def _import_patients(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.panel_import import run_import

    return run_import(args)


def _reminders_run(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.reminders import run_reminders

    return run_reminders(args)


def _reminders_keys(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.reminders import print_keys

    return print_keys(args)


def _backup(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.backup import run_backup_command

    return run_backup_command(args)


def _fail(message: str) -> int:
    print(f"ccm-pwa: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


_NEEDS_SCHEMA = {
    ("practice", "add"), ("user", "add"), ("user", "grant"), ("user", "revoke"),
    ("billing", "report"), ("billing", "packet"),
    ("rollups", "rebuild"), ("audit", "export"), ("reminders", "run"), ("month", "checks"),
    ("month", "close"), ("month", "reopen"), ("month", "packets"),
    ("import", "patients"),
}

_HANDLERS: dict[tuple[str, str | None], Callable[[argparse.Namespace], int]] = {
    ("db", "upgrade"): _db_upgrade,
    ("db", "current"): _db_current,
    ("practice", "add"): _practice_add,
    ("demo", None): _demo,
    ("user", "add"): _user_add,
    ("user", "grant"): _user_grant,
    ("user", "revoke"): _user_revoke,
    ("billing", "evaluate"): _billing_evaluate,
    ("billing", "report"): _billing_report,
    ("billing", "packet"): _billing_packet,
    ("rollups", "rebuild"): _rollups_rebuild,
    ("audit", "export"): _audit_export,
    ("reminders", "run"): _reminders_run,
    ("reminders", "keys"): _reminders_keys,
    ("import", "patients"): _import_patients,
    ("month", "checks"): _month,
    ("month", "close"): _month,
    ("month", "reopen"): _month,
    ("month", "packets"): _month,
    ("backup", None): _backup,
    ("backup", "verify"): _backup,
    ("restore", None): _backup,
}
