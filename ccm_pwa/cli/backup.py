"""`ccm-pwa backup [--to DIR_OR_FILE] [--keep N]`, `ccm-pwa backup verify FILE` and
`ccm-pwa restore FILE [--force]` (docs/operations.md, "Backups and restore").

Exit status: 0 done; 2 refused or failed, with one line on stderr saying why (a damaged file,
a SQLite backup for a PostgreSQL database, a target that holds data without --force, …).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ccm_pwa.config import load_settings
from ccm_pwa.operations.backup_files import BackupContents, BackupError


def add_backup_commands(commands: argparse._SubParsersAction, parser_class: type,
                        positive_int: Callable[[str], int]) -> None:
    backup = commands.add_parser(
        "backup", help="copy the database to a private (0600) file, checked and timestamped")
    backup.add_argument("--to", default=None, metavar="DIR_OR_FILE",
                        help="an existing folder, a folder ending in /, or a new file name "
                             "(default: $CCM_DATA_DIR/backups/)")
    backup.add_argument("--keep", type=positive_int, default=None,
                        help="afterwards delete all but the newest N backups in that folder")
    checks = backup.add_subparsers(dest="backup_command", required=False,
                                   parser_class=parser_class)
    verify = checks.add_parser("verify", help="check a backup file without restoring it")
    verify.add_argument("file", type=Path)
    restore = commands.add_parser(
        "restore", help="replace the configured database with a backup (stop the app first)")
    restore.add_argument("file", type=Path)
    restore.add_argument("--force", action="store_true",
                         help="replace a database that already holds data")


def run_backup_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "restore":
            return _restore(args)
        if args.backup_command == "verify":
            return _verify(args)
        return _backup(args)
    except BackupError as exc:
        print(f"ccm-pwa: error: {exc}", file=sys.stderr)
        return 2


def _backup(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.billing_reports import _cli_client
    from ccm_pwa.operations.backup import create_backup

    settings = load_settings()
    report = create_backup(database_url=settings.database_url,
                           default_dir=settings.data_dir / "backups", to=args.to,
                           keep=args.keep, client=_cli_client())
    print(f"backup written: {report.path}")
    _print_contents(report.contents)
    print(f"  size:            {_size(report.size_bytes)}, mode 0600")
    print(f"  sha256:          {report.sha256}")
    print(f"  took:            {report.seconds:.2f} s")
    for path in report.pruned:
        print(f"  pruned:          {path.name}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ccm_pwa.operations.backup import verify_backup

    report = verify_backup(args.file)
    age_hours = (datetime.now(UTC) - report.modified_at).total_seconds() / 3600
    print(f"backup checked: {report.path}")
    _print_contents(report.contents)
    if report.restorable:
        print(f"  restorable:      yes (this release migrates it to {report.head})")
    else:
        print(f"  restorable:      NO: revision {report.contents.revision} is newer than this "
              f"release ({report.head})")
    print(f"  size:            {_size(report.size_bytes)}")
    print(f"  sha256:          {report.sha256}")
    print(f"  age:             {age_hours:.1f} hours (file written "
          f"{report.modified_at:%Y-%m-%d %H:%M} UTC)")
    if not report.restorable:
        print(f"ccm-pwa: error: {report.path.name} is at schema revision "
              f"{report.contents.revision}, unknown to this release", file=sys.stderr)
        return 2
    return 0


def _restore(args: argparse.Namespace) -> int:
    from ccm_pwa.cli.billing_reports import _cli_client
    from ccm_pwa.operations.database_facts import describe_counts, safe_url
    from ccm_pwa.operations.restore import restore_backup

    url = load_settings().database_url
    report = restore_backup(backup=args.file, database_url=url, force=args.force,
                            client=_cli_client())
    print(f"restored: {report.backup}")
    print(f"  into:            {safe_url(url)}")
    print(f"  kind:            {report.contents.kind.label}, integrity checked first")
    if report.replaced is None:
        print("  replaced:        a database that could not be read")
    elif report.replaced:
        print(f"  replaced:        a database holding {describe_counts(report.replaced)}")
    print(f"  schema revision: {report.contents.revision} in the backup, {report.revision_now} "
          f"now")
    print(f"  rows:            {describe_counts(report.counts)}")
    print(f"  took:            {report.seconds:.2f} s")
    return 0


def _print_contents(contents: BackupContents) -> None:
    from ccm_pwa.operations.database_facts import describe_counts

    print(f"  kind:            {contents.kind.label}, integrity checked")
    print(f"  schema revision: {contents.revision}")
    print(f"  rows:            {describe_counts(contents.counts)}")


def _size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"
