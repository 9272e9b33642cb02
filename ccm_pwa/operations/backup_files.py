"""Backup files: what kind a file is, what it is called, and writing it privately.

A backup holds every patient's health information, so it is created readable by its owner
only (0600) and appears under its final name only once it is complete and checked: a
half-written file must never be copied off-host as a backup or count towards `--keep`.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"

# The tables an operator compares after a restore, with the words they are printed as.
KEY_TABLES: tuple[tuple[str, str, str], ...] = (
    ("practice", "practice", "practices"),
    ("app_user", "user", "users"),
    ("patient", "patient", "patients"),
    ("time_entry", "time entry", "time entries"),
    ("audit_event", "audit event", "audit events"),
)

_NAME = re.compile(
    r"^ccm-(?P<stamp>\d{8}T\d{6}Z)-(?P<revision>[A-Za-z0-9_]+)(?:-(?P<attempt>\d+))?"
    r"\.(?P<ext>sqlite3|dump)$"
)


class BackupError(Exception):
    """A backup or restore cannot go ahead; the message (one line) says why and what to do."""


class BackupKind(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"

    @property
    def suffix(self) -> str:
        return ".sqlite3" if self is BackupKind.SQLITE else ".dump"

    @property
    def label(self) -> str:
        """How the file is described to an operator, who may know the tool but not the app."""
        if self is BackupKind.SQLITE:
            return "SQLite database"
        return "PostgreSQL dump (pg_dump custom format)"

    @property
    def database(self) -> str:
        return "SQLite" if self is BackupKind.SQLITE else "PostgreSQL"


@dataclass(frozen=True)
class BackupContents:
    """What a backup file holds, read from the file itself rather than trusted from its name."""

    kind: BackupKind
    revision: str
    counts: dict[str, int]


def kind_of_database(database_url: str) -> BackupKind:
    if database_url.startswith("sqlite"):
        return BackupKind.SQLITE
    if database_url.startswith("postgres"):
        return BackupKind.POSTGRESQL
    scheme = database_url.split(":", 1)[0]
    raise BackupError(f"backups support SQLite and PostgreSQL only, not {scheme}")


def kind_of_file(path: Path) -> BackupKind:
    """By content, not by name: a renamed copy or one that lost its extension still restores."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise BackupError(f"{path} is a folder; name the backup file itself") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if head == SQLITE_MAGIC:
        return BackupKind.SQLITE
    if head.startswith(PG_DUMP_MAGIC):
        return BackupKind.POSTGRESQL
    raise BackupError(f"{path} is not a ccm-pwa backup (neither a SQLite database nor a "
                      f"pg_dump custom-format archive)")


def backup_name(kind: BackupKind, revision: str, taken_at: datetime, attempt: int = 1) -> str:
    """Sortable by time, and naming the schema so an operator can tell which release wrote it."""
    stamp = taken_at.strftime("%Y%m%dT%H%M%SZ")
    safe_revision = re.sub(r"[^A-Za-z0-9_]", "_", revision)
    extra = f"-{attempt}" if attempt > 1 else ""
    return f"ccm-{stamp}-{safe_revision}{extra}{kind.suffix}"


def destination_of(to: str | os.PathLike[str] | None,
                   default_dir: Path) -> tuple[Path, Path | None]:
    """(folder, exact file or None): `--to` names a folder (existing, or written with a
    trailing slash) or a new file.  Taken as text because Path() drops the trailing slash."""
    if to is None:
        return default_dir, None
    text = os.fspath(to)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        return path, None
    if path.exists():
        raise BackupError(f"{path} already exists; a backup never overwrites a file "
                          f"(name a new file or a folder)")
    return path.parent, path


def free_name(directory: Path, kind: BackupKind, revision: str, taken_at: datetime) -> Path:
    """Two backups in the same second (a retry, a test) get -2, -3… instead of clobbering."""
    attempt = 1
    while (candidate := directory / backup_name(kind, revision, taken_at, attempt)).exists():
        attempt += 1
    return candidate


@contextmanager
def private_partial_file(directory: Path) -> Iterator[Path]:
    """An empty 0600 file to write the backup into, hidden (leading dot) until published.

    Removed, with any SQLite journal beside it, when the work inside fails.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=".ccm-backup-", suffix=".partial")
    os.close(descriptor)
    partial = Path(name)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        Path(f"{partial}-journal").unlink(missing_ok=True)
        raise


def publish(partial: Path, final: Path) -> None:
    """Durably rename the finished file into place, so a power cut leaves old or new, not half."""
    os.chmod(partial, 0o600)
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    if final.exists():
        partial.unlink(missing_ok=True)
        raise BackupError(f"{final} appeared while the backup was written; not overwritten")
    os.replace(partial, final)
    _fsync_directory(final.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder; the rename is still atomic there
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def sha256_of(path: Path) -> str:
    """Printed and audited, so a copy taken off-host can be checked against the original."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def prune(directory: Path, kind: BackupKind, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of this kind that carry ccm-pwa's own names.

    Only names this code writes are touched, so a file an operator put in the folder by hand
    (or a backup of the other database kind) is never deleted.
    """
    ours = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file() and f".{match['ext']}" == kind.suffix:
            ours.append(((match["stamp"], int(match["attempt"] or 1)), path))
    ours.sort(reverse=True)
    doomed = [path for _, path in ours[keep:]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
