"""usage_monthly: drop the write-only per-verdict counters (key-sites and get-stats count from tables)

Revision ID: 0003_core
Revises: 0002_modui
Create Date: 2026-11-28 13:15:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0003_core'
down_revision = '0002_modui'
branch_labels = None
depends_on = None

COLUMNS = ('spam', 'ham', 'missed_spam', 'false_positives')


def upgrade() -> None:
    with op.batch_alter_table('usage_monthly', schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table('usage_monthly', schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
