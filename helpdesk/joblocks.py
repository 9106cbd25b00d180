"""One run of a job at a time, across every process on the database, and the record of each run (``job_run``).

``job_lock(name, ttl=...)`` is entered around one run of a job. On PostgreSQL it takes a session-level advisory
lock (``pg_try_advisory_lock``) on a connection of its own, held for the whole run: the server releases it if the
process dies, because the connection closes. SQLite has no such lock, so the ``job_run`` row holds a lease
(``lease_until``) taken with one atomic UPDATE; a heartbeat renews it while the run lasts, and the lease of a
process that died runs out after ``ttl``. When the lock is taken elsewhere the run is skipped: the context
manager yields False, which is not an error.

On both backends the row keeps who ran the job last (``hostname:pid``), when its last run started and
finished, how it ended (``ok`` or ``failed`` with the error) and its one-line summary, and counts the runs.
The record is written on connections other than the session's, so it never mixes with the job's own
transaction; a job must not hold a SQLite write transaction open when it leaves the block (SQLite has one
writer at a time).
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db
from .models import JobRun
from .timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

job_run = JobRun.__table__


@dataclass
class HeldLock:
    """A run that holds its job's lock; the job sets ``summary``, recorded as the run's one-line outcome."""

    name: str
    holder: str
    started_at: datetime
    summary: str = ""

    def __bool__(self) -> bool:
        return True


def holder_id() -> str:
    """``hostname:pid`` of this process, as the ``holder`` column shows it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks: the first 8 bytes of sha256(name)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(name: str, *, ttl: timedelta, now: datetime | None = None) -> Iterator[HeldLock | Literal[False]]:
    """Hold job ``name``'s lock for the body and record the run; yields False (body should skip) when it is taken.

    ``ttl`` bounds how long a SQLite lease outlives a process that died; PostgreSQL needs no expiry.
    ``now`` is the clock for tests; by default the current time. An exception from the body is recorded as a
    failed run (``last_error``) and raised again. Needs an app context; commits nothing of the caller's session.
    """
    held = HeldLock(name=name, holder=holder_id(), started_at=as_utc(now) if now is not None else utcnow())
    lock: _Lock = _AdvisoryLock(held) if db.engine.dialect.name == "postgresql" else _Lease(held, ttl=ttl)
    try:
        if not lock.acquire():
            log.debug("job %s: running elsewhere, skipped", name)
            yield False
            return
        _record_start(lock, held, ttl=ttl)
        try:
            yield held
        except BaseException as exc:
            _record_end(lock, held, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        _record_end(lock, held, status="ok", error=None)
    finally:
        lock.release()


class _Lock(Protocol):
    """What job_lock needs of a backend: take the lock, a transaction for the record, let go."""

    def acquire(self) -> bool: ...
    def release(self) -> None: ...
    def transaction(self) -> AbstractContextManager[sa.Connection]: ...


# -- PostgreSQL: an advisory lock on a connection of its own --------------------------------------------------

class _AdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection, which also writes the record (one connection a run)."""

    def __init__(self, held: HeldLock) -> None:
        self.held = held
        self.key = advisory_key(held.name)
        self.connection = db.engine.connect()
        self.acquired = False

    def acquire(self) -> bool:
        with self.transaction() as connection:
            _ensure_row(connection, self.held.name)
            # Session-level: the lock outlives this transaction, which must not stay open during the run.
            self.acquired = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                                    {"key": self.key}).scalar())
        return self.acquired

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        with self.connection.begin():
            yield self.connection

    def release(self) -> None:
        """Release the lock and return the connection; one that cannot unlock is discarded, never pooled locked."""
        try:
            if self.acquired:
                self.connection.rollback()  # a record write that failed may have left its transaction aborted
                self.connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self.connection.commit()
        except Exception:
            log.exception("job %s: could not release its advisory lock; closing the connection", self.held.name)
            self.connection.invalidate()
        finally:
            self.connection.close()


# -- SQLite: a lease in the job_run row, renewed while the run lasts ---------------------------------------

class _Lease:
    """A lease in the ``job_run`` row, taken with one atomic UPDATE and renewed by a heartbeat thread."""

    def __init__(self, held: HeldLock, *, ttl: timedelta) -> None:
        self.held = held
        self.ttl = ttl
        self.stop = threading.Event()
        self.heartbeat: threading.Thread | None = None

    def acquire(self) -> bool:
        """The row is ours if nobody holds a lease, or the lease held has run out (its process died)."""
        with self.transaction() as connection:
            _ensure_row(connection, self.held.name)
            result = connection.execute(
                job_run.update()
                .where(job_run.c.name == self.held.name,
                       sa.or_(job_run.c.lease_until.is_(None), job_run.c.lease_until < self.held.started_at))
                .values(holder=self.held.holder, lease_until=self.held.started_at + self.ttl,
                        last_started_at=self.held.started_at))
        if result.rowcount != 1:
            return False
        self.heartbeat = threading.Thread(target=self._renew, args=(db.engine,), name=f"lease-{self.held.name}",
                                          daemon=True)
        self.heartbeat.start()
        return True

    def transaction(self) -> AbstractContextManager[sa.Connection]:
        return db.engine.begin()

    def release(self) -> None:
        self.stop.set()
        if self.heartbeat is not None:
            self.heartbeat.join()

    def _renew(self, engine: sa.Engine) -> None:
        """Every third of the ttl, push the lease a ttl ahead, while the run lasts."""
        while not self.stop.wait(self.ttl.total_seconds() / 3):
            try:
                with engine.begin() as connection:
                    connection.execute(job_run.update().where(*_ours(self.held))
                                       .values(lease_until=utcnow() + self.ttl))
            except Exception:  # the next beat tries again; one missed beat leaves two thirds of the lease
                log.exception("job %s: could not renew its lease", self.held.name)


# -- the record --------------------------------------------------------------------------------------------

def _ensure_row(connection: sa.Connection, name: str) -> None:
    """Create the job's row the first time the job runs anywhere (a concurrent creation is not an error)."""
    if connection.execute(sa.select(job_run.c.name).where(job_run.c.name == name)).first() is not None:
        return
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(insert(job_run).values(name=name, runs=0).on_conflict_do_nothing(
        index_elements=[job_run.c.name]))


def _ours(held: HeldLock) -> tuple[sa.ColumnElement[bool], ...]:
    """The row as long as this run holds it (same process, same start)."""
    return (job_run.c.name == held.name, job_run.c.holder == held.holder,
            job_run.c.last_started_at == held.started_at)


def _record_start(lock: _Lock, held: HeldLock, *, ttl: timedelta) -> None:
    """Holder, start and run count. On PostgreSQL ``lease_until`` only tells the page the job is running."""
    with lock.transaction() as connection:
        connection.execute(job_run.update().where(job_run.c.name == held.name).values(
            holder=held.holder, lease_until=held.started_at + ttl, last_started_at=held.started_at,
            runs=job_run.c.runs + 1))


def _record_end(lock: _Lock, held: HeldLock, *, status: str, error: str | None) -> None:
    """Finish time, status, error and summary; clears the lease. A lease lost to another process is left alone."""
    values = {"lease_until": None, "last_finished_at": utcnow(), "last_status": status,
              "last_error": error[:2000] if error else None, "last_summary": held.summary[:500] or None}
    statement = job_run.update().where(*_ours(held)).values(**values)
    try:
        with lock.transaction() as connection:
            result = connection.execute(statement)
    except Exception as exc:
        # The lock's connection may have died with a database restart during the run; a fresh connection records
        # the outcome once the database is back (the lease check still leaves another process's row alone).
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        log.warning("job %s: recording the end of its run failed (%s: %s); trying a new connection", held.name,
                    type(exc).__name__, reason)
        try:
            with db.engine.begin() as connection:
                result = connection.execute(statement)
        except Exception:  # the database is still away: the run's own outcome (and its exception) matter more
            log.exception("job %s: could not record the end of its run", held.name)
            return
    if result.rowcount != 1:
        log.warning("job %s: its lease ran out during the run and another process took it", held.name)
