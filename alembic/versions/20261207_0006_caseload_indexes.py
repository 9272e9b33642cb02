"""caseload lookups by index: patient (practice, care manager) and (practice, billing
practitioner), applied_mutation (client, outcome)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 07:10:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX on both backends: no table is rebuilt, no row changes.
    op.create_index('ix_patient_practice_care_manager', 'patient',
                    ['practice_id', 'care_manager_id'], unique=False)
    op.create_index('ix_patient_practice_billing_practitioner', 'patient',
                    ['practice_id', 'billing_practitioner_id'], unique=False)
    op.create_index('ix_applied_mutation_client_outcome', 'applied_mutation',
                    ['client_id', 'outcome'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_applied_mutation_client_outcome', table_name='applied_mutation')
    op.drop_index('ix_patient_practice_billing_practitioner', table_name='patient')
    op.drop_index('ix_patient_practice_care_manager', table_name='patient')
