"""reports: the archive of produced reports, their email deliveries, and indexes for reading events by period

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

import helpdesk.timeutil


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UTC = helpdesk.timeutil.UTCDateTime(timezone=True)


def upgrade():
    op.create_index('ix_ticket_event_kind_created', 'ticket_event', ['kind', 'created_at'])
    op.create_index('ix_ticket_office_due', 'ticket', ['office_id', 'follow_up_due_at'])
    op.create_table('report_archive',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('generated_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_report_archive_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_archive')),
    sa.UniqueConstraint('office_id', 'kind', 'period_start', name='uq_report_archive_period')
    )
    op.create_table('report_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_report_delivery_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['report_id'], ['report_archive.id'], name=op.f('fk_report_delivery_report_id_report_archive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_delivery'))
    )
    op.create_index('ix_report_delivery_report_id', 'report_delivery', ['report_id'])


def downgrade():
    op.drop_index('ix_ticket_office_due', 'ticket')
    op.drop_index('ix_ticket_event_kind_created', 'ticket_event')
    op.drop_index('ix_report_delivery_report_id', 'report_delivery')
    op.drop_table('report_delivery')
    op.drop_table('report_archive')
