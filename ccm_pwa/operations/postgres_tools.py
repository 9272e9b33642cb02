"""PostgreSQL: pg_dump, pg_restore and psql, run without a password on their command line.

The password (if the database URL has one) travels in PGPASSWORD, which only the same OS user
and root can read; on the command line every user of the machine could see it in `ps`.
Without a password in the URL, libpq's ~/.pgpass (or peer/cert auth) is used as usual.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from ccm_pwa.db import get_engine
from ccm_pwa.operations.backup_files import BackupContents, BackupError, BackupKind

# Run before the restore script, in the same transaction: empty the public schema first.
# pg_restore --clean only drops what the dump contains, so restoring a previous release's
# backup over a newer database would trip over the newer tables (their foreign keys block the
# drops) and then `alembic upgrade` would find them already there.  Extension objects stay.
_EMPTY_PUBLIC_SCHEMA = b"""\
BEGIN;
SET LOCAL lock_timeout = '30s';
DO $ccm$
DECLARE item record;
BEGIN
  FOR item IN
    SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP %s IF EXISTS public.%I CASCADE',
                   CASE item.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                     WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                   item.relname);
  END LOOP;
END
$ccm$;
"""


@dataclass(frozen=True)
class Connection:
    """How the PostgreSQL programs reach the database: a libpq URL and their environment."""

    url: str
    env: dict[str, str]


def connection_for(database_url: str) -> Connection:
    """libpq does not know SQLAlchemy's `+psycopg` driver suffix; the password moves to env."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    # Built anew: URL.set(password=None) would keep the password (None means "unchanged").
    plain = URL.create(drivername="postgresql", username=url.username, host=url.host,
                       port=url.port, database=url.database, query=url.query)
    return Connection(url=plain.render_as_string(hide_password=False), env=env)


def find_program(name: str, beside: str | None = None) -> str:
    """The program on PATH; psql is taken from pg_restore's folder so both are one release."""
    if beside and (sibling := Path(beside).with_name(name)).is_file():
        return str(sibling)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found on PATH; install the PostgreSQL client programs "
                          f"(Debian/Ubuntu: apt install postgresql-client)")
    return found


def program_major_version(program: str) -> int:
    result = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"\)\s*(\d+)", result.stdout) or re.search(r"(\d+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise BackupError(f"cannot tell which version {program} is (it printed "
                          f"{result.stdout.strip() or result.stderr.strip()!r})")
    return int(match[1])


def server_major_version(database_url: str) -> int:
    try:
        with get_engine(database_url).connect() as connection:
            number = connection.execute(sa.text("SHOW server_version_num")).scalar_one()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot connect to the database: {_first_line(str(exc.orig or exc))}"
                          ) from exc
    return int(number) // 10000


def dump(database_url: str, destination: Path) -> None:
    """pg_dump in custom format into `destination`, an existing 0600 file it overwrites.

    pg_dump keeps the mode of a file it did not create, so the dump never exists world-
    readable, not even for a moment.  An older pg_dump than the server refuses to work
    (with a message about "server version mismatch"); say which programs are needed instead.
    """
    program = find_program("pg_dump")
    client, server = program_major_version(program), server_major_version(database_url)
    if client < server:
        raise BackupError(f"pg_dump {client} ({program}) is older than the PostgreSQL {server} "
                          f"server; put PostgreSQL {server}'s client programs first on PATH "
                          f"(Debian: /usr/lib/postgresql/{server}/bin)")
    target = connection_for(database_url)
    _run([program, "--format=custom", "--no-owner", "--no-privileges", f"--file={destination}",
          f"--dbname={target.url}"], env=target.env, what="pg_dump")


def read_dump(path: Path) -> BackupContents:
    """Read the whole archive once: row counts, the schema revision, and proof it is whole.

    pg_restore writes the data as COPY blocks, one line per row (COPY's text format escapes
    newlines inside values), so counting lines counts rows.  A truncated or damaged archive
    makes pg_restore fail, which is reported before anything touches a database.
    """
    program = find_program("pg_restore")
    counts: dict[str, int] = {}
    revision = None
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([program, "--data-only", "--file=-", str(path)],
                                   stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        table = None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            if table is None:
                if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                    table = line.split()[1].rsplit(".", 1)[-1].strip('"')
                    counts[table] = 0
            elif line == "\\.\n":
                table = None
            else:
                counts[table] += 1
                if table == "alembic_version":
                    revision = line.rstrip("\n")
        if process.wait() != 0:
            raise BackupError(f"{path} is damaged or incomplete: {_first_error(errors)}")
    if revision is None:
        raise BackupError(f"{path} holds no ccm-pwa schema revision; it is not a ccm-pwa backup")
    counts.pop("alembic_version", None)
    return BackupContents(kind=BackupKind.POSTGRESQL, revision=revision, counts=counts)


def restore(path: Path, database_url: str) -> None:
    """Replace the database's public schema with the archive, all in one transaction.

    pg_restore turns the archive into SQL (`--clean --if-exists --no-owner --no-privileges`)
    and psql runs it after emptying the public schema.  COMMIT is sent only once pg_restore
    has finished without error: if anything fails, psql stops (ON_ERROR_STOP), the
    transaction rolls back and the database is exactly as it was.
    """
    pg_restore = find_program("pg_restore")
    psql = find_program("psql", beside=pg_restore)
    target = connection_for(database_url)
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as load_errors:
        script = subprocess.Popen(
            [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--file=-",
             str(path)], stdout=subprocess.PIPE, stderr=script_errors)
        load = subprocess.Popen(
            [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={target.url}"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=load_errors, env=target.env)
        assert script.stdout is not None and load.stdin is not None
        stopped_by_us = False
        try:
            load.stdin.write(_EMPTY_PUBLIC_SCHEMA)
            shutil.copyfileobj(script.stdout, load.stdin, 1 << 20)
            if script.wait() == 0:
                load.stdin.write(b"COMMIT;\n")
            load.stdin.close()  # without COMMIT, psql ends and the transaction rolls back
        except BrokenPipeError:
            pass  # psql stopped at an error; its message is read below
        finally:
            if script.poll() is None:
                script.kill()
                stopped_by_us = True
            script.wait()
            script.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                load.stdin.close()
            load.wait()
        if script.returncode != 0 and not stopped_by_us:
            raise BackupError(f"pg_restore could not read {path}: {_first_error(script_errors)}; "
                              f"the database was left as it was")
        if load.returncode != 0:
            reason = _first_error(load_errors)
            if "lock timeout" in reason:
                reason += " (another connection is using the tables: stop the app first)"
            raise BackupError(f"the restore failed and was rolled back: {reason}")


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {_error_line(result.stderr)}")


def _first_error(stream: IO[bytes]) -> str:
    stream.seek(0)
    return _error_line(stream.read())


def _error_line(output: bytes) -> str:
    """The line that says what went wrong: the CLI prints one line, the tools print several."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()
             if line.strip()]
    for line in lines:
        if "error" in line.lower() or "fatal" in line.lower():
            return line
    return lines[0] if lines else "no message"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""
