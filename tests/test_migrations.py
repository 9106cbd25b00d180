"""The Alembic migrations build exactly the schema the models declare, on every backend."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

import helpdesk
from helpdesk.extensions import db
from helpdesk.models import is_modelled

# The queue's expression index (office_id, (first_follow_up_at IS NOT NULL), follow_up_due_at, id): on SQLite,
# SQLAlchemy cannot reflect expression indexes, so alembic skips it with a warning and cannot compare it. On
# PostgreSQL (alembic 1.20) it is compared like any other. A difference naming it is ignored in any case, and its
# existence is checked from the catalogue below.
EXPRESSION_INDEXES = {"ix_ticket_queue"}


def _names(diff) -> set[str]:
    """Index and constraint names mentioned by one compare_metadata entry (a tuple or a list of tuples)."""
    entries = diff if isinstance(diff, list) else [diff]
    return {getattr(item, "name", None) for entry in entries for item in entry if hasattr(item, "name")}


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index ix_ticket_queue")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": is_modelled})
        diffs = compare_metadata(context, db.metadata)
    remaining = [diff for diff in diffs if not (_names(diff) & EXPRESSION_INDEXES)]
    assert remaining == []


def test_migrated_database_is_at_the_head_revision(app):
    config = current_app.extensions["migrate"].migrate.get_config(directory=str(helpdesk.MIGRATIONS_DIR))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as connection:
        assert set(MigrationContext.configure(connection).get_current_heads()) == heads
    assert len(heads) == 1


def test_queue_expression_index_exists(app):
    # Read from the catalogue: SQLite's reflection skips expression indexes.
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ticket'",
        "postgresql": "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'ticket'",
    }[db.engine.dialect.name]
    assert "ix_ticket_queue" in set(db.session.scalars(db.text(query)))


def test_text_search_index_exists(app):
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE name = 'ticket_search'",
        "postgresql": "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_ticket_search_trgm'",
    }[db.engine.dialect.name]
    assert db.session.scalar(db.text(query)) is not None
