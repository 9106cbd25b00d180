"""Backup and restore (helpdesk/backup.py; ``helpdesk backup DEST`` and ``helpdesk restore SRC``).

On SQLite and PostgreSQL: a round trip into a fresh, empty instance gives back every ticket, event and blob; a
backup taken while another thread keeps opening tickets restores a consistent state holding every ticket committed
before it began; a target holding data is refused unless forced; another backend is refused; a blob missing from
the store fails the backup. On SQLite (the checks do not depend on the backend): corrupt, truncated, edited and
foreign archives are refused before the target changes, even with --force; a newer schema is refused and an older
one upgraded; retention and the scheduled job; the console script through the environment.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

import helpdesk
from helpdesk import create_app, tickets
from helpdesk.backup import (
    BackupError,
    InvalidBackup,
    RestoreRefused,
    create_backup,
    pg_connection,
    prune_backups,
    restore_backup,
)
from helpdesk.blobs import blob_path, read_blob, store_blob
from helpdesk.cli import cli
from helpdesk.config import normalise_database_url
from helpdesk.extensions import db
from helpdesk.models import Attachment, Blob, Office, Requester, Staff, Ticket, TicketEvent
from helpdesk.scheduler import JOBS, JobOff, interval_seconds, run_job
from helpdesk.states import Status

from .conftest import PG_URL_ENV, RECEIVED_AT

HELPDESK = Path(sys.executable).parent / "helpdesk"
ARCHIVE_NAME = re.compile(r"helpdesk-backup-tst-\d{8}-\d{6}\.tar\.gz")


def config(url: str, data_dir: Path) -> dict[str, Any]:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(data_dir), "WTF_CSRF_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def make_target(backend: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``make_target(backend=...)``: a fresh, empty instance (a new data directory, an empty database); default:
    the test's backend. PostgreSQL: a database created for the test and dropped after it."""
    counter = itertools.count(1)
    made: list[Flask] = []
    databases: list[str] = []
    admin = (sa.create_engine(normalise_database_url(os.environ[PG_URL_ENV]), isolation_level="AUTOCOMMIT",
                              poolclass=sa.NullPool) if os.environ.get(PG_URL_ENV) else None)

    def _make_target(backend: str = backend) -> Flask:
        directory = tmp_path / f"target{next(counter)}"
        if backend == "sqlite":
            url = f"sqlite:///{directory / 'helpdesk.sqlite3'}"
        else:
            assert admin is not None
            name = f"{admin.url.database}_restore_{os.getpid()}_{len(databases) + 1}"
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            databases.append(name)
            url = admin.url.set(database=name).render_as_string(hide_password=False)
        made.append(create_app(config(url, directory / "data")))
        return made[-1]

    yield _make_target
    for app in made:
        dispose(app)
    if admin is not None:
        with admin.connect() as connection:
            for name in databases:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def invoke(app: Flask, *args: str):
    """Run ``helpdesk ARGS`` against ``app`` (whose context must be the current one)."""
    return app.test_cli_runner().invoke(cli, list(args))


def fill(make_ticket: Callable[..., Ticket]) -> None:
    """Tickets in several states with events, and attachments in the blob store."""
    resolved = make_ticket(status=Status.RESOLVED, channel="email", subject="Lupa kata sandi SPSE")
    escalated = make_ticket(status=Status.ESCALATED, subject="Galat saat unggah penawaran")
    make_ticket(status=Status.WAITING, channel="walkin", subject="Konsultasi kualifikasi")
    for ticket, content, name in ((resolved, b"%PDF-1.4 surat pernyataan", "surat.pdf"),
                                  (escalated, b"\x89PNG tangkapan layar galat", "galat.png"),
                                  (escalated, b"%PDF-1.4 surat pernyataan", "surat-lagi.pdf")):
        blob = store_blob(content, content_type="application/octet-stream")
        tickets.attach(ticket, None, blob=blob, filename=name, content_type=blob.content_type)
    db.session.commit()


def state() -> dict[str, Any]:
    """Everything a round trip must give back, read from the current app's database and blob store."""
    db.session.rollback()
    return {
        "offices": db.session.scalars(select(Office.code).order_by(Office.id)).all(),
        "staff": db.session.scalars(select(Staff.email).order_by(Staff.id)).all(),
        "requesters": db.session.scalars(select(Requester.email).order_by(Requester.id)).all(),
        "tickets": [(t.id, t.ref, t.status, t.subject, t.follow_up_due_at)
                    for t in db.session.scalars(select(Ticket).order_by(Ticket.id))],
        "events": [(e.id, e.ticket_id, e.kind, e.body, e.data)
                   for e in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id))],
        "attachments": [(a.ticket_id, a.filename, a.blob_sha256)
                        for a in db.session.scalars(select(Attachment).order_by(Attachment.id))],
        "blobs": {sha: read_blob(sha) for sha in db.session.scalars(select(Blob.sha256))},
    }


def fingerprint(app: Flask) -> dict[str, str]:
    """sha256 of every file of the instance: its data directory and its SQLite files (if any)."""
    paths = [path for path in Path(app.config["DATA_DIR"]).rglob("*") if path.is_file()]
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        paths += [Path(f"{url.database}{suffix}") for suffix in ("", "-wal") if Path(f"{url.database}{suffix}").exists()]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


# -- round trips ---------------------------------------------------------------------------------------------

def test_a_backup_restores_into_an_empty_instance_with_every_ticket_event_and_blob(app, make_ticket, make_staff,
                                                                                 make_target, tmp_path):
    make_staff(role="helpdesk")
    fill(make_ticket)
    before = state()
    backups = tmp_path / "backups"
    backups.mkdir()

    made = invoke(app, "backup", str(backups))
    assert made.exit_code == 0, made.output
    path_line, summary = made.stdout.splitlines()
    archive = Path(path_line)
    assert archive.parent == backups.resolve() and ARCHIVE_NAME.fullmatch(archive.name)
    assert "3 tickets" in summary and "3 attachments" in summary and "2 blobs" in summary
    assert archive.stat().st_mode & 0o077 == 0  # it holds password hashes and the secret key

    target = make_target()
    with target.app_context():
        restored = invoke(target, "restore", str(archive))
        assert restored.exit_code == 0, restored.output
        assert "3 tickets" in restored.stdout and "2 blobs" in restored.stdout
        assert state() == before
        # The secret key travels, so links already sent (status pages, FAQ answers) keep working.
        assert (Path(target.config["DATA_DIR"]) / "secret_key").read_text() == \
            (Path(app.config["DATA_DIR"]) / "secret_key").read_text()
        # The restored instance goes on where the source stopped: numbering and ids continue.
        office = db.session.scalar(select(Office))
        requester = db.session.scalar(select(Requester).limit(1))
        ticket = tickets.open_ticket(office=office, requester=requester, channel="phone", subject="Setelah pemulihan",
                                     body="Tiket baru di instans yang dipulihkan.", received_at=RECEIVED_AT)
        db.session.commit()
        assert ticket.ref == "TST-2026-000004"


def test_a_backup_taken_while_tickets_are_written_restores_a_consistent_state(app, office, make_requester,
                                                                            make_target, tmp_path):
    requester = make_requester()
    committed: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def keep_opening_tickets() -> None:
        with app.app_context():
            try:
                own_office, own_requester = db.session.get(Office, office.id), db.session.get(Requester, requester.id)
                for n in itertools.count(1):
                    if stop.is_set():
                        break
                    ticket = tickets.open_ticket(office=own_office, requester=own_requester, channel="web",
                                                 subject=f"Tiket serentak {n}", body=f"Isi tiket {n}",
                                                 received_at=RECEIVED_AT)
                    blob = store_blob(f"lampiran {n}\n".encode() * 200, content_type="text/plain")
                    tickets.attach(ticket, None, blob=blob, filename=f"lampiran-{n}.txt", content_type="text/plain")
                    db.session.commit()
                    committed.append(ticket.ref)
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)
            finally:
                db.session.remove()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(committed) < count and not failures and time.monotonic() < deadline:
            time.sleep(0.005)

    writer = threading.Thread(target=keep_opening_tickets, name="ticket-writer")
    writer.start()
    try:
        wait_for(30)
        committed_before = set(committed)
        result = create_backup(tmp_path)
        committed_during = len(committed)
        wait_for(committed_during + 10)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failures, failures
    assert len(committed_before) >= 30
    assert committed_during > len(committed_before)  # the writer went on committing while the backup ran

    target = make_target()
    with target.app_context():
        restored = restore_backup(result.path)
        refs = set(db.session.scalars(select(Ticket.ref)))
        assert committed_before <= refs <= set(committed)
        assert restored.counts["tickets"] == result.counts["tickets"] == len(refs)
        created = dict(db.session.execute(select(TicketEvent.ticket_id, func.count()).where(
            TicketEvent.kind == "created").group_by(TicketEvent.ticket_id)).all())
        assert sorted(created.values()) == [1] * len(refs)  # every ticket has exactly its created event
        attachments = db.session.scalars(select(Attachment)).all()
        assert len(attachments) == len(refs)  # each was committed with its ticket
        for attachment in attachments:
            assert read_blob(attachment.blob_sha256).startswith(b"lampiran ")  # present and intact


# -- refusals ------------------------------------------------------------------------------------------------

def test_a_restore_into_an_instance_holding_data_is_refused_unless_forced(app, make_ticket, tmp_path):
    fill(make_ticket)
    backed_up = state()
    archive = create_backup(tmp_path / "sebelum.tar.gz").path
    later = make_ticket(subject="Dibuat setelah backup")
    current = state()

    refused = invoke(app, "restore", str(archive))
    assert refused.exit_code == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert state() == current

    forced = invoke(app, "restore", "--force", str(archive))
    assert forced.exit_code == 0, forced.output
    assert state() == backed_up
    assert later.ref not in [ref for _, ref, *_ in state()["tickets"]]


def test_a_backup_of_another_backend_is_refused(app, backend, make_ticket, make_target, tmp_path):
    fill(make_ticket)
    archive = create_backup(tmp_path / "lain.tar.gz").path
    if backend == "sqlite":
        # Never connected to: the backend is checked from the URL before anything else.
        target = create_app(config("postgresql://helpdesk@127.0.0.1:9/tidak_ada", tmp_path / "pg-target"))
    else:
        target = make_target(backend="sqlite")
    untouched = fingerprint(target)
    with target.app_context(), pytest.raises(RestoreRefused, match=f"holds a {backend} database but this instance uses"):
        restore_backup(archive, force=True)
    assert fingerprint(target) == untouched
    dispose(target)


def test_a_blob_missing_from_the_store_fails_the_backup_and_leaves_no_archive(app, make_ticket, tmp_path):
    fill(make_ticket)
    sha = db.session.scalars(select(Blob.sha256).order_by(Blob.sha256)).first()
    blob_path(sha).unlink()
    backups = tmp_path / "backups"
    backups.mkdir()
    with pytest.raises(BackupError, match=f"blob {sha} is in the database but missing from the blob store"):
        create_backup(backups)
    assert list(backups.iterdir()) == []  # neither an archive nor its work directory


def test_a_backup_after_a_retention_purge_skips_the_deleted_files_and_restores(app, make_ticket, make_target,
                                                                                tmp_path):
    from helpdesk.retention import purge

    fill(make_ticket)
    closed = make_ticket(status=Status.CLOSED, subject="Verifikasi akun", received_at=RECEIVED_AT - timedelta(days=900))
    ktp = store_blob(b"\xff\xd8 scan KTP", content_type="image/jpeg")
    tickets.attach(closed, None, blob=ktp, filename="ktp.jpg", content_type="image/jpeg")
    shared = db.session.scalar(select(Attachment).where(Attachment.filename == "galat.png"))
    tickets.attach(closed, None, blob=db.session.get(Blob, shared.blob_sha256), filename="ktp-galat.png",
                   content_type="image/png")  # an identity document whose bytes an open ticket also holds
    db.session.commit()
    result = purge(now=RECEIVED_AT)
    assert (result.attachments, result.files_deleted, result.files_kept) == (2, 1, 1)
    assert not blob_path(ktp.sha256).exists()

    archive = create_backup(tmp_path / "setelah-retensi.tar.gz").path
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile(tar.next()))
    assert ktp.sha256 not in manifest["blobs"] and shared.blob_sha256 in manifest["blobs"]
    assert manifest["counts"]["blobs"] == 3  # the purged blob's row travels, marked; its file does not

    target = make_target()
    with target.app_context():
        restore_backup(archive)
        rows = {a.filename: a for a in db.session.scalars(select(Attachment))}
        assert rows["ktp.jpg"].purged_at is not None and rows["ktp-galat.png"].purged_at is not None
        assert rows["galat.png"].purged_at is None and read_blob(rows["galat.png"].blob_sha256)
        assert db.session.get(Blob, ktp.sha256).purged_at is not None
        assert not blob_path(ktp.sha256).exists()
        # The restored instance purges on: nothing is left to purge, and a second backup works too.
        assert purge(now=RECEIVED_AT).tickets == []
        assert create_backup(tmp_path / "lagi.tar.gz").path.is_file()


# -- damaged archives (SQLite: the checks are the same for both backends) -------------------------------------

def rewrite(archive: Path, out: Path, change: Callable[[str, bytes], bytes | None], *,
            extra: dict[str, bytes] | None = None, mode: str = "w:gz") -> None:
    """Copy a tar, passing each member through ``change(name, data)`` (None drops it), then add ``extra``."""
    with tarfile.open(archive) as source, tarfile.open(out, mode) as target:
        for member in source:
            data = change(member.name, source.extractfile(member).read())
            if data is not None:
                member.size = len(data)
                target.addfile(member, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))


def reseal(manifest: dict[str, Any]) -> bytes:
    """The manifest with its checksum made again (sha256 of its canonical JSON without the checksum)."""
    body = {key: value for key, value in manifest.items() if key != "checksum"}
    body["checksum"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return json.dumps(body).encode()


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1:]


def flip_member(prefix: str) -> Callable[[Path, Path], None]:
    def damage(archive: Path, out: Path) -> None:
        rewrite(archive, out, lambda name, data: flip(data, len(data) // 2) if name.startswith(prefix) else data)
    return damage


def edit_manifest(edit: Callable[[dict[str, Any]], Any], *, sealed: bool) -> Callable[[Path, Path], None]:
    def damage(archive: Path, out: Path) -> None:
        def change(name: str, data: bytes) -> bytes:
            if name != "manifest.json":
                return data
            manifest = json.loads(data)
            edit(manifest)
            return reseal(manifest) if sealed else json.dumps(manifest).encode()
        rewrite(archive, out, change)
    return damage


def drop_last_blob(archive: Path, out: Path) -> None:
    with tarfile.open(archive) as tar:
        last = [member.name for member in tar if member.name.startswith("blobs/")][-1]
    rewrite(archive, out, lambda name, data: None if name == last else data)


def truncate_gzip(archive: Path, out: Path) -> None:
    data = archive.read_bytes()
    out.write_bytes(data[:len(data) // 2])


def truncate_tar_between_members(archive: Path, out: Path) -> None:
    plain = out.with_suffix(".full")
    rewrite(archive, plain, lambda name, data: data, mode="w")
    with tarfile.open(plain) as tar:
        cut = [member.offset for member in tar if member.name.startswith("blobs/")][-1]
    out.write_bytes(plain.read_bytes()[:cut])  # no end-of-archive blocks: tar readers just stop


def flip_compressed_byte(archive: Path, out: Path) -> None:
    data = archive.read_bytes()
    out.write_bytes(flip(data, len(data) * 2 // 3))


def not_an_archive(archive: Path, out: Path) -> None:
    out.write_text("Ini bukan arsip cadangan.\n")


def someone_elses_tar(archive: Path, out: Path) -> None:
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo("catatan.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"halo\n"))


DAMAGES = {
    "a flipped byte in a blob": (flip_member("blobs/"), r"member blobs/\w\w/\w\w/\w{64} is corrupt"),
    "a flipped byte in the database": (flip_member("database/"), r"member database/helpdesk.sqlite3 is corrupt"),
    "an edited manifest": (edit_manifest(lambda m: m["counts"].update(tickets=99), sealed=False),
                           r"manifest.json is corrupt or was edited"),
    "a resealed manifest listing a wrong sha256": (
        edit_manifest(lambda m: m["members"]["database/helpdesk.sqlite3"].update(sha256="0" * 64), sealed=True),
        r"member database/helpdesk.sqlite3 is corrupt"),
    "a missing blob": (drop_last_blob, r"incomplete \(truncated\?\): 1 member\(s\) missing"),
    "an extra member": (lambda archive, out: rewrite(archive, out, lambda name, data: data,
                                                     extra={"../../etc/cron.d/evil": b"* * * * * root true\n"}),
                        r"unexpected member '../../etc/cron.d/evil'"),
    "a truncated archive": (truncate_gzip, r"is truncated or corrupt"),
    "a tar cut between members": (truncate_tar_between_members, r"incomplete \(truncated\?\)"),
    "a flipped byte in the compressed stream": (flip_compressed_byte, r"corrupt"),
    "not an archive": (not_an_archive, r"is not a backup archive"),
    "another tar": (someone_elses_tar, r"is not a helpdesk backup"),
}


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_archive_is_refused_before_anything_changes_even_with_force(app, make_ticket, tmp_path, damage):
    fill(make_ticket)
    archive = create_backup(tmp_path / "asli.tar.gz").path
    damaged = tmp_path / "rusak.tar.gz"
    make_damage, message = DAMAGES[damage]
    make_damage(archive, damaged)
    later = make_ticket(subject="Dibuat setelah backup")  # a force restore of the intact archive would drop it
    before, files = state(), fingerprint(app)

    with pytest.raises(InvalidBackup, match=message):
        restore_backup(damaged, force=True)
    assert fingerprint(app) == files  # no staging left behind either
    assert state() == before and later.ref in [ref for _, ref, *_ in before["tickets"]]


@pytest.mark.backends("sqlite")
def test_the_command_refuses_a_damaged_archive_on_stderr_with_a_non_zero_exit(app, make_ticket, tmp_path):
    fill(make_ticket)
    archive = create_backup(tmp_path / "asli.tar.gz").path
    truncate_gzip(archive, tmp_path / "rusak.tar.gz")
    result = invoke(app, "restore", "--force", str(tmp_path / "rusak.tar.gz"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: rusak.tar.gz is truncated or corrupt")
    assert result.stdout == ""


@pytest.mark.backends("sqlite")
def test_a_backup_of_a_newer_schema_is_refused(app, make_ticket, tmp_path):
    fill(make_ticket)
    archive = create_backup(tmp_path / "asli.tar.gz").path
    edit_manifest(lambda m: m.update(alembic_revision="0099", app_version="9.0.0"), sealed=True)(
        archive, tmp_path / "baru.tar.gz")
    files = fingerprint(app)
    with pytest.raises(RestoreRefused, match=r"newer release \(schema revision 0099, made by version 9.0.0\)"):
        restore_backup(tmp_path / "baru.tar.gz", force=True)
    assert fingerprint(app) == files


@pytest.mark.backends("sqlite")
def test_a_backup_of_an_older_schema_is_upgraded_on_restore(app, make_target, tmp_path):
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(helpdesk.MIGRATIONS_DIR))
    head = scripts.get_current_head()
    older = scripts.get_revision(head).down_revision
    source = create_app(config(f"sqlite:///{tmp_path / 'lama.sqlite3'}", tmp_path / "lama"))
    with source.app_context():
        upgrade(directory=str(helpdesk.MIGRATIONS_DIR), revision=older)
        made = create_backup(tmp_path / "lama.tar.gz")
    dispose(source)
    assert made.revision == older

    target = make_target()
    with target.app_context():
        restored = restore_backup(made.path)
        assert (restored.revision_restored, restored.revision_now) == (older, head)
        assert set(db.metadata.tables) <= set(sa.inspect(db.engine).get_table_names())


# -- retention and the scheduled job -------------------------------------------------------------------------

def test_retention_keeps_the_newest_archives_of_this_instance_only(tmp_path):
    ours = [tmp_path / f"helpdesk-backup-tst-202611{day:02d}-020000.tar.gz" for day in range(20, 26)]
    others = [tmp_path / "helpdesk-backup-tst-2-20261101-020000.tar.gz",  # another instance, named alike
              tmp_path / "helpdesk-backup-lain-20261101-020000.tar.gz", tmp_path / "catatan.txt"]
    for path in ours + others:
        path.write_text("x")
    removed = prune_backups(tmp_path, keep=4, instance="tst")
    assert removed == ours[:2]
    assert sorted(tmp_path.iterdir()) == sorted(ours[2:] + others)


@pytest.mark.backends("sqlite")
def test_the_backup_job_writes_a_daily_archive_and_keeps_the_newest(app, make_ticket, tmp_path):
    fill(make_ticket)
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "catatan.txt").write_text("bukan arsip")
    app.config.update(BACKUP_DIR=str(backups), BACKUP_KEEP=2)
    assert interval_seconds(JOBS["backup"], app.config) == 24 * 60 * 60

    start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    summaries = [run_job(app, "backup", now=start + offset)
                 for offset in (timedelta(0), timedelta(hours=3), timedelta(days=1), timedelta(days=2))]
    assert "none due yet" in summaries[1]  # a restart of the server does not take another backup at once
    assert "3 tickets" in summaries[3] and "1 older archive(s) removed" in summaries[3]
    assert sorted(path.name for path in backups.iterdir()) == [
        "catatan.txt", "helpdesk-backup-tst-20261125-020000.tar.gz", "helpdesk-backup-tst-20261126-020000.tar.gz"]


def test_the_backup_job_is_off_without_a_backup_directory(app):
    with pytest.raises(JobOff, match=r"no backup directory configured \(HELPDESK_BACKUP_DIR\)"):
        run_job(app, "backup")


# -- PostgreSQL's password and the console script -------------------------------------------------------------

def test_the_postgresql_password_goes_in_the_environment_never_on_the_command_line():
    url = sa.engine.make_url("postgresql+psycopg://helpdesk:s3cr%40t@db.example:5433/helpdesk?sslmode=require")
    conninfo, env = pg_connection(url)
    assert conninfo == "postgresql://helpdesk@db.example:5433/helpdesk?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any HELPDESK_* setting or DATABASE_URL, plus ``extra``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("HELPDESK_") and key not in ("DATABASE_URL", "FLASK_APP")}
    return {**env, **extra}


def test_the_console_script_backs_up_and_restores_through_the_environment(sqlite_template, tmp_path):
    database = tmp_path / "sumber.sqlite3"
    shutil.copyfile(sqlite_template, database)
    source_app = create_app(config(f"sqlite:///{database}", tmp_path / "sumber"))
    with source_app.app_context():
        db.session.add(Office(code="skm", name="LPSE Kabupaten Sukamaju", ticket_prefix="SKM"))
        db.session.commit()
    dispose(source_app)
    source = clean_env(DATABASE_URL=f"sqlite:///{database}", HELPDESK_DATA_DIR=str(tmp_path / "sumber"),
                       HELPDESK_SECRET_KEY="x")
    made = subprocess.run([str(HELPDESK), "backup", str(tmp_path)], env=source, capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert made.returncode == 0, made.stderr
    archive = Path(made.stdout.splitlines()[0])
    assert archive.name.startswith("helpdesk-backup-skm-") and archive.is_file()

    target = clean_env(HELPDESK_DATA_DIR=str(tmp_path / "tujuan"), HELPDESK_SECRET_KEY="x")
    restored = subprocess.run([str(HELPDESK), "restore", str(archive)], env=target, capture_output=True, text=True,
                              cwd=tmp_path, check=False)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith(f"Restored {archive.name}")
    assert (tmp_path / "tujuan" / "helpdesk.sqlite3").is_file()  # the default database of the data directory

    again = subprocess.run([str(HELPDESK), "restore", str(archive)], env=target, capture_output=True, text=True,
                           cwd=tmp_path, check=False)
    assert again.returncode == 1
    assert "Error: the target instance is not empty (1 office row(s))" in again.stderr
