"""care plan review date

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table; PostgreSQL adds the column in place.
    with op.batch_alter_table('care_plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_reviewed_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('care_plan', schema=None) as batch_op:
        batch_op.drop_column('last_reviewed_on')
