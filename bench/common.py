"""What the benchmark scripts share: the line describing the machine and database a figure was measured on."""
from __future__ import annotations

import os
import platform
import sqlite3

from sqlalchemy import text

from helpdesk.extensions import db


def machine_line(app) -> str:
    """``machine: nproc 2, python 3.11.7, sqlite 3.40.1, backend postgresql 15.x`` for the app's database."""
    with app.app_context():
        backend = db.engine.dialect.name
        if backend == "postgresql":
            with db.engine.connect() as conn:
                backend += " " + conn.execute(text("SHOW server_version")).scalar_one()
    return (f"machine: nproc {os.cpu_count()}, python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
            f"backend {backend}")
