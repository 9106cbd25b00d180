"""the FAQ: entries, their versions, answers sent automatically, and the search index of normalised tokens

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

``faq_search`` holds the same normalised tokens on both stores (faq/index.py writes them): an FTS5 table on
SQLite (rowid = faq_entry.id, ranked with bm25), a table with a weighted tsvector and a GIN index on PostgreSQL
(config 'simple': the tokens are already normalised and stemmed in Python).
"""
from alembic import op
import sqlalchemy as sa

import helpdesk.timeutil


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

UTC = helpdesk.timeutil.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('faq_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('alternatives', sa.JSON(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answer_html', sa.Text(), nullable=False),
    sa.Column('topic', sa.String(length=60), nullable=True),
    sa.Column('application', sa.String(length=20), nullable=True),
    sa.Column('spse_version', sa.String(length=40), nullable=True),
    sa.Column('visibility', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_ticket_id', sa.Integer(), nullable=True),
    sa.Column('review_by', sa.Date(), nullable=True),
    sa.Column('auto_answer', sa.Boolean(), nullable=False),
    sa.Column('retired_at', UTC, nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('updated_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_faq_entry_created_by_id_staff')),
    sa.ForeignKeyConstraint(['source_ticket_id'], ['ticket.id'], name=op.f('fk_faq_entry_source_ticket_id_ticket')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff.id'], name=op.f('fk_faq_entry_updated_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_entry')),
    sa.UniqueConstraint('key', name=op.f('uq_faq_entry_key'))
    )
    op.create_index('ix_faq_entry_visibility', 'faq_entry', ['visibility', 'retired_at'])

    op.create_table('faq_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('change', sa.String(length=20), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['staff.id'], name=op.f('fk_faq_version_changed_by_id_staff')),
    sa.ForeignKeyConstraint(['entry_id'], ['faq_entry.id'], name=op.f('fk_faq_version_entry_id_faq_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_version')),
    sa.UniqueConstraint('entry_id', 'version', name='uq_faq_version_entry_version')
    )
    op.create_index('ix_faq_version_entry_id', 'faq_version', ['entry_id'])

    op.create_table('faq_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('entry_version', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('sent_at', UTC, nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('decided_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['faq_entry.id'], name=op.f('fk_faq_answer_entry_id_faq_entry')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_faq_answer_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_faq_answer_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_answer'))
    )
    op.create_index('ix_faq_answer_ticket_id', 'faq_answer', ['ticket_id'])

    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE faq_search USING fts5(question, answer, "
                   "tokenize = 'unicode61 remove_diacritics 2')")
    else:
        op.execute("CREATE TABLE faq_search (entry_id integer PRIMARY KEY REFERENCES faq_entry (id) ON DELETE CASCADE, "
                   "question text NOT NULL DEFAULT '', answer text NOT NULL DEFAULT '', vector tsvector NOT NULL)")
        op.execute("CREATE INDEX ix_faq_search_vector ON faq_search USING gin (vector)")


def downgrade():
    op.execute("DROP TABLE faq_search")
    op.drop_index('ix_faq_answer_ticket_id', 'faq_answer')
    op.drop_table('faq_answer')
    op.drop_index('ix_faq_version_entry_id', 'faq_version')
    op.drop_table('faq_version')
    op.drop_index('ix_faq_entry_visibility', 'faq_entry')
    op.drop_table('faq_entry')
