"""sync pull views, patient of an applied mutation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_client_view',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('versions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['sync_client.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_client_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_client_view_client_id'), ['client_id'], unique=False)

    # Batch mode: SQLite rebuilds the table; PostgreSQL adds the column in place.
    with op.batch_alter_table('applied_mutation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key('fk_applied_mutation_patient_id_patient', 'patient',
                                    ['patient_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('applied_mutation', schema=None) as batch_op:
        batch_op.drop_constraint('fk_applied_mutation_patient_id_patient', type_='foreignkey')
        batch_op.drop_column('patient_id')

    with op.batch_alter_table('sync_client_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_client_view_client_id'))

    op.drop_table('sync_client_view')
