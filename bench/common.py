"""What the benchmark scripts share: the line describing the machine and database a figure was measured on."""
from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import text

from helpdesk import create_app
from helpdesk.extensions import db


def bench_app(database_url: str | None, *, prefix: str) -> tuple[object, Path]:
    """The demo office's app on ``database_url`` (default: SQLite in a new temporary directory) and that
    directory (the caller removes it)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(workdir), "TESTING": False,
                      "DEFAULT_OFFICE_NAME": "LPSE Kabupaten Sukamaju", "DEFAULT_OFFICE_PREFIX": "SKM"})
    return app, workdir


def machine_line(app) -> str:
    """``machine: nproc 2, python 3.11.7, sqlite 3.40.1, backend postgresql 15.x`` for the app's database."""
    with app.app_context():
        backend = db.engine.dialect.name
        if backend == "postgresql":
            with db.engine.connect() as conn:
                backend += " " + conn.execute(text("SHOW server_version")).scalar_one()
    return (f"machine: nproc {os.cpu_count()}, python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
            f"backend {backend}")
