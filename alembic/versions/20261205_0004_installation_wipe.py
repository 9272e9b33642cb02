"""installation remote erase, practice app-lock minutes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends, the foreign key inline (REFERENCES): a batch rebuild
    # of sync_client would drop a table that time_entry, applied_mutation and
    # sync_client_view point at, which SQLite refuses with foreign keys on (ccm_pwa/db.py).
    op.add_column('sync_client', sa.Column('wipe_requested_at', sa.DateTime(timezone=True),
                                           nullable=True))
    op.add_column('sync_client', sa.Column('wipe_requested_by_id', sa.Uuid(),
                                           sa.ForeignKey('app_user.id'), nullable=True),
                  inline_references=True)
    op.add_column('sync_client', sa.Column('wiped_at', sa.DateTime(timezone=True),
                                           nullable=True))
    op.add_column('practice', sa.Column('app_lock_minutes', sa.Integer(), nullable=False,
                                        server_default='5'))


def downgrade() -> None:
    # SQLite cannot DROP COLUMN a column with a foreign key: that one needs the batch rebuild
    # (run it with no child rows, or foreign keys off).
    with op.batch_alter_table('practice', schema=None) as batch_op:
        batch_op.drop_column('app_lock_minutes')
    with op.batch_alter_table('sync_client', schema=None) as batch_op:
        batch_op.drop_column('wiped_at')
        batch_op.drop_column('wipe_requested_by_id')
        batch_op.drop_column('wipe_requested_at')
