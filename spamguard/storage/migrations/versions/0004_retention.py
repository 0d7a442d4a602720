"""check retention: decisions indexed by check, so finding unreferenced old checks is an index probe

Revision ID: 0004_retention
Revises: 0003_site
Create Date: 2026-11-29 19:50:00
"""
from alembic import op

revision = '0004_retention'
down_revision = '0003_site'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_decisions_check', 'decisions', ['check_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_decisions_check', table_name='decisions')
