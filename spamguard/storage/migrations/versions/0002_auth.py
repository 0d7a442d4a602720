"""auth: session epochs, login throttle counters, API key scheme and random hints

Existing keys keep working: their rows are marked `sha256` and re-hashed to HMAC
on first use (spamguard.sites); their hints, the first 4 characters of the key,
are replaced by random ones so a leaked row no longer gives 16 of its 48 bits.

Revision ID: 0002_auth
Revises: 0002_trust
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0002_auth'
down_revision = '0002_trust'
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
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('key_scheme', sa.String(length=8), nullable=False, server_default='hmac'))
    sites = sa.table('sites', sa.column('id', sa.Integer), sa.column('key_scheme', sa.String),
                     sa.column('key_hint', sa.String))
    connection = op.get_bind()
    for (site_id,) in connection.execute(sa.select(sites.c.id)).all():
        connection.execute(sites.update().where(sites.c.id == site_id)
                           .values(key_scheme='sha256', key_hint=secrets.token_hex(2)))


def downgrade() -> None:
    # Keys already re-hashed to HMAC cannot go back to SHA-256 (the plaintext is not kept).
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('key_scheme')
    op.drop_index('ix_login_throttle_expires_at', table_name='login_throttle')
    op.drop_table('login_throttle')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_epoch')
