"""Named counters that stay gap-tolerant but never hand out the same number twice, even under concurrency."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import Sequence


def next_value(name: str) -> int:
    """Increment counter ``name`` (created at 0 when missing) and return the new value.

    The UPDATE takes the row's write lock (PostgreSQL) or the database's write lock (SQLite) until the caller's
    transaction ends, so concurrent callers get distinct numbers. Flushes, never commits.
    """
    statement = update(Sequence).where(Sequence.name == name).values(value=Sequence.value + 1)
    value = db.session.execute(statement.returning(Sequence.value)).scalar_one_or_none()
    if value is not None:  # the usual case: one statement
        return value
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(Sequence).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"]))
    return db.session.execute(statement.returning(Sequence.value)).scalar_one()
