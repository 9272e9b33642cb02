"""A month's billing output: the claims CSV and every billed patient's audit packet.

The CSV is exactly `billing_report.rows_as_csv(claim_rows(...))`, the report billing
staff already use (one line per claim line). A packet is `audit_packet` rendered by
`render_packet_html`: consent record, care plan in force at month end, every counted and
excluded minute with its reason. `packets_zip` bundles them for one download,
`practices_zip` those of every practice she oversees (one folder each);
`write_packets` writes the same files into a directory (the CLI, an archive job).

A supervisor gets the rows and packets of her team's patients; an admin (or no viewer,
the CLI) gets the whole practice. Callers audit the export; the routes do.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from html import escape
from pathlib import Path

from sqlmodel import Session, select

from ccm_pwa.auth.access import visible_patients
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import Patient, Practice, Role, User
from ccm_pwa.services.audit_packet_html import render_packet_html
from ccm_pwa.services.billing_report import ClaimRow, audit_packet, claim_rows, rows_as_csv


def month_claim_rows(*, session: Session, practice: Practice, month: YearMonth,
                     viewer: User | None = None) -> list[ClaimRow]:
    rows = claim_rows(session=session, practice=practice, month=month)
    if viewer is None or viewer.role == Role.ADMIN:
        return rows
    mrns = set(session.exec(select(Patient.mrn).where(Patient.id.in_(
        visible_patients(viewer)))))
    return [r for r in rows if r.mrn in mrns]


def billing_csv(*, session: Session, practice: Practice, month: YearMonth,
                viewer: User | None = None) -> str:
    """The billing report CSV of the month (header + one line per claim line)."""
    return rows_as_csv(month_claim_rows(session=session, practice=practice, month=month,
                                        viewer=viewer))


def packet_html(*, session: Session, practice: Practice, month: YearMonth,
                patient: Patient) -> str:
    """One patient's audit packet as a self-contained HTML page."""
    return render_packet_html(audit_packet(session=session, practice=practice, month=month,
                                           patient=patient))


def packet_files(*, session: Session, practice: Practice, month: YearMonth,
                 viewer: User | None = None) -> list[tuple[str, bytes]]:
    """(name, content) of `claims.csv`, `index.html` and `packets/<MRN>.html` per billed
    patient, in MRN order."""
    rows = month_claim_rows(session=session, practice=practice, month=month, viewer=viewer)
    return _files(session, practice, month, rows)


def _files(session: Session, practice: Practice, month: YearMonth,
           rows: list[ClaimRow]) -> list[tuple[str, bytes]]:
    mrns = sorted({r.mrn for r in rows})
    patients = {p.mrn: p for p in session.exec(select(Patient).where(
        Patient.practice_id == practice.id, Patient.mrn.in_(mrns)))} if mrns else {}
    files = [("claims.csv", rows_as_csv(rows).encode())]
    for mrn in mrns:
        html = packet_html(session=session, practice=practice, month=month,
                           patient=patients[mrn])
        files.append((f"packets/{_safe(mrn)}.html", html.encode()))
    files.insert(1, ("index.html", _index(practice, month, rows, mrns).encode()))
    return files


def packets_zip(*, session: Session, practice: Practice, month: YearMonth,
                viewer: User | None = None) -> bytes:
    """Every file of `packet_files` in one in-memory ZIP, under `ccm-<month>/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in packet_files(session=session, practice=practice, month=month,
                                          viewer=viewer):
            archive.writestr(f"ccm-{month}/{name}", content)
    return buffer.getvalue()


def practices_zip(*, session: Session, month: YearMonth,
                  viewers: list[tuple[Practice, User]]) -> tuple[bytes, dict[uuid.UUID, set[str]]]:
    """The month of several practices in one ZIP: one folder per practice (its name), each
    holding exactly what that practice's `packets_zip` holds for that viewer (her stand-in
    there, `access.acting_in`). Each practice's claims stay its own file: the practices
    bill under their own NPIs. Also returns each practice's billed MRNs, for the audit."""
    buffer = io.BytesIO()
    billed: dict[uuid.UUID, set[str]] = {}
    taken: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for practice, viewer in viewers:
            rows = month_claim_rows(session=session, practice=practice, month=month,
                                    viewer=viewer)
            billed[practice.id] = {r.mrn for r in rows}
            folder = _safe(practice.name)
            if folder in taken:  # two practices of one name: the id tells them apart
                folder = f"{folder}-{str(practice.id)[:8]}"
            taken.add(folder)
            for name, content in _files(session, practice, month, rows):
                archive.writestr(f"ccm-{month}/{folder}/{name}", content)
    return buffer.getvalue(), billed


def write_packets(*, session: Session, practice: Practice, month: YearMonth,
                  directory: Path, viewer: User | None = None) -> list[Path]:
    """Write every file of `packet_files` under `directory`; returns the paths written."""
    written = []
    for name, content in packet_files(session=session, practice=practice, month=month,
                                      viewer=viewer):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


def _safe(mrn: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in mrn)


def _index(practice: Practice, month: YearMonth, rows: list[ClaimRow],
           mrns: list[str]) -> str:
    lines = "".join(
        f"<tr><td><a href='packets/{escape(_safe(r.mrn))}.html'>{escape(r.mrn)}</a></td>"
        f"<td>{escape(r.patient_name)}</td><td>{escape(r.code)}</td><td>{r.units}</td>"
        f"<td>{r.minutes}</td><td>{escape(r.amount) or '—'}</td></tr>" for r in rows)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>CCM "
            f"{month} audit packets</title></head><body><h1>{escape(practice.name)} — CCM "
            f"claims {month}</h1><p>{len(rows)} claim lines, {len(mrns)} patients.</p>"
            "<table><tr><th>MRN</th><th>Patient</th><th>Code</th><th>Units</th>"
            f"<th>Minutes</th><th>Amount</th></tr>{lines}</table></body></html>")
