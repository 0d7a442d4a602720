"""sites.share_reputation: per-site opt-out of cross-site reputation

Revision ID: 0002_trust
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_trust'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('share_reputation', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('share_reputation')
