"""change stamps for the sync pull: patient and practice record versions, view stamps
and the worklist each view sent

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN with a server default on both backends (no batch rebuild of tables
    # that others point at; see 0004). Existing views get no stamps: their next pull
    # rebuilds everything once, as before this release.
    op.add_column('patient', sa.Column('record_version', sa.Integer(), nullable=False,
                                       server_default='0'))
    op.add_column('practice', sa.Column('record_version', sa.Integer(), nullable=False,
                                        server_default='0'))
    op.add_column('sync_client_view', sa.Column('stamps', sa.JSON(), nullable=False,
                                                server_default=sa.text("'{}'")))
    op.add_column('sync_client_view', sa.Column('worklist', sa.JSON(), nullable=False,
                                                server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('sync_client_view', schema=None) as batch_op:
        batch_op.drop_column('worklist')
        batch_op.drop_column('stamps')
    with op.batch_alter_table('practice', schema=None) as batch_op:
        batch_op.drop_column('record_version')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('record_version')
