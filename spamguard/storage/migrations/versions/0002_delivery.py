"""delivery outbox: per-site webhooks, Akismet callbacks, decisions (pull feed) and deliveries

Revision ID: 0002_delivery
Revises: 0002_auth
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_delivery'
down_revision = '0002_auth'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('site_webhooks',
    sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id'), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('created_at', Stamp, nullable=False),
    sa.PrimaryKeyConstraint('site_id')
    )
    op.create_table('callbacks',
    sa.Column('id', BigId, nullable=False),
    sa.Column('check_id', BigId, sa.ForeignKey('checks.id'), nullable=False),
    sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id'), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('sealed_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', Stamp, nullable=False),
    sa.Column('due_at', Stamp, nullable=True),
    sa.Column('settled_at', Stamp, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('check_id')
    )
    op.create_index('ix_callbacks_due', 'callbacks', ['settled_at', 'due_at'])
    op.create_table('decisions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id'), nullable=False),
    sa.Column('check_id', BigId, sa.ForeignKey('checks.id'), nullable=False),
    sa.Column('guid', sa.String(length=32), nullable=False),
    sa.Column('result', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', Stamp, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_decisions_site_id', 'decisions', ['site_id', 'id'])
    op.create_table('deliveries',
    sa.Column('id', BigId, nullable=False),
    sa.Column('decision_id', BigId, sa.ForeignKey('decisions.id'), nullable=False),
    sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', Stamp, nullable=False),
    sa.Column('claimed_until', Stamp, nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', Stamp, nullable=False),
    sa.Column('delivered_at', Stamp, nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['status', 'next_attempt_at'])
    op.create_index('ix_deliveries_decision', 'deliveries', ['decision_id'])


def downgrade() -> None:
    op.drop_table('deliveries')
    op.drop_table('decisions')
    op.drop_table('callbacks')
    op.drop_table('site_webhooks')
