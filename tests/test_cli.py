"""The real ``helpdesk`` console script (DESIGN.md §7), run as a subprocess in its own data directory.

These run on SQLite only (a file in the temporary data directory): `helpdesk init` migrates whatever database
it is given, and pointing it at the shared PostgreSQL test database would race with the session's schema.
The migration itself is checked on both backends in test_migrations.py.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

HELPDESK = Path(sys.executable).parent / "helpdesk"
ADMIN_EMAIL = "admin@lpse.example.go.id"


@pytest.fixture
def run(tmp_path: Path):
    """``run(*args, **env)``: run the console script with a fresh data directory; returns the CompletedProcess."""
    data_dir = tmp_path / "data"
    base_env = {key: value for key, value in os.environ.items()
                if not key.startswith("HELPDESK_") and key not in ("DATABASE_URL", "FLASK_APP")}
    base_env["HELPDESK_DATA_DIR"] = str(data_dir)

    def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HELPDESK), *args], env={**base_env, **env}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    _run.data_dir = data_dir  # type: ignore[attr-defined]
    return _run


def staff_rows(data_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data_dir / "helpdesk.sqlite3") as connection:
        return connection.execute("SELECT email, role FROM staff ORDER BY id").fetchall()


def test_console_script_is_installed_next_to_python():
    assert HELPDESK.exists(), f"{HELPDESK} missing: install the package (pip install -e .)"


def test_sla_due_prints_the_deadline_as_one_iso_line(run):
    result = run("sla", "due", "2026-11-24T10:00")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2026-11-25T10:00:00+07:00\n"


def test_sla_due_in_another_zone(run):
    result = run("sla", "due", "2025-03-27T14:00", "--tz", "Asia/Makassar")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2025-04-08T14:00:00+08:00\n"


@pytest.mark.parametrize("args", [
    ("sla", "due", "24/11/2026 10.00"),
    ("sla", "due", "2026-11-24T10:00+07:00"),
    ("sla", "due", "2026-11-24T10:00", "--tz", "Asia/Nowhere"),
    ("sla", "due", "2026-11-24T10:00", "--office", "tidakada"),
], ids=["not-iso", "with-offset", "unknown-zone", "unknown-office"])
def test_sla_due_bad_input_fails_with_a_message_on_stderr(run, args):
    result = run(*args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Error" in result.stderr


def test_init_creates_the_admin_and_is_idempotent(run):
    env = {"HELPDESK_ADMIN_EMAIL": ADMIN_EMAIL, "HELPDESK_ADMIN_PASSWORD": "rahasia-admin-1"}
    first = run("init", **env)
    assert first.returncode == 0, first.stderr
    assert f"Admin {ADMIN_EMAIL} created." in first.stdout
    assert staff_rows(run.data_dir) == [(ADMIN_EMAIL, "admin")]

    second = run("init", **env)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout
    assert staff_rows(run.data_dir) == [(ADMIN_EMAIL, "admin")]

    # With an office in the database, `sla due --office` uses that office's calendar.
    due = run("sla", "due", "2026-11-27T16:10", "--office", "lpse")
    assert due.returncode == 0, due.stderr
    assert due.stdout == "2026-11-30T16:00:00+07:00\n"


def test_init_without_admin_settings_only_migrates_and_says_how(run):
    result = run("init")
    assert result.returncode == 0, result.stderr
    assert "HELPDESK_ADMIN_EMAIL" in result.stdout
    assert staff_rows(run.data_dir) == []
