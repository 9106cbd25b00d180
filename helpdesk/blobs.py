"""The content-addressed blob store: raw emails and attachments as files named by their sha256."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app

from .extensions import db
from .models import Blob


def blob_root() -> Path:
    """Where blobs live: DATA_DIR/blobs."""
    return Path(current_app.config["DATA_DIR"]) / "blobs"


def blob_path(sha256: str) -> Path:
    """The file of one blob: blobs/ab/cd/abcd…"""
    return blob_root() / sha256[:2] / sha256[2:4] / sha256


def store_blob(data: bytes, *, content_type: str = "application/octet-stream") -> Blob:
    """Write ``data`` to the store (atomically, once) and return its row. Flushes, never commits.

    The file is written before the row, so a row never points at a missing file; a file without a row (after a
    rollback) is harmless and is reused by the next store of the same bytes.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    path = blob_path(sha256)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    blob = db.session.get(Blob, sha256)
    if blob is None:
        blob = Blob(sha256=sha256, size=len(data), content_type=content_type)
        db.session.add(blob)
        db.session.flush()
    return blob


def read_blob(sha256: str) -> bytes:
    """The bytes of a stored blob, checked against their hash."""
    data = blob_path(sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise OSError(f"blob {sha256} is corrupt on disk")
    return data
