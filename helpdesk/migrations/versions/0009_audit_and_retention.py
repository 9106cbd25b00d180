"""audit and retention: the audit log, the requester's NIK, identity-document marks and retention purges

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

import helpdesk.timeutil


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

UTC = helpdesk.timeutil.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('office_id', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_audit_log_actor_id_staff')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_audit_log_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_created_at', 'audit_log', ['created_at'])
    op.create_index('ix_audit_log_action', 'audit_log', ['action', 'created_at'])
    op.create_index('ix_audit_log_target', 'audit_log', ['target_type', 'target_id'])
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor_id', 'created_at'])
    op.add_column('requester', sa.Column('nik', sa.String(length=16), nullable=True))
    op.add_column('attachment', sa.Column('identity_document', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    op.add_column('attachment', sa.Column('purged_at', UTC, nullable=True))
    op.add_column('inbound_email', sa.Column('raw_purged_at', UTC, nullable=True))
    op.add_column('blob', sa.Column('purged_at', UTC, nullable=True))


def downgrade():
    with op.batch_alter_table('blob') as batch:
        batch.drop_column('purged_at')
    with op.batch_alter_table('inbound_email') as batch:
        batch.drop_column('raw_purged_at')
    with op.batch_alter_table('attachment') as batch:
        batch.drop_column('purged_at')
        batch.drop_column('identity_document')
    with op.batch_alter_table('requester') as batch:
        batch.drop_column('nik')
    op.drop_index('ix_audit_log_actor', 'audit_log')
    op.drop_index('ix_audit_log_target', 'audit_log')
    op.drop_index('ix_audit_log_action', 'audit_log')
    op.drop_index('ix_audit_log_created_at', 'audit_log')
    op.drop_table('audit_log')
