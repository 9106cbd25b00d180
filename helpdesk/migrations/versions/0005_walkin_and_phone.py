"""walk-in desk and phone system: the walk-in queue, Twilio call log, webhook replay guard, outbox external ids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

import helpdesk.timeutil


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

UTC = helpdesk.timeutil.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('walkin_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('service_type', sa.String(length=30), nullable=False),
    sa.Column('service_day', sa.Date(), nullable=False),
    sa.Column('queue_letter', sa.String(length=2), nullable=False),
    sa.Column('queue_number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('arrived_at', UTC, nullable=False),
    sa.Column('called_at', UTC, nullable=True),
    sa.Column('called_by_id', sa.Integer(), nullable=True),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('desk', sa.String(length=40), nullable=True),
    sa.Column('finished_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['called_by_id'], ['staff.id'], name=op.f('fk_walkin_visit_called_by_id_staff')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_walkin_visit_office_id_office')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_walkin_visit_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_walkin_visit')),
    sa.UniqueConstraint('office_id', 'service_day', 'queue_letter', 'queue_number', name='uq_walkin_visit_number'),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_walkin_visit_ticket_id'))
    )
    op.create_index('ix_walkin_visit_day', 'walkin_visit', ['office_id', 'service_day', 'status'])

    op.create_table('call_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('from_number', sa.String(length=40), nullable=False),
    sa.Column('to_number', sa.String(length=40), nullable=False),
    sa.Column('started_at', UTC, nullable=False),
    sa.Column('ended_at', UTC, nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('answered_by', sa.String(length=40), nullable=True),
    sa.Column('recording_url', sa.Text(), nullable=True),
    sa.Column('recording_sid', sa.String(length=64), nullable=True),
    sa.Column('recording_seconds', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('logged_at', UTC, nullable=True),
    sa.Column('logged_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('updated_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['logged_by_id'], ['staff.id'], name=op.f('fk_call_log_logged_by_id_staff')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_call_log_office_id_office')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_call_log_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_log')),
    sa.UniqueConstraint('call_sid', name=op.f('uq_call_log_call_sid'))
    )
    op.create_index('ix_call_log_office_started', 'call_log', ['office_id', 'started_at'])
    op.create_index('ix_call_log_ticket_id', 'call_log', ['ticket_id'])

    op.create_table('webhook_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('received_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_receipt')),
    sa.UniqueConstraint('digest', name=op.f('uq_webhook_receipt_digest'))
    )

    op.add_column('outbox', sa.Column('external_id', sa.String(length=64), nullable=True))
    op.create_index('ix_outbox_external_id', 'outbox', ['external_id'])


def downgrade():
    op.drop_index('ix_outbox_external_id', 'outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('external_id')
    op.drop_table('webhook_receipt')
    op.drop_index('ix_call_log_ticket_id', 'call_log')
    op.drop_index('ix_call_log_office_started', 'call_log')
    op.drop_table('call_log')
    op.drop_index('ix_walkin_visit_day', 'walkin_visit')
    op.drop_table('walkin_visit')
