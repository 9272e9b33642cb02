"""Put a backup back in place of the configured database, then bring its schema to head.

Every check that can refuse happens before the target is touched: the file's kind against
the configured database, the file's integrity, its schema revision, and whether the target
already holds data.  So a refused or damaged restore leaves the database exactly as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import get_engine, session_scope
from ccm_pwa.migrations import upgrade
from ccm_pwa.operations import postgres_tools, sqlite_files
from ccm_pwa.operations.backup import read_backup
from ccm_pwa.operations.backup_files import (
    BackupContents,
    BackupError,
    BackupKind,
    kind_of_database,
    kind_of_file,
)
from ccm_pwa.operations.database_facts import key_counts, known_revisions, row_counts, safe_url


@dataclass(frozen=True)
class RestoreReport:
    backup: Path
    contents: BackupContents
    revision_now: str
    replaced: dict[str, int] | None  # rows the target held before; {} empty, None unreadable
    counts: dict[str, int]
    seconds: float


def restore_backup(*, backup: Path, database_url: str, force: bool = False,
                   client: str = "") -> RestoreReport:
    started = time.monotonic()
    kind = kind_of_file(backup)
    target_kind = kind_of_database(database_url)
    if kind is not target_kind:
        raise BackupError(
            f"{backup.name} is a {kind.label}, but the configured database is "
            f"{target_kind.database} ({safe_url(database_url)}); restore it into a "
            f"{kind.database} database (set CCM_DATABASE_URL)")
    contents = read_backup(backup, kind)
    if contents.revision not in known_revisions():
        raise BackupError(
            f"{backup.name} is at schema revision {contents.revision}, which this version of "
            f"ccm-pwa does not know (a backup from a newer release?); restore it with that "
            f"release")
    try:
        before: dict[str, int] | None = row_counts(database_url)
    except BackupError as exc:  # a damaged SQLite file is a reason to restore, with --force
        if kind is BackupKind.POSTGRESQL:
            raise  # a server that does not answer is not helped by --force
        if not force:
            raise BackupError(f"{exc}; add --force to replace it with the backup") from exc
        before = None
    if before is not None and any(before.values()) and not force:
        raise BackupError(
            f"the database {safe_url(database_url)} already holds data "
            f"({before.get('patient', 0):,} patients, {sum(before.values()):,} rows in all); "
            f"a restore replaces all of it: add --force (back it up first if it may be needed)")

    get_engine(database_url).dispose()  # no pooled connection of ours in the way
    if kind is BackupKind.SQLITE:
        sqlite_files.copy_backup_into(backup, sqlite_files.database_path(database_url))
    else:
        postgres_tools.restore(backup, database_url)
    get_engine(database_url).dispose()  # nor one that remembers the replaced tables

    try:
        revision_now = upgrade(database_url)
    except Exception as exc:  # any migration failure: the data is back, the schema is not
        raise BackupError(f"the backup was restored at revision {contents.revision}, but the "
                          f"upgrade to the current schema failed: {_one_line(exc)}; fix that and "
                          f"run `ccm-pwa db upgrade`") from exc
    counts = row_counts(database_url)
    replaced = before if before is None or any(before.values()) else {}
    try:
        with session_scope(database_url) as session:
            record_audit(session=session, action="backup.restore", client=client, detail={
                "file": str(backup.resolve()), "kind": kind.value,
                "revision_in_backup": contents.revision, "revision_now": revision_now,
                "counts": key_counts(counts),
                "replaced": _replaced_detail(replaced)})
    except SQLAlchemyError as exc:
        raise BackupError(f"the backup was restored, but its audit row could not be written: "
                          f"{str(exc.orig or exc).splitlines()[0]}") from exc
    return RestoreReport(backup=backup, contents=contents, revision_now=revision_now,
                         replaced=replaced, counts=counts, seconds=time.monotonic() - started)


def _replaced_detail(replaced: dict[str, int] | None) -> dict[str, int] | str | None:
    if replaced is None:
        return "unreadable"
    return key_counts(replaced) if replaced else None


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
