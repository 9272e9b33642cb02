"""organisations of practices, roles in further practices (managed and hybrid CCM)

Every existing practice becomes the one practice of its own organisation, named after it:
nothing about who sees what changes until an admin adds a practice to the organisation
and gives someone a role there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:20:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'organisation',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # Plain ADD COLUMN with an inline REFERENCES (as in 0004): a batch rebuild of practice
    # would drop a table every other table points at.
    op.add_column('practice', sa.Column('organisation_id', sa.Uuid(),
                                        sa.ForeignKey('organisation.id'), nullable=True),
                  inline_references=True)
    op.create_index('ix_practice_organisation_id', 'practice', ['organisation_id'],
                    unique=False)
    op.create_table(
        'practice_role',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('practice_id', sa.Uuid(), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('supervisor_id', sa.Uuid(), nullable=True),
        sa.Column('granted_by_id', sa.Uuid(), nullable=True),
        sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['practice_id'], ['practice.id']),
        sa.ForeignKeyConstraint(['supervisor_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['granted_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'practice_id', name='uq_practice_role'),
    )
    op.create_index('ix_practice_role_practice_id', 'practice_role', ['practice_id'],
                    unique=False)
    op.create_index('ix_practice_role_supervisor_id', 'practice_role', ['supervisor_id'],
                    unique=False)
    _one_organisation_per_practice()


def _one_organisation_per_practice() -> None:
    connection = op.get_bind()
    organisation = sa.table('organisation', sa.column('id', sa.Uuid()),
                            sa.column('name', sa.String()),
                            sa.column('created_at', sa.DateTime(timezone=True)))
    practice = sa.table('practice', sa.column('id', sa.Uuid()), sa.column('name', sa.String()),
                        sa.column('organisation_id', sa.Uuid()))
    now = datetime.now(UTC)
    for practice_id, name in connection.execute(sa.select(practice.c.id, practice.c.name)
                                                .order_by(practice.c.id)).all():
        organisation_id = uuid.uuid4()
        connection.execute(organisation.insert().values(id=organisation_id, name=name,
                                                        created_at=now))
        connection.execute(practice.update().where(practice.c.id == practice_id)
                           .values(organisation_id=organisation_id))


def downgrade() -> None:
    op.drop_index('ix_practice_role_supervisor_id', table_name='practice_role')
    op.drop_index('ix_practice_role_practice_id', table_name='practice_role')
    op.drop_table('practice_role')
    op.drop_index('ix_practice_organisation_id', table_name='practice')
    # SQLite cannot DROP a column with a foreign key: the batch rebuild (run it with
    # foreign keys off, as 0004's downgrade says).
    with op.batch_alter_table('practice', schema=None) as batch_op:
        batch_op.drop_column('organisation_id')
    op.drop_table('organisation')
