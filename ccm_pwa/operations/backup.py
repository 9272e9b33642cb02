"""Take a backup of the configured database, or check one that was taken earlier.

A backup is only published (renamed to its `ccm-<UTC time>-<revision>` name) after the copy
was read back in full: SQLite's integrity check, or a complete read of the pg_dump archive.
So a file with the usual name in the backups folder is a backup that could be restored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.migrations import current_revision, head_revision
from ccm_pwa.operations import postgres_tools, sqlite_files
from ccm_pwa.operations.backup_files import (
    BackupContents,
    BackupError,
    BackupKind,
    destination_of,
    free_name,
    kind_of_database,
    kind_of_file,
    private_partial_file,
    prune,
    publish,
    sha256_of,
)
from ccm_pwa.operations.database_facts import key_counts, known_revisions, safe_url


@dataclass(frozen=True)
class BackupReport:
    path: Path
    contents: BackupContents
    size_bytes: int
    sha256: str
    seconds: float
    pruned: list[Path]


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    contents: BackupContents
    size_bytes: int
    sha256: str
    modified_at: datetime
    restorable: bool  # this release knows the backup's schema revision
    head: str


def create_backup(*, database_url: str, default_dir: Path, to: str | Path | None = None,
                  keep: int | None = None, client: str = "",
                  now: datetime | None = None) -> BackupReport:
    """Copy the database (safe while the app runs), check the copy, publish it, audit it."""
    started = time.monotonic()
    taken_at = now or datetime.now(UTC)
    kind = kind_of_database(database_url)
    directory, exact = destination_of(to, default_dir)
    _require_schema(database_url, kind)
    with private_partial_file(directory) as partial:
        if kind is BackupKind.SQLITE:
            sqlite_files.copy_live_database(sqlite_files.database_path(database_url), partial)
        else:
            postgres_tools.dump(database_url, partial)
        contents = read_backup(partial, kind)
        final = exact or free_name(directory, kind, contents.revision, taken_at)
        publish(partial, final)
    size, digest = final.stat().st_size, sha256_of(final)
    pruned = prune(directory, kind, keep) if keep else []
    try:
        with session_scope(database_url) as session:
            record_audit(session=session, action="backup.create", client=client, detail={
                "file": str(final.resolve()), "kind": kind.value, "revision": contents.revision,
                "bytes": size, "sha256": digest, "counts": key_counts(contents.counts),
                "pruned": [path.name for path in pruned]})
    except SQLAlchemyError as exc:
        raise BackupError(f"the backup {final} was written, but its audit row could not be: "
                          f"{str(exc.orig or exc).splitlines()[0]}") from exc
    return BackupReport(path=final, contents=contents, size_bytes=size, sha256=digest,
                        seconds=time.monotonic() - started, pruned=pruned)


def verify_backup(path: Path) -> VerifyReport:
    """Everything a restore checks before it touches a database, without touching one."""
    kind = kind_of_file(path)
    contents = read_backup(path, kind)
    stat = path.stat()
    return VerifyReport(path=path, contents=contents, size_bytes=stat.st_size,
                        sha256=sha256_of(path),
                        modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                        restorable=contents.revision in known_revisions(), head=head_revision())


def read_backup(path: Path, kind: BackupKind) -> BackupContents:
    if kind is BackupKind.SQLITE:
        return sqlite_files.read_backup(path)
    return postgres_tools.read_dump(path)


def _require_schema(database_url: str, kind: BackupKind) -> None:
    """A database that was never migrated has nothing worth keeping; say so instead of
    publishing an empty file that looks like a backup."""
    if kind is BackupKind.SQLITE and not sqlite_files.database_path(database_url).is_file():
        raise BackupError(f"no database at {sqlite_files.database_path(database_url)} "
                          f"(nothing to back up)")
    try:
        revision = current_revision(database_url)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot open the database {safe_url(database_url)}: "
                          f"{str(exc.orig or exc).splitlines()[0]}") from exc
    if revision is None:
        raise BackupError(f"the database {safe_url(database_url)} has no ccm-pwa schema yet "
                          f"(nothing to back up)")
