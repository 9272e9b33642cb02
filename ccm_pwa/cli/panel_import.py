"""`ccm-pwa import patients FILE`: load a practice's patient panel from CSV or FHIR R4.

Exit status (docs/import.md):
- 0: every row was imported (with --dry-run: would be);
- 1: some rows were refused; they are listed, and every good patient was still imported;
- 2: nothing was read: the file is unreadable, not CSV or JSON, lacks a required column or
  is not a Bundle, or the practice is unknown (one line on stderr says which).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from ccm_pwa.cli.billing_reports import _cli_client
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import local_date
from ccm_pwa.domain.panel_csv import parse_csv
from ccm_pwa.domain.panel_fhir import parse_bundle
from ccm_pwa.domain.panel_rows import PanelFileError
from ccm_pwa.services.panel_import import (
    CREATED,
    REJECTED,
    UNCHANGED,
    UPDATED,
    ImportReport,
    import_panel,
)
from ccm_pwa.services.practices import PracticeError, choose_practice

EXIT_OK, EXIT_ROWS_REFUSED, EXIT_BAD_INPUT = 0, 1, 2


def add_import_commands(commands: argparse._SubParsersAction, parser_class: type) -> None:
    imports = commands.add_parser("import", help="load data from files").add_subparsers(
        dest="import_command", required=True, parser_class=parser_class)
    patients = imports.add_parser(
        "patients", help="create or update patients and conditions from a CSV file or a "
                         "FHIR R4 Bundle (docs/import.md)")
    patients.add_argument("file", help="the panel file (.csv, or .json FHIR Bundle)")
    patients.add_argument("--format", choices=["csv", "fhir"], default=None,
                          help="default: from the file name, else from the content")
    patients.add_argument("--dry-run", action="store_true",
                          help="report what would change; write nothing")
    patients.add_argument("--practice", default=None, help="practice name (if several)")
    patients.add_argument("--json", action="store_true", help="the report as JSON")


def run_import(args: argparse.Namespace) -> int:
    try:
        text = _read_text(Path(args.file))
    except PanelFileError as exc:
        return _fail(str(exc))
    kind = args.format or detect_format(args.file, text)
    now = datetime.now(UTC)
    try:
        with session_scope() as session:
            practice = choose_practice(session=session, name=args.practice)
            today = local_date(now, ZoneInfo(practice.timezone))
            panel = (parse_csv(text, today=today) if kind == "csv"
                     else parse_bundle(text, today=today))
            report = import_panel(session=session, practice=practice, panel=panel,
                                  file=args.file, dry_run=args.dry_run, today=today, now=now,
                                  client=_cli_client())
            if args.dry_run:
                session.rollback()
    except PanelFileError as exc:
        return _fail(f"{args.file}: {exc}")
    except PracticeError as exc:
        return _fail(str(exc))
    if args.json:
        json.dump(report_json(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_report(report, sys.stdout)
    return EXIT_OK if report.complete else EXIT_ROWS_REFUSED


def detect_format(name: str, text: str) -> str:
    """The file name decides when it can (.csv, .json); otherwise JSON looks like JSON."""
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".json", ".fhir"):
        return "fhir"
    return "fhir" if text.lstrip()[:1] in ("{", "[") else "csv"


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PanelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # Excel writes a byte-order mark; it is not a column
    except UnicodeDecodeError as exc:
        raise PanelFileError(f"{path} is not UTF-8 text (byte {exc.start}); save it as "
                             "CSV UTF-8 or JSON") from None


def _fail(message: str) -> int:
    print(f"ccm-pwa: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


# --- the report ---------------------------------------------------------------------------


def summary_line(report: ImportReport) -> str:
    t = report.totals
    if report.dry_run:
        counts = (f"would create {t[CREATED]}, update {t[UPDATED]}, leave {t[UNCHANGED]} "
                  f"unchanged, reject {t[REJECTED]}")
        head = "dry run (nothing written): "
    else:
        counts = (f"{t[CREATED]} created, {t[UPDATED]} updated, {t[UNCHANGED]} unchanged, "
                  f"{t[REJECTED]} rejected")
        head = "imported "
    unit = "rows" if report.format == "csv" else "entries"
    line = (f"{head}{report.file} ({report.format}, {t['rows']} {unit}, {t['patients']} patients) "
            f"into {report.practice}: {counts}")
    if t["errors"]:
        line += f" ({t['errors']} errors)"
    line += f"; eligible {t['eligible']}, not eligible {t['not_eligible']}"
    if not t[CREATED] and not t[UPDATED]:
        line += "; nothing would change" if report.dry_run else "; nothing changed"
    return line


def print_report(report: ImportReport, out: TextIO) -> None:
    out.write(summary_line(report) + "\n")
    for error in report.errors:
        out.write(f"{error}\n")
    for note in report.notes:
        out.write(f"note: {note}\n")
    if not report.outcomes:
        return
    out.write(f"patients (chronic-condition list {report.list_version}):\n")
    width = max(len(o.mrn or "(no MRN)") for o in report.outcomes)
    for o in report.outcomes:
        head = f"  {o.action:<9} {o.mrn or '(no MRN)':<{width}}  {o.rows}"
        if o.action == REJECTED:
            out.write(f"{head}: not imported, see the errors above\n")
            continue
        changes = f" [{', '.join(o.changes)}]" if o.action == UPDATED else ""
        out.write(f"{head}: {o.name}{changes}: {o.eligibility}\n")
        for note in o.notes:
            out.write(f"  {'':<9} {'':<{width}}  note: {note}\n")


def report_json(report: ImportReport) -> dict[str, Any]:
    return {
        "file": report.file, "format": report.format, "practice": report.practice,
        "dry_run": report.dry_run, "complete": report.complete,
        "chronic_list_version": report.list_version, "totals": report.totals,
        "errors": [{"row": e.where, "field": e.field, "reason": e.reason, "mrn": e.mrn}
                   for e in report.errors],
        "notes": report.notes,
        "patients": [{"mrn": o.mrn, "name": o.name, "rows": o.rows, "action": o.action,
                      "changes": list(o.changes), "program": o.program,
                      "eligible": o.eligible, "eligibility": o.eligibility,
                      "notes": list(o.notes),
                      "patient_id": str(o.patient_id) if o.patient_id else None}
                     for o in report.outcomes],
    }
