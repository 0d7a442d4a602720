"""per-site adaptation: one fitted correction per site

Revision ID: 0003_site
Revises: 0003_core
Create Date: 2026-11-28 12:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_site'
down_revision = '0003_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'site_adaptations',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('model_version', sa.String(length=64), nullable=False),
        sa.Column('n_ham', sa.Integer(), nullable=False),
        sa.Column('n_spam', sa.Integer(), nullable=False),
        sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
        sa.PrimaryKeyConstraint('site_id'),
    )


def downgrade() -> None:
    op.drop_table('site_adaptations')
