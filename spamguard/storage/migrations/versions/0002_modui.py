"""queue indexes: score order per verdict, tab counts

Revision ID: 0002_modui
Revises: 0002_delivery
Create Date: 2026-11-28 09:55:00
"""
from alembic import op


revision = '0002_modui'
down_revision = '0002_delivery'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checks', schema=None) as batch_op:
        # "Highest/lowest score first" in a tab: one ordered walk per verdict, no sort.
        batch_op.create_index('ix_checks_queue_score', ['reviewed_at', 'verdict', 'score', 'id'], unique=False)
        # Tab counts: an index-only GROUP BY verdict (optionally per site) of unreviewed, non-test checks.
        batch_op.create_index('ix_checks_counts', ['reviewed_at', 'is_test', 'verdict', 'site_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_index('ix_checks_counts')
        batch_op.drop_index('ix_checks_queue_score')
