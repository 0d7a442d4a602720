"""auth: session epochs, login throttle counters

Revision ID: 0002_auth
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_auth'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('login_throttle',
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope')
    )
    op.create_index('ix_login_throttle_expires_at', 'login_throttle', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_login_throttle_expires_at', table_name='login_throttle')
    op.drop_table('login_throttle')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_epoch')
