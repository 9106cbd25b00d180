"""SLA enforcement and escalation: SLA marks and clocks on tickets, escalation records and their calls, job locks,
Ramadan hours, calendar reviews, attachments on outbound mail

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Columns are added to ``ticket`` with plain ADD COLUMN (no batch copy on SQLite), so the text-search triggers of
0003 survive.
"""
from alembic import op
import sqlalchemy as sa

import helpdesk.timeutil


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

UTC = helpdesk.timeutil.UTCDateTime(timezone=True)

TICKET_COLUMNS = (
    ('holder_role', sa.String(length=20)),
    ('follow_up_warn_at', UTC),
    ('sla_warned_at', UTC),
    ('sla_breached_at', UTC),
    ('resolution_target_days', sa.Integer()),
    ('resolution_due_at', UTC),
    ('resolution_breached_at', UTC),
    ('clock_paused_at', UTC),
    ('clock_paused_for', sa.String(length=20)),
)


def upgrade():
    for name, type_ in TICKET_COLUMNS:
        op.add_column('ticket', sa.Column(name, type_, nullable=True))
    op.add_column('ticket', sa.Column('requester_seconds', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('ticket', sa.Column('lkpp_seconds', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_ticket_sla_warn', 'ticket', ['sla_warned_at', 'follow_up_warn_at'])
    op.create_index('ix_ticket_sla_breach', 'ticket', ['sla_breached_at', 'follow_up_due_at'])
    op.create_index('ix_ticket_resolution_breach', 'ticket', ['resolution_breached_at', 'resolution_due_at'])
    # Tickets that already had their follow-up, or are finished, are not warned or breached after the upgrade.
    op.execute("UPDATE ticket SET sla_warned_at = first_follow_up_at, sla_breached_at = first_follow_up_at "
               "WHERE first_follow_up_at IS NOT NULL")

    op.add_column('office', sa.Column('ramadan_hours', sa.JSON(), nullable=True))
    op.add_column('outbox', sa.Column('attachments', sa.JSON(), nullable=False, server_default='[]'))

    op.create_table('escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('target_role', sa.String(length=20), nullable=True),
    sa.Column('target_staff_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=40), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('external_ref', sa.String(length=100), nullable=True),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', UTC, nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', UTC, nullable=True),
    sa.Column('reviewed_at', UTC, nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('last_reminder_at', UTC, nullable=True),
    sa.Column('next_reminder_at', UTC, nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('closed_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_escalation_created_by_id_staff')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_escalation_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff.id'], name=op.f('fk_escalation_reviewed_by_id_staff')),
    sa.ForeignKeyConstraint(['target_staff_id'], ['staff.id'], name=op.f('fk_escalation_target_staff_id_staff')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_escalation_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation'))
    )
    op.create_index('ix_escalation_ticket_id', 'escalation', ['ticket_id'])
    op.create_index('ix_escalation_external_ref', 'escalation', ['external_ref'])
    op.create_index('ix_escalation_message_id', 'escalation', ['message_id'])
    op.create_index('ix_escalation_reminder', 'escalation', ['status', 'next_reminder_at'])

    op.create_table('escalation_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('escalation_id', sa.Integer(), nullable=False),
    sa.Column('called_at', UTC, nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('reference_given', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalation.id'], name=op.f('fk_escalation_call_escalation_id_escalation')),
    sa.ForeignKeyConstraint(['officer_id'], ['staff.id'], name=op.f('fk_escalation_call_officer_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_call'))
    )
    op.create_index('ix_escalation_call_escalation_id', 'escalation_call', ['escalation_id'])

    op.create_table('job_run',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=True),
    sa.Column('lease_until', UTC, nullable=True),
    sa.Column('last_started_at', UTC, nullable=True),
    sa.Column('last_finished_at', UTC, nullable=True),
    sa.Column('last_status', sa.String(length=20), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_summary', sa.Text(), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_run'))
    )

    op.create_table('hours_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=20), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('source_ref', sa.String(length=300), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_hours_period_created_by_id_staff')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_hours_period_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hours_period'))
    )
    op.create_index('ix_hours_period_office_id', 'hours_period', ['office_id'])

    op.create_table('calendar_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_calendar_review_office_id_office')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff.id'], name=op.f('fk_calendar_review_reviewed_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_review')),
    sa.UniqueConstraint('year', 'office_id', name='uq_calendar_review_year_office')
    )


def downgrade():
    op.drop_table('calendar_review')
    op.drop_index('ix_hours_period_office_id', 'hours_period')
    op.drop_table('hours_period')
    op.drop_table('job_run')
    op.drop_index('ix_escalation_call_escalation_id', 'escalation_call')
    op.drop_table('escalation_call')
    for index in ('ix_escalation_reminder', 'ix_escalation_message_id', 'ix_escalation_external_ref',
                  'ix_escalation_ticket_id'):
        op.drop_index(index, 'escalation')
    op.drop_table('escalation')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('attachments')
    with op.batch_alter_table('office', schema=None) as batch_op:
        batch_op.drop_column('ramadan_hours')
    for index in ('ix_ticket_resolution_breach', 'ix_ticket_sla_breach', 'ix_ticket_sla_warn'):
        op.drop_index(index, 'ticket')
    for name in ('lkpp_seconds', 'requester_seconds', *(name for name, _ in reversed(TICKET_COLUMNS))):
        op.drop_column('ticket', name)
