"""the email channel: mailboxes, inbound emails, outbox Message-IDs, ticket links and flags

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The ticket table is altered with plain ADD COLUMN on SQLite (no batch copy), so the text-search triggers of
0003 stay in place.
"""
from alembic import op
import sqlalchemy as sa

import helpdesk.timeutil


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mailbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('last_attempt_at', helpdesk.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', helpdesk.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('created_at', helpdesk.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_mailbox_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox')),
    sa.UniqueConstraint('name', name=op.f('uq_mailbox_name'))
    )
    op.create_table('inbound_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=True),
    sa.Column('received_at', helpdesk.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('from_address', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('filed_folder', sa.String(length=200), nullable=True),
    sa.Column('created_at', helpdesk.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', helpdesk.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['ticket_event.id'], name=op.f('fk_inbound_email_event_id_ticket_event')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_inbound_email_office_id_office')),
    sa.ForeignKeyConstraint(['raw_sha256'], ['blob.sha256'], name=op.f('fk_inbound_email_raw_sha256_blob')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_inbound_email_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_email')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_inbound_email_dedupe_key'))
    )
    op.create_index('ix_inbound_email_message_id', 'inbound_email', ['message_id'])
    op.create_index('ix_inbound_email_status', 'inbound_email', ['status', 'created_at'])
    op.create_index('ix_inbound_email_ticket_id', 'inbound_email', ['ticket_id'])

    op.add_column('attachment', sa.Column('content_id', sa.String(length=250), nullable=True))
    op.add_column('attachment', sa.Column('inline', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.add_column('outbox', sa.Column('message_id', sa.String(length=250), nullable=True))
    op.add_column('outbox', sa.Column('automatic', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_outbox_message_id', 'outbox', ['message_id'])
    op.create_index('ix_outbox_recipient_created', 'outbox', ['recipient', 'created_at'])

    op.add_column('ticket', sa.Column('flag', sa.String(length=40), nullable=True))
    op.add_column('ticket', sa.Column('link_kind', sa.String(length=30), nullable=True))
    op.add_column('ticket', sa.Column('auto_reply_block', sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE ticket ADD COLUMN linked_ticket_id INTEGER "
                   "CONSTRAINT fk_ticket_linked_ticket_id_ticket REFERENCES ticket (id)")
    else:
        op.add_column('ticket', sa.Column('linked_ticket_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_ticket_linked_ticket_id_ticket', 'ticket', 'ticket', ['linked_ticket_id'], ['id'])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint('fk_ticket_linked_ticket_id_ticket', 'ticket', type_='foreignkey')
    for column in ('auto_reply_block', 'link_kind', 'linked_ticket_id', 'flag'):
        op.drop_column('ticket', column)

    op.drop_index('ix_outbox_recipient_created', 'outbox')
    op.drop_index('ix_outbox_message_id', 'outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('automatic')
        batch_op.drop_column('message_id')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_column('inline')
        batch_op.drop_column('content_id')
    op.drop_table('inbound_email')
    op.drop_table('mailbox')
