"""The content-addressed blob store: raw emails and attachments as files named by their sha256."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app, g
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db
from .models import Blob
from .timeutil import utcnow


def blob_root() -> Path:
    """Where blobs live: DATA_DIR/blobs."""
    return Path(current_app.config["DATA_DIR"]) / "blobs"


def blob_path(sha256: str) -> Path:
    """The file of one blob: blobs/ab/cd/abcd…"""
    return blob_root() / sha256[:2] / sha256[2:4] / sha256


def store_blob(data: bytes, *, content_type: str = "application/octet-stream", durable: bool = True) -> Blob:
    """Write ``data`` to the store (atomically, once) and record its row. Never commits.

    Returns the row, or for bytes new to the store an equal Blob object that is not in the session (read its
    fields; link attachments by ``blob_sha256``).

    ``durable=False`` skips the fsync and leaves the file to ``sync_pending``: the mail poller stores a batch of
    messages that way and makes them durable together before it files them on the server.

    The file is written before the row, so a row never points at a missing file; a file without a row (after a
    rollback) is harmless and is reused by the next store of the same bytes.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    path = blob_path(sha256)
    _write_file(path, data, durable=durable)
    blob = db.session.get(Blob, sha256)
    if blob is not None and blob.purged_at is not None:
        # Bytes the retention schedule deleted arrive again (a forwarded copy): the blob lives again. The row is
        # updated first, so a purge deleting this file right now (it holds the row) finishes before the file is
        # written back.
        db.session.execute(update(Blob).where(Blob.sha256 == sha256).values(purged_at=None))
        _write_file(path, data, durable=durable)
    if blob is None:
        # One statement, no unit-of-work round: another transaction may be storing the same bytes right now.
        insert = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}[db.session.get_bind().dialect.name]
        now = utcnow()
        db.session.execute(insert(Blob).values(sha256=sha256, size=len(data), content_type=content_type,
                                               created_at=now).on_conflict_do_nothing(index_elements=["sha256"]))
        blob = Blob(sha256=sha256, size=len(data), content_type=content_type, created_at=now)  # not in the session
    return blob


def _write_file(path: Path, data: bytes, *, durable: bool) -> None:
    """Write the blob's file atomically unless it is there whole already (a file cut short by a crash is not)."""
    if path.exists() and path.stat().st_size == len(data):
        return
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        if not durable:
            g.setdefault("unsynced_blobs", set()).add(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def delete_purged_file(sha256: str) -> bool:
    """Delete the file of a blob the retention schedule marked purged; True when a file was deleted.

    Runs in a short transaction of its own, after the purge's commit: the blob row is written first (a row lock on
    PostgreSQL, the write lock on SQLite), so a ``store_blob`` of the same bytes at this moment waits, then writes
    the file back. A blob no longer marked purged (stored again since) keeps its file; a file already gone (a
    second worker, a crash after an earlier delete) is fine. Commits.
    """
    try:
        held = db.session.execute(update(Blob).where(Blob.sha256 == sha256, Blob.purged_at.is_not(None))
                                  .values(purged_at=Blob.purged_at)
                                  .execution_options(synchronize_session=False)).rowcount
        if not held:
            return False
        path = blob_path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
    finally:
        db.session.commit()


def sync_pending() -> int:
    """fsync the files stored with ``durable=False`` in this app context (one ``os.sync`` for many); returns
    how many there were. SQLite's write-ahead log is synced too (a checkpoint), so rows and files are both on
    disk when this returns."""
    paths = g.pop("unsynced_blobs", set())
    if len(paths) > 8:
        os.sync()
    else:
        for path in paths:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
        db.session.commit()
    return len(paths)


def read_blob(sha256: str) -> bytes:
    """The bytes of a stored blob, checked against their hash."""
    data = blob_path(sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise OSError(f"blob {sha256} is corrupt on disk")
    return data
