"""Fault drills (issue 8): the real parts fail while the helpdesk works, and each drill ends with nothing lost and a
clear message to staff.

1. **The database restarted during intake** (PostgreSQL only): a private PostgreSQL cluster of the test's own
   (``initdb``/``pg_ctl`` in a temp directory, on a free port) is restarted between two IMAP fetch batches of a
   poll, then stopped outright while an officer opens a page and the mail job runs, then started again.
2. **The IMAP server restarted**: the test's Dovecot is restarted (or killed, and left down for a poll) in the
   middle of a poll, between two fetch batches.
3. **The SMTP server down for ten minutes**: the aiosmtpd stand-in is stopped while acknowledgements and an
   officer's reply wait; the outbox job runs every 30 s of a job clock advanced over ten minutes (no sleeping).
4. **The disk for blobs full**: ``DATA_DIR/blobs`` is a small tmpfs mounted by the test (root only; elsewhere an
   ENOSPC injected at the blob write, see ``full_blob_disk``), filled up to a few kilobytes, while an email with a
   large attachment arrives and a visitor uploads a file at the kiosk.

``HELPDESK_TEST_INJECT_ENOSPC=1`` forces the injected ENOSPC even as root (to check that path).

Each ends with "nothing lost" (counts of inbound rows, tickets, acknowledgements, messages on the server and at
the SMTP server) and "a clear message to staff" (text on a staff page: the header's mailbox warning, the jobs
page, the outbox page, the quarantine page; /healthz for monitoring).

Time is the jobs' clock (``run_job(..., now=...)``) where the code takes one; where a staff page compares with the
real clock (the header's stale-mailbox rule) the mailbox's last success is moved back, as if the outage had
lasted that long.
"""
from __future__ import annotations

import errno
import glob
import io
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from flask import Flask, g
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from channels.email import poller
from helpdesk import create_app, tickets
from helpdesk.blobs import blob_path, blob_root, read_blob
from helpdesk.extensions import db, limiter
from helpdesk.health import check_health
from helpdesk.models import (
    DEFAULT_OFFICE_HOURS,
    Attachment,
    InboundEmail,
    Mailbox,
    Office,
    OutboxMessage,
    Ticket,
    WalkinVisit,
)
from helpdesk.scheduler import JobFailed, run_job
from helpdesk.staff import create_staff
from helpdesk.timeutil import utcnow

from .conftest import PASSWORD, _config, _migrate
from .servers.processes import free_port

WIB = timezone(timedelta(hours=7))
# A working morning in the past (Dovecot keeps the server time for a future INTERNALDATE).
ARRIVED = datetime(2026, 11, 20, 10, 0, tzinfo=WIB)
OFFICE_ADDRESS = "helpdesk@lpse-uji.example.go.id"
MAIL_FROM = f"Helpdesk LPSE Uji <{OFFICE_ADDRESS}>"


# -- helpers --------------------------------------------------------------------------------------------------

def mail(n: int, *, tag: str, attachment: bytes | None = None) -> bytes:
    """Question ``n`` of a drill from its own requester, with a unique Message-ID (and an attachment if given)."""
    message = EmailMessage()
    message["From"] = f"Penyedia {n} <penyedia{n}.{tag}@cvmaju.example.co.id>"
    message["To"] = OFFICE_ADDRESS
    message["Subject"] = f"Pertanyaan {tag} nomor {n}"
    message["Date"] = format_datetime(ARRIVED)
    message["Message-ID"] = f"<{tag}-{n}@cvmaju.example.co.id>"
    message.set_content(f"Selamat pagi, ini pertanyaan nomor {n} tentang unggah dokumen penawaran.")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename=f"dokumen-{n}.pdf")
    return message.as_bytes(policy=policy.SMTP)  # CRLF, as the server stores it


def message_ids(tag: str, count: int) -> list[str]:
    return sorted(f"<{tag}-{n}@cvmaju.example.co.id>" for n in range(1, count + 1))


def append_all(dovecot, raws: list[bytes]) -> None:
    with dovecot.client() as client:
        for raw in raws:
            client.append("INBOX", raw, msg_time=ARRIVED)


def folder_named(dovecot, leaf: str) -> str | None:
    return next((name for name, _delimiter in dovecot.folders() if name.endswith(leaf)), None)


def filed_ids(dovecot, leaf: str = "Diproses") -> list[str]:
    folder = folder_named(dovecot, leaf)
    if folder is None:
        return []
    return sorted(message_from_bytes(m.raw, policy=policy.default)["Message-ID"]
                  for m in dovecot.fetch_all(folder).values())


def inbox_ids(dovecot) -> list[str]:
    return sorted(message_from_bytes(m.raw, policy=policy.default)["Message-ID"]
                  for m in dovecot.fetch_all("INBOX").values())


def fresh() -> None:
    """End the test's read transaction, so the next query sees what the jobs (own sessions) committed."""
    try:
        db.session.rollback()
    except DBAPIError:  # its connection died with a database restart: that rollback invalidated it
        db.session.rollback()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def assert_each_mail_once(ids: list[str]) -> None:
    """Nothing lost, nothing twice: one inbound row and one ticket per message, and one acknowledgement each."""
    fresh()
    stored = sorted(db.session.scalars(select(InboundEmail.message_id)).all())
    assert stored == ids, "every email is taken exactly once"
    assert count(Ticket) == len(ids)
    assert db.session.scalar(select(func.count()).select_from(InboundEmail)
                             .where(InboundEmail.status == "processed")) == len(ids)
    acks = db.session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.automatic)).all()
    assert len(acks) == len(set(acks)) == len(ids), "one acknowledgement per email, none twice"


def wrap_ingest(monkeypatch: pytest.MonkeyPatch, after: int, action) -> list[int]:
    """Run ``action()`` once, right after the poller's ``after``-th message was ingested (committed)."""
    real = poller.ingest
    taken: list[int] = []

    def ingest(*args, **kwargs):
        result = real(*args, **kwargs)
        taken.append(kwargs.get("uid") or 0)
        if len(taken) == after:
            action()
        return result

    monkeypatch.setattr(poller, "ingest", ingest)
    return taken


def move_last_success_back(minutes: int) -> None:
    """As if the mailbox had last been read successfully ``minutes`` ago (the outage lasted that long)."""
    fresh()
    row = db.session.scalar(select(Mailbox))
    back = utcnow() - timedelta(minutes=minutes)
    db.session.execute(update(Mailbox).where(Mailbox.id == row.id).values(
        last_success_at=None if row.last_success_at is None else back, created_at=back))
    db.session.commit()


def staff_page(client, path: str = "/tickets") -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def text_of(html: str) -> str:
    """The visible text of a page, whitespace folded and the usual entities decoded (for message assertions)."""
    import html as html_module

    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def job_row(html: str, name: str) -> str:
    """The jobs page's row of job ``name``."""
    found = re.search(rf'<tr data-job="{re.escape(name)}">(.*?)</tr>', html, re.DOTALL)
    assert found is not None, f"no row for {name} on the jobs page"
    return found.group(1)


# -- 1. the database restarted during intake ------------------------------------------------------------------

class PrivateCluster:
    """A throwaway PostgreSQL cluster (initdb in a temp directory, pg_ctl on a free loopback port).

    As root the server runs as the ``postgres`` OS user (PostgreSQL refuses to run as root). ``stop(mode)``
    uses pg_ctl's modes: ``fast`` ends every session ("terminating connection due to administrator command"),
    ``immediate`` is a crash (recovery on the next start).
    """

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
        binary = found[-1] if found else shutil.which("pg_ctl")
        if binary is None or not os.access(Path(binary).with_name("initdb"), os.X_OK):
            _skip_or_fail("PostgreSQL's initdb and pg_ctl are not installed: the database drill needs its own cluster")
        self.bin = Path(binary).parent
        self.base = Path(tempfile.mkdtemp(prefix="helpdesk-pg-drill-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                _skip_or_fail("running as root without a postgres OS user: PostgreSQL cannot run as root")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.base.chmod(0o755)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=5"

    def _pg(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self.run_as, str(self.bin / tool), *args], capture_output=True, text=True,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {result.stdout}{result.stderr}\n{self.log_tail()}")

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                 "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        result = subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
                                capture_output=True, timeout=30, check=False)
        return result.returncode == 0

    def close(self) -> None:
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _skip_or_fail(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pg_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def pg_mail_app(pg_cluster: PrivateCluster, tmp_path: Path, dovecot, smtp) -> Iterator[Flask]:
    """The app on the private cluster (migrated like conftest's), wired to Dovecot and SMTP, English pages."""
    from flask_babel import force_locale

    _migrate(pg_cluster.url, tmp_path / "migrate")
    app = create_app(_config(pg_cluster.url, tmp_path / "data"))
    app.config.update(
        IMAP_HOST=dovecot.host, IMAP_PORT=dovecot.port, IMAP_USER=dovecot.user, IMAP_PASSWORD=dovecot.password,
        IMAP_SECURITY="plain", IMAP_OFFICE="tst", MAIL_FROM=MAIL_FROM, MAIL_BATCH_SIZE=4,
        BABEL_DEFAULT_LOCALE="en", **smtp.config(MAIL_TIMEOUT_SECONDS=10))
    context = app.app_context()
    context.push()
    try:
        office = Office(code="tst", name="LPSE Kabupaten Uji", ticket_prefix="TST", timezone="Asia/Jakarta",
                        hours=dict(DEFAULT_OFFICE_HOURS), email=OFFICE_ADDRESS)
        db.session.add(office)
        db.session.commit()
        with force_locale("en"):
            yield app
    finally:
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
        context.pop()


def test_drill_database_restarted_during_intake(pg_mail_app, pg_cluster, dovecot, monkeypatch):
    """PostgreSQL restarts between two fetch batches of a poll; later it stops in the middle of one and stays
    down while an officer opens a page and the mail job runs. Every email ends up taken exactly once.

    A restart costs nothing: pooled connections are checked before use (pool_pre_ping), the poll goes on and the
    job's end is recorded on a fresh connection although its lock's connection died. While the database is down,
    a page says so (503, nothing saved) and /healthz fails; the poll that was cut is taken up by the next one.
    """
    app = pg_mail_app
    office = db.session.scalar(select(Office))
    admin = create_staff(office=office, email="admin@lpse-uji.example.go.id", name="Admin Uji", role="admin",
                         password=PASSWORD)
    db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"email": admin.email, "password": PASSWORD}).status_code == 302

    # 1. A restart between two fetch batches (MAIL_BATCH_SIZE=4: the 4th message ends the first batch).
    total = 12
    append_all(dovecot, [mail(n, tag="pgdrill") for n in range(1, total + 1)])
    monkeypatch.setattr(poller, "MOVE_BATCH", 3)  # some mail is filed on the server before the restart
    restarts = wrap_ingest(monkeypatch, after=4, action=lambda: pg_cluster.restart("fast"))
    db.session.commit()  # the test's own session holds no connection across the restart
    summary = run_job(app, "mail-poll")
    assert len(restarts) == total and summary == f"default: {total} message(s) ({total} ticket)", summary
    ids = message_ids("pgdrill", total)
    assert_each_mail_once(ids)
    assert inbox_ids(dovecot) == [] and filed_ids(dovecot) == ids
    row = job_row(staff_page(client, "/admin/jobs/"), "mail-poll")
    assert 'data-status="ok"' in row, f"the run's end was recorded although its lock connection died: {row!r}"

    # 2. The database stops in the middle of the next poll and stays down a while.
    more = 6
    append_all(dovecot, [mail(n, tag="pgdown") for n in range(1, more + 1)])
    wrap_ingest(monkeypatch, after=2, action=lambda: pg_cluster.stop("fast"))
    db.session.commit()
    with pytest.raises((JobFailed, DBAPIError)):
        run_job(app, "mail-poll")
    monkeypatch.setattr(poller, "ingest", _real_ingest())
    app.config["PROPAGATE_EXCEPTIONS"] = False  # what a browser gets in production, not the test's traceback
    try:
        # (Production starts each request with a fresh session and user; the test's requests share its app
        # context, so its cached user and session are dropped first.)
        g.pop("_login_user", None)
        outage = client.get("/tickets")
        fresh()
        g.pop("_login_user", None)
        health = app.test_client().get("/healthz")  # a probe: no session cookie
        with pytest.raises(DBAPIError):
            run_job(app, "mail-poll")  # nothing can be recorded while the database is away; the log has it
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
        pg_cluster.start()
    page = outage.get_data(as_text=True)
    assert outage.status_code == 503 and outage.headers["Retry-After"] == "30"
    assert "Traceback" not in page and any(words in page for words in ("cannot reach its database",
                                                                       "tidak dapat terhubung ke basis data"))
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"] == {"ok": False, "detail": "unreachable: OperationalError"}

    run_job(app, "mail-poll")
    assert_each_mail_once(sorted(ids + message_ids("pgdown", more)))
    assert inbox_ids(dovecot) == []
    box = db.session.scalar(select(Mailbox))
    assert box.failures == 0 and box.last_error is None


def _real_ingest():
    from channels.email.intake import ingest

    return ingest


# -- 2. the IMAP server restarted -----------------------------------------------------------------------------

@pytest.mark.usefixtures("english")
@pytest.mark.parametrize("how", ["restart", "crash-and-down"])
def test_drill_imap_server_restarted_mid_poll(mail_app, dovecot, make_staff, login, monkeypatch, how):
    """Dovecot restarts (or dies and stays down for a poll) between two fetch batches; staff see the mailbox
    warning while it lasts, and the next poll takes every message exactly once."""
    app = mail_app
    app.config["MAIL_BATCH_SIZE"] = 3
    officer = make_staff(role="helpdesk")
    client = app.test_client()
    login(client, officer)
    run_job(app, "mail-poll")  # read once successfully: the mailbox is healthy
    assert 'data-stale-mailbox' not in staff_page(client)

    total = 10
    append_all(dovecot, [mail(n, tag=f"imap-{how}") for n in range(1, total + 1)])
    # The 4th message opens the second fetch batch (4-6): messages 5 and 6 are still taken from memory, and the
    # fetch of the third batch meets the dead connection.
    wrap_ingest(monkeypatch, after=4, action=dovecot.restart if how == "restart" else dovecot.kill)
    started = utcnow()
    with pytest.raises(JobFailed) as failed:
        run_job(app, "mail-poll", now=started)
    assert "failed" in str(failed.value)
    monkeypatch.setattr(poller, "ingest", _real_ingest())
    fresh()
    box = db.session.scalar(select(Mailbox))
    assert box.failures == 1 and box.last_error.startswith("mailbox default (127.0.0.1:")
    assert count(InboundEmail) == 6  # taken and committed before the connection died; still in the inbox
    if how == "crash-and-down":
        with pytest.raises(JobFailed, match="connection refused"):
            run_job(app, "mail-poll", now=started + timedelta(minutes=1))
        fresh()
        assert db.session.scalar(select(Mailbox.failures)) == 2
        # Backing off: the next scheduled run waits (interval × 2) instead of hammering the server.
        with pytest.raises(JobFailed, match="next try in"):
            run_job(app, "mail-poll", now=started + timedelta(minutes=1, seconds=30))
        fresh()
        assert db.session.scalar(select(Mailbox.failures)) == 2
    if how == "restart":  # none was filed: the poll died before its first MOVE
        assert inbox_ids(dovecot) == message_ids(f"imap-{how}", total)

    # The outage lasted 20 minutes: the staff header names the mailbox and the error.
    move_last_success_back(20)
    page = staff_page(client)
    assert 'data-stale-mailbox="default"' in page
    alert = re.search(r'<div class="alert alert-danger" role="alert" data-stale-mailbox="default">(.*?)</div>',
                      page, re.DOTALL)
    warning = text_of(alert.group(1))
    assert "Mailbox default has not been read successfully since" in warning
    assert "failed:" in warning and ("connection" in warning or "EOF" in warning), warning
    assert check_health().as_dict()["checks"]["mail"]["ok"] is False

    if how == "crash-and-down":
        dovecot.start()
    summary = run_job(app, "mail-poll", now=utcnow() + timedelta(minutes=5))  # past any backoff
    assert "message(s)" in summary

    ids = message_ids(f"imap-{how}", total)
    assert_each_mail_once(ids)
    assert inbox_ids(dovecot) == [] and filed_ids(dovecot) == ids
    box = db.session.scalar(select(Mailbox))
    assert box.failures == 0 and box.last_error is None
    assert 'data-stale-mailbox' not in staff_page(client), "the warning clears once the mailbox is read again"
    assert check_health().as_dict()["checks"]["mail"]["ok"] is True


# -- 3. the SMTP server down for ten minutes ------------------------------------------------------------------

@pytest.mark.usefixtures("english")
def test_drill_smtp_down_for_ten_minutes(mail_app, dovecot, smtp, make_staff, login):
    """Acknowledgements and an officer's reply wait while the SMTP server is down for ten minutes of job clock,
    retried with backoff and shown on the outbox page; when it is back each goes out exactly once."""
    app = mail_app
    append_all(dovecot, [mail(n, tag="smtp") for n in range(1, 4)])
    run_job(app, "mail-poll")
    fresh()
    officer = make_staff(role="helpdesk")
    admin = make_staff(role="admin")
    ticket = db.session.scalars(select(Ticket).order_by(Ticket.id)).first()
    tickets.add_message(ticket, direction="outbound", body="Silakan gunakan Apendo versi terbaru.", actor=officer)
    db.session.commit()
    queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert len(queued) == 4  # three acknowledgements and the officer's reply
    expected_ids = sorted(message.message_id for message in queued)

    smtp.stop()
    start = utcnow()
    for step in range(21):  # the outbox job every 30 s for ten minutes
        summary = run_job(app, "outbox-email", now=start + timedelta(seconds=30 * step))
        assert "0 sent" in summary and "0 failed" in summary, summary
    ten_minutes = start + timedelta(minutes=10)

    fresh()
    waiting = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert smtp.received == []
    for message in waiting:  # tried at 0, 1, 3 and 7 minutes (60 s doubling); next at 15
        assert message.status == "queued" and message.attempts == 4, (message.status, message.attempts)
        assert message.next_attempt_at > ten_minutes
        assert "cannot connect to the SMTP server" in message.last_error
        assert "Connection refused" in message.last_error
    health = check_health(now=ten_minutes).as_dict()["checks"]["outbox"]
    assert "email: 4 waiting" in health["detail"]

    # A clear message to staff: the outbox page lists each waiting message with its attempts and the error;
    # the ticket shows its reply still queued.
    client = app.test_client()
    login(client, admin)
    outbox = staff_page(client, "/admin/outbox")
    rows = re.findall(r'<tr data-outbox-id="\d+">(.*?)</tr>', outbox, re.DOTALL)
    assert len(rows) == 4
    for row in rows:
        assert 'data-outbox-status="queued"' in row
        assert "<td>4</td>" in row
        assert f"cannot connect to the SMTP server 127.0.0.1:{smtp.port}:" in text_of(row)
        assert "Connection refused" in text_of(row)
    assert 'data-count-status="queued"' in outbox
    ticket_page = staff_page(client, f"/tickets/{ticket.ref}")
    assert 'data-outbox-status="queued"' in ticket_page
    assert 'data-outbox-status="sent"' not in ticket_page

    # The server is back: the next due run sends every message, once.
    smtp.start()
    for step in range(21, 41):  # ten more minutes of the job every 30 s
        run_job(app, "outbox-email", now=start + timedelta(seconds=30 * step))
    received = [mail.message["Message-ID"] for mail in smtp.received]
    assert sorted(received) == expected_ids, "every message delivered exactly once"
    fresh()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == "sent")) == 4
    assert check_health(now=start + timedelta(minutes=20)).as_dict()["checks"]["outbox"]["ok"] is True
    outbox = staff_page(client, "/admin/outbox")
    assert outbox.count('data-outbox-status="sent"') == 4 and "Connection refused" not in outbox


# -- 4. the disk for blobs full -------------------------------------------------------------------------------

class FullDisk:
    """The blob store on a small filesystem of its own, filled up to ``leave`` free bytes by a filler file."""

    def __init__(self, root: Path, *, injected: bool) -> None:
        self.root = root
        self.injected = injected
        self.filler = root / "filler.bin"
        self.free_bytes: int | None = None  # the injected disk's free space (None: not full)

    def available(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def fill(self, leave: int) -> None:
        """Leave about ``leave`` bytes free (page-rounded on tmpfs)."""
        if self.injected:
            self.free_bytes = leave
            return
        self.filler.unlink(missing_ok=True)
        with open(self.filler, "wb") as handle:
            handle.write(b"\0" * max(self.available() - leave, 0))
        assert self.available() <= leave + 8192

    def free(self) -> None:
        if self.injected:
            self.free_bytes = None
            return
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def full_blob_disk(app, monkeypatch) -> Iterator[FullDisk]:
    """DATA_DIR/blobs as a 2 MB tmpfs (mount needs root); else ENOSPC injected at the blob store's write."""
    root = blob_root()
    root.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount") and not os.environ.get("HELPDESK_TEST_INJECT_ENOSPC"):
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(root)],
                                 capture_output=True, check=False).returncode == 0
    disk = FullDisk(root, injected=not mounted)
    if not mounted:
        _inject_enospc(monkeypatch, disk)
    try:
        yield disk
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], capture_output=True, check=False)
            if os.path.ismount(root):
                subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)


def _inject_enospc(monkeypatch: pytest.MonkeyPatch, disk: FullDisk) -> None:
    """Without a small filesystem: the blob store's writes fail with ENOSPC past ``disk.free_bytes``."""
    from helpdesk import blobs

    real_fdopen = os.fdopen

    class Handle:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            if disk.free_bytes is not None:
                if len(data) > disk.free_bytes:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.free_bytes -= len(data)
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

    class OsProxy:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def fdopen(fd, *args, **kwargs):
            return Handle(real_fdopen(fd, *args, **kwargs))

    monkeypatch.setattr(blobs, "os", OsProxy())


def tmp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(".tmp-*")]


ATTACHMENT = secrets.token_bytes(300 * 1024)  # a 300 KB scan: about 410 KB as base64 in the raw email


@pytest.mark.usefixtures("english")
def test_drill_blob_disk_full_when_mail_arrives(mail_app, dovecot, full_blob_disk, make_staff, login):
    """The disk is full before the raw email can be stored: the poll fails and the email stays in the inbox, staff
    see the mailbox warning with the reason, and once space is freed the next poll takes it exactly once."""
    app = mail_app
    officer = make_staff(role="helpdesk")
    client = app.test_client()
    login(client, officer)
    run_job(app, "mail-poll")  # healthy first
    raws = [mail(1, tag="disk"), mail(2, tag="disk", attachment=ATTACHMENT), mail(3, tag="disk")]
    append_all(dovecot, raws)

    full_blob_disk.fill(leave=32 * 1024)  # room for small emails, not for the 400 KB one
    started = utcnow()
    with pytest.raises(JobFailed, match="No space left on device"):
        run_job(app, "mail-poll", now=started)
    fresh()
    box = db.session.scalar(select(Mailbox))
    assert box.failures == 1 and "No space left on device" in box.last_error
    assert count(InboundEmail) == 1  # the first email was taken; the large one and the one after wait
    assert count(Ticket) == 1
    # Nothing lost: the large email is still in the inbox, unread (BODY.PEEK), not quarantined, nothing half-written.
    waiting = dovecot.fetch_all("INBOX")
    assert len(waiting) == 3
    assert all("\\Seen" not in message.flags for message in waiting.values())
    assert tmp_files(full_blob_disk.root) == []

    # It lasts: the staff header names the mailbox and says why.
    move_last_success_back(20)
    page = staff_page(client)
    warning = re.search(r'data-stale-mailbox="default">(.*?)</div>', page, re.DOTALL)
    assert warning is not None, "no mailbox warning in the staff header"
    assert "No space left on device" in text_of(warning.group(1))

    full_blob_disk.free()
    run_job(app, "mail-poll", now=utcnow() + timedelta(minutes=5))
    ids = message_ids("disk", 3)
    assert_each_mail_once(ids)
    assert inbox_ids(dovecot) == [] and filed_ids(dovecot) == ids
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert attachment.filename == "dokumen-2.pdf" and read_blob(attachment.blob_sha256) == ATTACHMENT
    assert 'data-stale-mailbox' not in staff_page(client)


@pytest.mark.usefixtures("english")
def test_drill_blob_disk_fills_between_the_raw_email_and_its_attachment(mail_app, dovecot, full_blob_disk,
                                                                         make_staff, login):
    """The raw email still fits but its attachment does not. Expected: the email is not lost, staff see why, and
    once space is freed the next poll takes it exactly once (as when the raw email itself does not fit).

    Intake treats a full disk as a fault of the machine, not of the message: nothing is committed, the poll fails
    (the header says why) and the email stays unfiled on the server for the next poll.
    """
    app = mail_app
    officer = make_staff(role="helpdesk")
    client = app.test_client()
    login(client, officer)
    raw = mail(1, tag="half", attachment=ATTACHMENT)
    append_all(dovecot, [raw])
    full_blob_disk.fill(leave=len(raw) + 64 * 1024)  # the raw email fits; the 300 KB attachment after it does not

    try:
        run_job(app, "mail-poll")
    except JobFailed:
        pass  # failing the poll (and leaving the email in the inbox) is a fine answer too
    fresh()
    # Nothing lost: the raw email is stored whole, whatever became of it; no temporary file left behind.
    assert tmp_files(full_blob_disk.root) == []
    [row] = db.session.scalars(select(InboundEmail)).all() or [None]
    assert row is None or read_blob(row.raw_sha256) == raw
    if row is not None and row.status == "quarantined":
        # Staff see it: the header's quarantine badge and the reason on the quarantine page.
        assert 'data-quarantined="1"' in staff_page(client)
        assert "No space left on device" in text_of(staff_page(client, "/admin/quarantine"))
    else:
        assert dovecot.folder_uids("INBOX") != [], "not taken, so still in the inbox"

    full_blob_disk.free()
    run_job(app, "mail-poll", now=utcnow() + timedelta(minutes=5))
    fresh()
    assert count(Ticket) == 1, (
        "after space was freed the next poll did not take the email: it waits in quarantine with "
        f"{db.session.scalar(select(InboundEmail.reason))!r} until someone presses retry")
    assert_each_mail_once(message_ids("half", 1))
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert read_blob(attachment.blob_sha256) == ATTACHMENT


def _form(**overrides) -> dict:
    data = {"service_type": "consultation", "name": "Siti Rahma", "organization": "CV Maju Jaya",
            "spse_role": "penyedia", "phone": "0812-3456-7890", "email": "siti@majujaya.example.co.id",
            "application": "spse", "tender_code": "10012345", "error_message": "HTTP 500",
            "description": "Tidak bisa mengunggah dokumen kualifikasi, muncul galat 500."}
    data.update(overrides)
    return data


@pytest.mark.usefixtures("english")
def test_drill_blob_disk_full_at_the_kiosk(app, office, full_blob_disk):
    """A visitor uploads a scan while the blob disk is full. Expected: a clear page (not a bare 500) that keeps
    what was typed and saves nothing half; after space is freed the same form goes through once.

    """
    limiter.reset()
    scan = b"%PDF-1.4\n" + secrets.token_bytes(200 * 1024)
    full_blob_disk.fill(leave=16 * 1024)
    client = app.test_client()
    app.config["PROPAGATE_EXCEPTIONS"] = False  # what the tablet shows in production
    try:
        response = client.post(f"/kiosk/{office.code}", data={**_form(), "files": (io.BytesIO(scan), "scan.pdf")},
                               content_type="multipart/form-data")
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    status, page = response.status_code, response.get_data(as_text=True)
    fresh()
    # Nothing half-saved: no ticket, no visitor in the queue, no temporary file left behind.
    assert count(Ticket) == 0 and count(WalkinVisit) == 0 and count(Attachment) == 0
    assert tmp_files(full_blob_disk.root) == []

    full_blob_disk.free()
    again = client.post(f"/kiosk/{office.code}", data={**_form(), "files": (io.BytesIO(scan), "scan.pdf")},
                        content_type="multipart/form-data")
    assert again.status_code == 302
    fresh()
    assert count(Ticket) == 1 and count(WalkinVisit) == 1
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert read_blob(attachment.blob_sha256) == scan and blob_path(attachment.blob_sha256).exists()

    # A clear message to the visitor, not a bare 500 (checked last, so the rest of the drill still runs).
    assert status != 500, f"the kiosk answered a full blob disk with a bare {status}: {text_of(page)[:200]}"
    assert 'value="Siti Rahma"' in page, "what the visitor typed is kept"
    assert "The files cannot be saved right now" in text_of(page)
