"""The production profile (README, "Production"): PostgreSQL, two web processes, two workers, one data directory.

Everything runs as real processes on loopback, started the way the systemd units in ``deploy/`` start them:
``helpdesk init`` prepares a fresh PostgreSQL database, then two ``helpdesk serve --no-jobs`` and two
``helpdesk worker`` share it with the real Dovecot and SMTP test servers. Officers and kiosk visitors post through
both web processes at once while mail arrives in the IMAP inbox for both workers to race for; afterwards every
submission is exactly one ticket, every email exactly one ticket with exactly one acknowledgement, and the ticket
references and queue numbers are unique and without gaps.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from helpdesk import create_app
from helpdesk.config import normalise_database_url
from helpdesk.extensions import db
from helpdesk.models import Office
from helpdesk.staff import create_staff

from .servers.dovecot import DovecotServer
from .servers.processes import clean_env, helpdesk_processes, run_cli
from .servers.smtp import SmtpServer

EMAILS = 60  # mail appended to the inbox while the web processes take submissions
CLIENT_THREADS = 4  # each an officer (phone logs) and a kiosk tablet (walk-in forms)
SUBMISSIONS = 10  # per thread, alternating phone log and kiosk form, alternating the two web processes
DEADLINE_SECONDS = 40  # for everything to be ingested and acknowledged once the load has been sent
OFFICE_CODE, PREFIX = "uji", "UJI"
MARKER = re.compile(r"PRD-[WKM]\d+-\d+")


class _HiddenInputs(HTMLParser):
    """The hidden inputs of a page (csrf_token, started_at), first occurrence of each name."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.values.setdefault(found["name"], found.get("value") or "")


def hidden_inputs(session: requests.Session, url: str) -> dict[str, str]:
    response = session.get(url, timeout=30)
    assert response.status_code == 200, f"GET {url}: {response.status_code}\n{response.text[:500]}"
    parser = _HiddenInputs()
    parser.feed(response.text)
    assert "csrf_token" in parser.values, f"no CSRF token on {url}"
    return parser.values


@pytest.fixture
def fresh_database(database_url: str) -> str:
    """A new, empty PostgreSQL database beside the test database, dropped afterwards (even while connected)."""
    server_url = sa.engine.make_url(normalise_database_url(database_url))
    name = f"{server_url.database}_production"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def production_env(database: str, data_dir: Path, dovecot: DovecotServer, smtp: SmtpServer,
                   admin_password: str) -> dict[str, str]:
    """The environment of every process, as deploy/helpdesk.env.example lays it out.

    Secrets are written as JSON strings: the app reads HELPDESK_* settings as JSON first, so a password that
    happened to read as a number would otherwise arrive as one (HELPDESK_ADMIN_* are read as they are).
    """
    return clean_env(
        DATABASE_URL=database.replace("postgresql+psycopg://", "postgresql://", 1),
        HELPDESK_DATA_DIR=str(data_dir),
        HELPDESK_SECRET_KEY=secrets.token_hex(32),
        HELPDESK_ADMIN_EMAIL="admin@lpse-uji.example.go.id",
        HELPDESK_ADMIN_PASSWORD=admin_password,  # read as it is by `helpdesk init`, not as JSON
        HELPDESK_DEFAULT_OFFICE_NAME="LPSE Kabupaten Uji",
        HELPDESK_DEFAULT_OFFICE_PREFIX=PREFIX,
        HELPDESK_PUBLIC_BASE_URL="http://helpdesk.lpse-uji.test",  # http: the test's cookies go over plain HTTP
        HELPDESK_IMAP_HOST=dovecot.host, HELPDESK_IMAP_PORT=str(dovecot.port), HELPDESK_IMAP_USER=dovecot.user,
        HELPDESK_IMAP_PASSWORD=dovecot.password, HELPDESK_IMAP_SECURITY="plain",
        HELPDESK_IMAP_OFFICE=OFFICE_CODE,
        HELPDESK_SMTP_HOST="127.0.0.1", HELPDESK_SMTP_PORT=str(smtp.port), HELPDESK_SMTP_SECURITY="plain",
        HELPDESK_MAIL_FROM="Helpdesk LPSE Uji <helpdesk@lpse-uji.example.go.id>",
        HELPDESK_MAIL_TIMEOUT_SECONDS="10",
        HELPDESK_JOB_INTERVALS="mail-poll=1,outbox-email=1",
        HELPDESK_KIOSK_RATE_LIMIT="1000 per minute",  # every test client comes from 127.0.0.1
        # The rate limits shared by both web processes, as the production profile says (Redis on loopback).
        HELPDESK_RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        HELPDESK_RATELIMIT_KEY_PREFIX=f"helpdesk-test-{secrets.token_hex(4)}",
    )


def add_officer(database: str, data_dir: Path, email: str, password: str) -> None:
    """A second officer, added in this process (``helpdesk staff add`` would cost another interpreter start)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "DATA_DIR": str(data_dir)})
    with app.app_context():
        office = db.session.scalar(sa.select(Office).where(Office.code == OFFICE_CODE))
        create_staff(office=office, email=email, name="Petugas Dua", role="helpdesk", password=password)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def inbound_mail(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Penyedia {n} <penyedia{n}@cv-uji{n}.example.co.id>"
    message["To"] = "helpdesk@lpse-uji.example.go.id"
    message["Subject"] = f"Tidak bisa unggah penawaran PRD-M0-{n}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=f"cv-uji{n}.example.co.id")
    message.set_content(f"Selamat siang, saat unggah dokumen penawaran muncul galat. Kode PRD-M0-{n}.\n")
    return message.as_bytes()


def submit_load(thread: int, ports: list[str], officer: tuple[str, str], failures: list[str]) -> None:
    """One officer logging calls and one kiosk tablet, alternating between the two web processes."""
    try:
        staff, kiosk = requests.Session(), requests.Session()
        form = hidden_inputs(staff, f"{ports[thread % 2]}/login")
        response = staff.post(f"{ports[thread % 2]}/login", allow_redirects=False, timeout=30,
                              data={"csrf_token": form["csrf_token"], "email": officer[0], "password": officer[1]})
        assert response.status_code == 302, f"login as {officer[0]}: {response.status_code}"
        for i in range(SUBMISSIONS):
            base = ports[(thread + i) % 2]  # the session cookie signed by one process is honoured by the other
            phone = f"08123{thread:02d}{i:05d}"
            if i % 2 == 0:
                marker = f"PRD-W{thread}-{i}"
                form = hidden_inputs(staff, f"{base}/phone/new")
                response = staff.post(f"{base}/phone/new", allow_redirects=False, timeout=30, data={
                    "csrf_token": form["csrf_token"], "started_at": form.get("started_at", ""),
                    "name": f"Penelepon {marker}", "phone": phone, "organization": "Dinas PUPR",
                    "question": f"Lupa kata sandi akun SPSE. {marker}", "answer": "Reset lewat admin PPE.",
                    "outcome": "answered"})
                expected = "/tickets/"
            else:
                marker = f"PRD-K{thread}-{i}"
                form = hidden_inputs(kiosk, f"{base}/kiosk/{OFFICE_CODE}")
                response = kiosk.post(f"{base}/kiosk/{OFFICE_CODE}", allow_redirects=False, timeout=30, data={
                    "csrf_token": form["csrf_token"], "service_type": "consultation", "name": f"Tamu {marker}",
                    "organization": "CV Maju Jaya", "spse_role": "penyedia", "phone": phone,
                    "application": "spse", "description": f"Tidak bisa login ke SPSE sejak pagi. {marker}"})
                expected = f"/kiosk/{OFFICE_CODE}/tanda-terima/"
            if response.status_code != 302 or expected not in response.headers.get("Location", ""):
                failures.append(f"{marker} via {base}: {response.status_code} {response.text[:300]}")
    except Exception as exc:  # noqa: BLE001 - reported by the test, with the thread that failed
        failures.append(f"thread {thread}: {type(exc).__name__}: {exc}")


def append_mail(dovecot: DovecotServer, failures: list[str]) -> None:
    try:
        for n in range(EMAILS):
            dovecot.append(inbound_mail(n))
            if n % 10 == 9:
                time.sleep(0.2)  # mail keeps arriving while the workers poll
    except Exception as exc:  # noqa: BLE001
        failures.append(f"APPEND: {type(exc).__name__}: {exc}")


@pytest.mark.backends("postgresql")
def test_two_web_processes_and_two_workers_take_every_ticket_exactly_once(fresh_database, dovecot, smtp,
                                                                            tmp_path):
    admin_password, officer_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    env = production_env(fresh_database, tmp_path / "data", dovecot, smtp, admin_password)
    output = run_cli("init", env=env, cwd=tmp_path)
    assert "Office LPSE Kabupaten Uji (UJI) created." in output and "Admin admin@lpse-uji" in output, output
    add_officer(fresh_database, tmp_path / "data", "petugas@lpse-uji.example.go.id", officer_password)
    officers = [("admin@lpse-uji.example.go.id", admin_password),
                ("petugas@lpse-uji.example.go.id", officer_password)]
    engine = sa.create_engine(normalise_database_url(fresh_database), poolclass=sa.NullPool)

    with helpdesk_processes(env, tmp_path) as processes:
        webs = [processes.web("web-1"), processes.web("web-2")]
        processes.worker("worker-1")
        processes.worker("worker-2")
        processes.wait_ready()
        ports = [web.url for web in webs]

        failures: list[str] = []
        threads = [threading.Thread(target=append_mail, args=(dovecot, failures))]
        threads += [threading.Thread(target=submit_load, args=(n, ports, officers[n % 2], failures))
                    for n in range(CLIENT_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "the load did not finish within 60 s"
        assert not failures, "\n".join(failures) + "\n" + processes.logs()

        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            processes.check_alive()
            with engine.connect() as connection:
                taken = connection.scalar(sa.text("SELECT count(*) FROM inbound_email"))
                sent = connection.scalar(sa.text(
                    "SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'sent'"))
            if taken >= EMAILS and sent >= EMAILS and not dovecot.folder_uids("INBOX"):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"after {DEADLINE_SECONDS} s: {taken} of {EMAILS} emails taken, {sent} acknowledgements "
                            f"sent, {len(dovecot.folder_uids('INBOX'))} still in the inbox, "
                            f"{len(smtp.received)} received by SMTP\n{processes.logs()}", pytrace=False)
            time.sleep(0.25)
        time.sleep(2.5)  # two more poll and delivery rounds: a late duplicate would show now
        processes.check_alive()

    with engine.connect() as connection:
        tickets = connection.execute(sa.text(
            "SELECT id, ref, channel, subject, description FROM ticket ORDER BY id")).all()
        inbound = connection.execute(sa.text(
            "SELECT message_id, from_address, status, ticket_id, reason FROM inbound_email")).all()
        visits = connection.execute(sa.text(
            "SELECT service_day, queue_letter, queue_number FROM walkin_visit")).all()
        outbox = connection.execute(sa.text(
            "SELECT recipient, ticket_id, status, attempts, template FROM outbox WHERE channel = 'email'")).all()
    engine.dispose()

    # Every submission and every email is exactly one ticket, on its channel.
    markers = Counter()
    channel_of: dict[str, set[str]] = defaultdict(set)
    for ticket in tickets:
        found = set(MARKER.findall(f"{ticket.subject}\n{ticket.description}"))
        assert len(found) == 1, f"{ticket.ref} carries {found or 'no marker'}"
        marker = found.pop()
        markers[marker] += 1
        channel_of[marker].add(ticket.channel)
    expected = {f"PRD-M0-{n}": "email" for n in range(EMAILS)}
    for thread in range(CLIENT_THREADS):
        for i in range(SUBMISSIONS):
            expected[f"PRD-W{thread}-{i}" if i % 2 == 0 else f"PRD-K{thread}-{i}"] = \
                "phone" if i % 2 == 0 else "walkin"
    assert {m: c for m, c in markers.items() if c != 1} == {}, "duplicate tickets"
    assert sorted(set(expected) - set(markers)) == [], "lost submissions or emails"
    assert sorted(set(markers) - set(expected)) == [], "tickets nobody submitted"
    assert {m: channel_of[m] for m in expected if channel_of[m] != {expected[m]}} == {}

    # Every email was taken once: one inbound row, processed into its own ticket.
    assert len(inbound) == EMAILS
    assert len({row.message_id for row in inbound}) == EMAILS
    assert Counter(row.status for row in inbound) == {"processed": EMAILS}, [r.reason for r in inbound]
    assert len({row.ticket_id for row in inbound}) == EMAILS
    assert dovecot.folder_uids("INBOX") == [] and len(dovecot.folder_uids("Helpdesk.Diproses")) == EMAILS

    # References: unique, and per office and year numbered 1..n without a gap (the counter is taken in the
    # ticket's transaction, and no transaction here rolled back).
    refs = [ticket.ref for ticket in tickets]
    assert len(set(refs)) == len(refs) == EMAILS + CLIENT_THREADS * SUBMISSIONS
    numbers: dict[str, list[int]] = defaultdict(list)
    for ref in refs:
        prefix, year, number = ref.rsplit("-", 2)
        assert prefix == PREFIX
        numbers[year].append(int(number))
    for year, taken in numbers.items():
        assert sorted(taken) == list(range(1, len(taken) + 1)), f"{year}: gaps or repeats in {sorted(taken)}"

    # Walk-in queue numbers: per day and letter, 1..n without a gap or a repeat.
    queues: dict[tuple, list[int]] = defaultdict(list)
    for visit in visits:
        queues[(visit.service_day, visit.queue_letter)].append(visit.queue_number)
    assert sum(map(len, queues.values())) == CLIENT_THREADS * SUBMISSIONS // 2
    for key, taken in queues.items():
        assert sorted(taken) == list(range(1, len(taken) + 1)), f"queue {key}: {sorted(taken)}"

    # One acknowledgement per email, delivered once: in the outbox and at the SMTP server.
    acknowledgements = [row for row in outbox if row.template == "acknowledgement"]
    assert len(acknowledgements) == EMAILS, Counter(row.template for row in outbox)
    assert {(row.status, row.attempts) for row in acknowledgements} == {("sent", 1)}
    received = Counter(recipient.lower() for mail in smtp.received for recipient in mail.rcpt_tos)
    for n in range(EMAILS):
        assert received[f"penyedia{n}@cv-uji{n}.example.co.id"] == 1, f"penyedia{n}: {received}"
    ref_of = {ticket.id: ticket.ref for ticket in tickets}
    ref_by_sender = {row.from_address.lower(): ref_of[row.ticket_id] for row in inbound}
    for mail in smtp.received:
        recipient = mail.rcpt_tos[0].lower()
        if recipient in ref_by_sender:  # the acknowledgement names the sender's own ticket
            assert mail.message["Subject"].startswith(f"[#{ref_by_sender[recipient]}] "), mail.message["Subject"]


def test_behind_a_proxy_serve_counts_the_rate_limit_per_forwarded_client(sqlite_template, tmp_path):
    """nginx (deploy/nginx-helpdesk.conf) sends X-Forwarded-For; with HELPDESK_TRUSTED_PROXIES=1 each client has
    its own kiosk limit, not one limit shared by everybody behind the proxy."""
    database = tmp_path / "helpdesk.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    env = clean_env(DATABASE_URL=f"sqlite:///{database}", HELPDESK_DATA_DIR=str(tmp_path / "data"),
                    HELPDESK_SECRET_KEY=secrets.token_hex(32), HELPDESK_TRUSTED_PROXIES="1",
                    HELPDESK_KIOSK_RATE_LIMIT="1 per minute")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "DATA_DIR": str(tmp_path / "data")})
    with app.app_context():
        db.session.add(Office(code="px", name="LPSE Proksi", ticket_prefix="PX", timezone="Asia/Jakarta"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    with helpdesk_processes(env, tmp_path) as processes:
        web = processes.web("web")
        processes.wait_ready()
        visitor = requests.Session()
        token = hidden_inputs(visitor, f"{web.url}/kiosk/px")["csrf_token"]
        answers = [visitor.post(f"{web.url}/kiosk/px", data={"csrf_token": token, "name": ""}, timeout=30,
                                headers={"X-Forwarded-For": client}).status_code
                   for client in ("10.0.0.1", "10.0.0.2", "10.0.0.1")]
    assert answers == [422, 422, 429]  # an incomplete form for each client's first post; the second is limited
