"""Health of the installation: database reachable and at the newest schema."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from ccm_pwa.migrations import current_revision, head_revision


@dataclass(frozen=True)
class HealthReport:
    database: str
    schema_revision: str | None
    expected_revision: str

    @property
    def ok(self) -> bool:
        return self.database == "ok" and self.schema_revision == self.expected_revision

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "database": self.database,
                "schema_revision": self.schema_revision,
                "expected_revision": self.expected_revision}


def check_health() -> HealthReport:
    try:
        revision = current_revision()
        database = "ok"
    except SQLAlchemyError as exc:
        revision, database = None, f"unreachable: {type(exc).__name__}"
    return HealthReport(database, revision, head_revision())
