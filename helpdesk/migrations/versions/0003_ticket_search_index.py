"""an index for the queue's text search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Substring search over ticket.search_text: on SQLite an FTS5 table with the trigram tokenizer, kept in step
by triggers (external content, so the text is not stored twice); on PostgreSQL a pg_trgm GIN index, which
serves LIKE '%term%' directly. Neither is in the SQLAlchemy metadata (models.UNMODELLED_OBJECTS).
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_ticket_search_trgm ON ticket USING gin (search_text gin_trgm_ops)")
        return
    op.execute("CREATE VIRTUAL TABLE ticket_search USING fts5("
               "search_text, content='ticket', content_rowid='id', tokenize='trigram')")
    op.execute("CREATE TRIGGER ticket_search_insert AFTER INSERT ON ticket BEGIN "
               "INSERT INTO ticket_search(rowid, search_text) VALUES (new.id, new.search_text); END")
    op.execute("CREATE TRIGGER ticket_search_delete AFTER DELETE ON ticket BEGIN "
               "INSERT INTO ticket_search(ticket_search, rowid, search_text) "
               "VALUES ('delete', old.id, old.search_text); END")
    op.execute("CREATE TRIGGER ticket_search_update AFTER UPDATE OF search_text ON ticket BEGIN "
               "INSERT INTO ticket_search(ticket_search, rowid, search_text) "
               "VALUES ('delete', old.id, old.search_text); "
               "INSERT INTO ticket_search(rowid, search_text) VALUES (new.id, new.search_text); END")
    op.execute("INSERT INTO ticket_search(ticket_search) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_ticket_search_trgm")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER ticket_search_{name}")
    op.execute("DROP TABLE ticket_search")
