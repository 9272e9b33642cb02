"""Single-use recovery codes: 120 random bits each, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.models import RecoveryCode, utc_now

CODE_COUNT = 10
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols: 5 bits each, no 0/O or 1/I


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").upper().encode()).hexdigest()


def issue_recovery_codes(*, session: Session, user_id: uuid.UUID) -> list[str]:
    """Replace the user's codes with ten new ones, shown once ("XXXXXX-XXXXXX-…")."""
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
        session.delete(old)
    codes = []
    for _ in range(CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(24))
        codes.append("-".join(raw[i : i + 6] for i in range(0, 24, 6)))
        session.add(RecoveryCode(user_id=user_id, code_hash=_digest(raw)))
    session.flush()
    return codes


def use_recovery_code(*, session: Session, user_id: uuid.UUID, code: str,
                      now: datetime | None = None) -> bool:
    """Spend one unused code; each works once."""
    digest = _digest(code)
    for row in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user_id,
                                                        RecoveryCode.used_at.is_(None))):
        if hmac.compare_digest(row.code_hash, digest):
            # Conditional update: of two concurrent uses of one code, only one changes a row.
            spent = session.execute(
                sa.update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=now or utc_now()))
            return spent.rowcount == 1
    return False
