"""Load: staff sessions browsing and replying while email arrives (loopback only, bounded in time).

    .venv/bin/python bench/load.py [--sessions 20] [--emails 5000] [--rate 10] [--seed-tickets 2000]
        [--workers 1] [--poll-seconds 2] [--think 1.0] [--max-seconds 900] [--database-url URL] [--keep]

Prepares a fresh instance (default: SQLite in a temporary directory; a --database-url must point at an EMPTY
database): the office, ``--seed-tickets`` existing tickets with their events (bench/queue.py's bulk build, so the
queue is not empty), ``--sessions`` helpdesk officers, a mailbox on a private Dovecot and an aiosmtpd stand-in for
outgoing mail. Then it starts the real thing as subprocesses: ``helpdesk serve --no-jobs`` on a free loopback port
and ``--workers`` ``helpdesk worker`` processes (mail-poll every ``--poll-seconds``, outbox-email every 5 s, the
other jobs at their defaults), configured only through the environment the CLI reads.

While a feeder APPENDs ``--emails`` messages to the Dovecot INBOX at ``--rate`` per second (about a fifth reply to
an earlier one, so they must join its ticket), ``--sessions`` threads with their own cookie sessions log in and
loop like an officer: a queue page (sometimes filtered, the next page, or a text search), a ticket from it, and
now and then a reply posted with the page's CSRF token, pausing ``--think`` seconds on average between requests.
Every request's latency and status is kept; anything but the expected status (200, or 302 after a login or a
reply) is an error.

Ingestion lag is measured from outside the product: the feeder notes the wall-clock time each APPEND completed,
and the bench process polls the database every 0.25 s for the message's ``inbound_email`` row in a final state
(its transaction committed, so staff can see the ticket). Lag = first seen - appended; its resolution is the poll
period. ``inbound_email.created_at - appended`` is printed too: it is stamped inside the ingesting transaction,
before the commit, so it reads a little low.

At the end it checks that every appended message has exactly one ``inbound_email`` row, processed, each new
message on a ticket of its own and each reply on its parent's ticket, and that the number of email tickets
created equals the number of new messages; prints the outbox and what the SMTP stand-in received; and the
errors, tracebacks and warnings in the server's and the workers' output. ``--max-seconds`` bounds the whole run
(setup included): the load stops early enough to report how far it got, and the subprocesses, Dovecot and the
SMTP stand-in are always stopped.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/queue.py would shadow the standard
# library's ``queue``: put the project root there instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
from sqlalchemy import func, select

from bench.common import bench_app, machine_line
from bench.ingest import BODY_EN, BODY_ID, ERRORS, NAMES, ORGS, SUBJECTS_EN, SUBJECTS_ID
from bench.queue import build as build_seed
from helpdesk.extensions import db
from helpdesk.models import InboundEmail, JobRun, Office, OutboxMessage, Ticket
from helpdesk.staff import create_staff
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

HOST = "127.0.0.1"
SEED = 8086
STAFF_PASSWORD = "load-bench-password"
OFFICE_EMAIL = "helpdesk@lpse-sukamaju.example.go.id"
OUTBOX_SECONDS = 5
MONITOR_SECONDS = 0.25
REPLY_SHARE = 0.2  # of the appended messages: replies to an earlier one (In-Reply-To)
LOGIN_SPREAD = 10.0  # seconds over which the officers log in (scrypt hashes; a storm of 20 at once is unreal)
TEARDOWN_RESERVE = 20.0  # seconds of --max-seconds kept for the final checks and stopping everything
SEARCH_TERMS = ("password", "penawaran", "login", "SIKaP", "katalog", "verifikasi", "unggah", "tender", "Budi",
                "Siti Rahmawati", "SPAMKodok", "PT Sinar Abadi", "Apendo")
EXPECTED = {"login form": 200, "login": 302, "queue": 200, "queue, filtered": 200, "queue, next page": 200,
            "search": 200, "ticket": 200, "reply": 302}
REF = re.compile(r'href="/tickets/([A-Z]+-\d{4}-\d{6})"')
NEXT = re.compile(r'href="(/tickets\?[^"]*after=[^"]*)"')
CSRF = re.compile(r'name="(?:[a-z]+-)?csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="(?:[a-z]+-)?csrf_token"')
VIA = re.compile(r'<select[^>]*name="reply-via".*?</select>', re.DOTALL)
OPTION = re.compile(r'<option[^>]*value="([a-z]+)"')


# -- the mail -----------------------------------------------------------------------------------------------

@dataclass
class Mail:
    seq: int
    message_id: str
    parent: int | None  # seq of the message this one replies to
    raw: bytes
    appended: float | None = None  # time.time() when APPEND completed
    seen: float | None = None  # time.time() when the bench first saw its row committed
    created_at: float | None = None  # inbound_email.created_at
    status: str | None = None
    ticket_id: int | None = None


def plan_mail(count: int, run_id: str, rng: random.Random) -> list[Mail]:
    """``count`` messages with unique Message-IDs; about a fifth reply to an earlier one from the same sender."""
    attachment = bytes(rng.getrandbits(8) for _ in range(16_000))
    mails: list[Mail] = []
    meta: list[tuple[str, str, str]] = []  # (sender name, address, subject)
    for n in range(count):
        parent = None
        if n >= 20 and rng.random() < REPLY_SHARE:
            parent = rng.randrange(max(0, n - 400), n - 10)  # appended at least ten messages earlier
            name, address, subject = meta[parent]
            subject = subject if subject.startswith("Re: ") else "Re: " + subject
        else:
            k = rng.randrange(1500)
            name, address = rng.choice(NAMES), f"user{k}@penyedia{k % 11}.example.co.id"
            subject = rng.choice(SUBJECTS_EN if rng.random() < 0.2 else SUBJECTS_ID)
        meta.append((name, address, subject))
        english = subject.removeprefix("Re: ") in SUBJECTS_EN
        values = {"name": name, "org": rng.choice(ORGS), "error": rng.choice(ERRORS),
                  "tender": rng.randint(10**7, 10**8),
                  "action": "upload the offer" if english else "mengunggah dokumen penawaran"}
        text = (BODY_EN if english else BODY_ID).format(**values)
        if parent is not None:
            text = ("Terima kasih. Masih gagal setelah saya coba lagi pagi ini.\n\n" + text)
        message = EmailMessage()
        message_id = f"<load-{run_id}-{n:05d}@penyedia.example.co.id>"
        message["From"] = f"{name} <{address}>"
        message["To"] = OFFICE_EMAIL
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id
        message["X-Bench-Seq"] = str(n)
        if parent is not None:
            message["In-Reply-To"] = mails[parent].message_id
            message["References"] = mails[parent].message_id
        message.set_content(text)
        if n % 4 == 1:
            message.add_alternative("<div>" + html.escape(text).replace("\n", "<br>") + "</div>", subtype="html")
        elif n % 10 == 3:
            message.add_attachment(attachment, maintype="application", subtype="pdf", filename=f"galat-{n}.pdf")
        mails.append(Mail(n, message_id, parent, message.as_bytes()))
    return mails


class Feeder(threading.Thread):
    """APPENDs the messages to INBOX at a steady rate over one IMAP connection (reconnecting after an error)."""

    def __init__(self, server: DovecotServer, mails: list[Mail], rate: float, stop: threading.Event) -> None:
        super().__init__(name="feeder", daemon=True)
        self.server, self.mails, self.rate, self.stop = server, mails, rate, stop
        self.fed = 0
        self.errors: list[str] = []
        self.started: float | None = None
        self.finished: float | None = None

    def run(self) -> None:
        client = None
        start = time.monotonic()
        self.started = time.time()
        try:
            for n, mail in enumerate(self.mails):
                if self.stop.wait(max(0.0, start + n / self.rate - time.monotonic())):
                    break
                for _attempt in range(3):
                    try:
                        if client is None:
                            client = self.server.client()
                        client.append("INBOX", mail.raw)
                        mail.appended = time.time()
                        self.fed += 1
                        break
                    except Exception as exc:  # noqa: BLE001 - counted and reported
                        self.errors.append(f"APPEND {mail.seq}: {type(exc).__name__}: {exc}")
                        client = None
        finally:
            self.finished = time.time()
            if client is not None:
                with contextlib.suppress(Exception):
                    client.logout()


class Monitor(threading.Thread):
    """Polls inbound_email for the run's messages and notes when each is first seen in a final state."""

    FINAL = ("processed", "ignored", "quarantined")

    def __init__(self, app, mails: list[Mail], run_id: str, stop: threading.Event) -> None:
        super().__init__(name="monitor", daemon=True)
        self.app, self.mails, self.stop = app, mails, stop
        self.pattern = f"%load-{run_id}-%"
        self.seq_of = re.compile(rf"load-{run_id}-(\d+)@")
        self.seen = 0
        self.errors: list[str] = []

    def run(self) -> None:
        watermark = 0
        with self.app.app_context():
            while not self.stop.is_set():
                try:
                    watermark = self._poll(watermark)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    db.session.rollback()
                finally:
                    db.session.remove()
                self.stop.wait(MONITOR_SECONDS)

    def _poll(self, watermark: int) -> int:
        rows = db.session.execute(
            select(InboundEmail.id, InboundEmail.message_id, InboundEmail.status, InboundEmail.created_at,
                   InboundEmail.ticket_id)
            .where(InboundEmail.id > watermark, InboundEmail.message_id.like(self.pattern))
            .order_by(InboundEmail.id)).all()
        db.session.rollback()  # end the read transaction at once (SQLite WAL readers keep a snapshot)
        now = time.time()
        pending_below = None
        for row_id, message_id, status, created_at, ticket_id in rows:
            if status not in self.FINAL:
                pending_below = row_id if pending_below is None else pending_below
                continue
            found = self.seq_of.search(message_id or "")
            if not found:
                continue
            mail = self.mails[int(found.group(1))]
            if mail.seen is None:
                mail.seen, mail.status, mail.ticket_id = now, status, ticket_id
                mail.created_at = created_at.timestamp() if created_at else None
                self.seen += 1
        if pending_below is not None:
            return pending_below - 1
        return rows[-1][0] if rows else watermark


# -- the staff sessions ---------------------------------------------------------------------------------------

@dataclass
class Sample:
    kind: str
    started: float
    ms: float
    status: int  # 0: no answer (timeout, connection error)


class Officer(threading.Thread):
    """One officer's browser: its own cookie session, logged in once, then browsing and replying until stopped."""

    def __init__(self, base: str, email: str, stop: threading.Event, think: float, rng: random.Random) -> None:
        super().__init__(name=email, daemon=True)
        self.base, self.email, self.stop, self.think, self.rng = base, email, stop, think, rng
        self.samples: list[Sample] = []
        self.problems: list[str] = []
        self.replies = 0
        self.http = requests.Session()

    def request(self, kind: str, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.time()
        t0 = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, allow_redirects=False, timeout=60, **kwargs)
            status = response.status_code
        except requests.RequestException as exc:
            response, status = None, 0
            self.problems.append(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
        self.samples.append(Sample(kind, started, (time.perf_counter() - t0) * 1000, status))
        if response is not None and status != EXPECTED[kind]:
            snippet = re.sub(r"\s+", " ", response.text[:300]) if status >= 500 else response.headers.get(
                "Location", "")
            self.problems.append(f"{kind} {method} {path}: HTTP {status} {snippet}")
        return response if status == EXPECTED[kind] else None

    def pause(self) -> bool:
        """Think; True when the run is over."""
        return self.stop.wait(self.think * self.rng.uniform(0.5, 1.5)) if self.think > 0 else self.stop.is_set()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - a bug in the bench must not hang the run
            self.problems.append(f"session crashed: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        if self.stop.wait(self.rng.uniform(0, LOGIN_SPREAD)):  # officers do not all log in the same second
            return
        page = self.request("login form", "GET", "/login")
        if page is None or self.request("login", "POST", "/login", data={
                "csrf_token": _csrf(page.text), "email": self.email, "password": STAFF_PASSWORD}) is None:
            self.problems.append("could not log in")
            return
        next_url = None
        while not self.pause():
            r = self.rng.random()
            if r < 0.10 and next_url:
                queue = self.request("queue, next page", "GET", next_url)
            elif r < 0.25:
                queue = self.request("search", "GET", "/tickets", params={"q": self.rng.choice(SEARCH_TERMS)})
            elif r < 0.35:
                params = self.rng.choice(({"status": "new"}, {"assignee": "me"}, {"channel": "email"},
                                          {"status": "open"}, {"sla": "overdue"}))
                queue = self.request("queue, filtered", "GET", "/tickets", params=params)
            else:
                queue = self.request("queue", "GET", "/tickets")
            if queue is None:
                continue
            refs = REF.findall(queue.text)
            found = NEXT.search(queue.text)
            next_url = html.unescape(found.group(1)) if found else None
            if not refs or self.pause():
                continue
            ref = self.rng.choice(refs)
            ticket = self.request("ticket", "GET", f"/tickets/{ref}")
            if ticket is None or self.rng.random() >= 0.3 or self.pause():
                continue
            select_html = VIA.search(ticket.text)
            vias = OPTION.findall(select_html.group(0)) if select_html else []
            via = "email" if "email" in vias else "phone"  # no Twilio here: an SMS would only wait in the outbox
            body = (f"Selamat siang, terima kasih atas laporannya ({ref}). Silakan bersihkan cache peramban lalu "
                    f"coba unggah kembali; bila masih gagal, kirimkan tangkapan layar pesan galatnya.")
            if self.request("reply", "POST", f"/tickets/{ref}/reply", data={
                    "reply-csrf_token": _csrf(ticket.text), "reply-body": body, "reply-via": via}) is not None:
                self.replies += 1
                if not self.pause():
                    self.request("ticket", "GET", f"/tickets/{ref}")


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    return (found.group(1) or found.group(2)) if found else ""


# -- the instance and its processes ----------------------------------------------------------------------------

def prepare(app, args, rng: random.Random) -> tuple[int, list[str]]:
    """Migrate and seed; returns (the highest seed ticket id, the officers' emails)."""
    with app.app_context():
        build_seed(app, n_tickets=max(args.seed_tickets, 1), n_requesters=max(200, args.seed_tickets // 2),
                   rng=rng)
        office = db.session.scalar(select(Office).order_by(Office.id).limit(1))
        office.email = OFFICE_EMAIL
        emails = [f"petugas{n:02d}@lpse-sukamaju.example.go.id" for n in range(1, args.sessions + 1)]
        for n, email in enumerate(emails, start=1):
            create_staff(office=office, email=email, name=f"Petugas Beban {n:02d}", role="helpdesk",
                         password=STAFF_PASSWORD)
        db.session.commit()
        return db.session.scalar(select(func.max(Ticket.id))) or 0, emails


def _smtp_child(ports, stop, counts) -> None:
    server = SmtpServer()
    server.start()
    ports.put(server.port)
    stop.wait()
    counts.put(len(server.received))
    server.stop()


class SmtpStandIn:
    """tests/servers/smtp.py's aiosmtpd in a process of its own, so that its event loop does not wait for the
    bench's client threads to let go of the GIL (which made delivery look slower than it is)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports, self._counts, self._stop = context.Queue(), context.Queue(), context.Event()
        self._process = context.Process(target=_smtp_child, args=(self._ports, self._stop, self._counts),
                                        name="smtp-stand-in", daemon=True)
        self.port = 0
        self.received: int | None = None

    def start(self) -> None:
        self._process.start()
        self.port = self._ports.get(timeout=30)

    def stop(self) -> int | None:
        """Stop it; the number of messages it accepted."""
        if self._process.is_alive() and self.received is None:
            self._stop.set()
            with contextlib.suppress(Exception):  # the count is lost; the process still ends
                self.received = self._counts.get(timeout=15)
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        return self.received


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + sum(fields[5:8])  # user nice system irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def start_process(name: str, command: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen:
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=ROOT, start_new_session=True)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(base: str, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"helpdesk serve exited with {server.returncode}")
        try:
            if requests.get(base + "/login", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("helpdesk serve did not answer /login in time")


# -- figures ----------------------------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def spread(values: list[float], unit: str = "ms", digits: int = 1) -> str:
    if not values:
        return "n=0"
    return (f"n={len(values):<6d} p50 {statistics.median(values):8.{digits}f} {unit}  p95 "
            f"{percentile(values, 0.95):8.{digits}f} {unit}  p99 {percentile(values, 0.99):8.{digits}f} {unit}  "
            f"max {max(values):8.{digits}f} {unit}")


def log_findings(path: Path) -> list[str]:
    """Tracebacks, errors and warnings in a process's output, counted, with the first traceback in full."""
    if not path.exists():
        return ["(no output)"]
    lines = path.read_text(errors="replace").splitlines()
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    kinds: Counter[str] = Counter()
    for line in lines:
        if re.search(r"\b(ERROR|WARNING|Error|Exception|failed|Task queue depth|skipped)\b", line) \
                and not line.startswith(" "):
            kinds[re.sub(r"\d+", "N", line)[:160]] += 1
    found = [f"{len(lines)} lines, {len(tracebacks)} traceback(s)"]
    found += [f"  {count:5d} x {line}" for line, count in kinds.most_common(12)]
    if tracebacks:
        first = tracebacks[0]
        end = next((i for i in range(first + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), first)
        found.append("  first traceback:")
        found += ["    " + line for line in lines[max(0, first - 2):end + 1][-40:]]
    return found


def report_requests(officers: list[Officer], seconds: float) -> None:
    samples = [s for o in officers for s in o.samples]
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    bad = [s for s in samples if s.status != EXPECTED[s.kind]]
    print(f"requests: {len(samples)} in {seconds:.1f} s = {len(samples) / seconds:.1f} req/s served; "
          f"errors {len(bad)} (5xx {sum(1 for s in bad if s.status >= 500)}, no answer "
          f"{sum(1 for s in bad if s.status == 0)}, other {sum(1 for s in bad if 0 < s.status < 500)}); "
          f"replies posted {sum(o.replies for o in officers)}")
    for kind in EXPECTED:
        if by_kind.get(kind):
            print(f"  {kind:17s} {spread([s.ms for s in by_kind[kind] if s.status])}")
    pages = [s.ms for s in samples if s.kind not in ("login form", "login") and s.status]
    print(f"  {'all pages':17s} {spread(pages)}")
    statuses = Counter((s.kind, s.status) for s in bad)
    for (kind, status), count in statuses.most_common():
        print(f"  unexpected: {count} x {kind} -> {status or 'no answer'}")
    problems = Counter(re.sub(r"SKM-\d{4}-\d{6}", "REF", p)[:220] for o in officers for p in o.problems)
    for problem, count in problems.most_common(8):
        print(f"    {count:4d} x {problem}")


def report_ingestion(mails: list[Mail], feeder: Feeder, monitor: Monitor) -> None:
    fed = [m for m in mails if m.appended is not None]
    seen = [m for m in fed if m.seen is not None]
    print(f"feeder: {len(fed)}/{len(mails)} appended in {(feeder.finished or time.time()) - feeder.started:.1f} s "
          f"({len(fed) / max(1e-9, (feeder.finished or time.time()) - feeder.started):.1f}/s); APPEND errors "
          f"{len(feeder.errors)}" + (f" (first: {feeder.errors[0]})" if feeder.errors else ""))
    if seen:
        span = max(m.seen for m in seen) - min(m.appended for m in fed)
        print(f"ingestion: {len(seen)}/{len(fed)} appended messages seen committed; {len(seen) / span:.1f} msg/s "
              f"from the first APPEND to the last row seen ({span:.1f} s)")
        lags = [m.seen - m.appended for m in seen]
        print(f"  lag, APPEND -> row seen committed   {spread(lags, 's', 2)}")
        stamped = [m.created_at - m.appended for m in seen if m.created_at is not None]
        print(f"  lag, APPEND -> inbound_email.created_at {spread(stamped, 's', 2)}")
        quarter = max(1, len(seen) // 4)
        by_order = sorted(seen, key=lambda m: m.seq)
        print("  p95 lag by quarter of the feed: " + ", ".join(
            f"{percentile([m.seen - m.appended for m in by_order[i:i + quarter]], 0.95):.2f} s"
            for i in range(0, len(by_order), quarter)))
    if monitor.errors:
        print(f"  monitor query errors: {len(monitor.errors)} (first: {monitor.errors[0]})")


def check_exactly_once(app, mails: list[Mail], run_id: str, seed_max_id: int) -> None:
    """Every appended message: one inbound_email row, processed; new ones on their own ticket, replies on their
    parent's; as many email tickets created as new messages."""
    seq_of = re.compile(rf"load-{run_id}-(\d+)@")
    with app.app_context():
        rows = db.session.execute(
            select(InboundEmail.message_id, InboundEmail.status, InboundEmail.ticket_id, InboundEmail.event_id,
                   InboundEmail.reason)
            .where(InboundEmail.message_id.like(f"%load-{run_id}-%"))).all()
        created = db.session.scalar(select(func.count()).select_from(Ticket)
                                    .where(Ticket.id > seed_max_id, Ticket.channel == "email"))
        total_inbound = db.session.scalar(select(func.count()).select_from(InboundEmail))
    per_seq: dict[int, list] = defaultdict(list)
    for row in rows:
        per_seq[int(seq_of.search(row.message_id).group(1))].append(row)
    fed = [m for m in mails if m.appended is not None]
    missing = [m.seq for m in fed if not per_seq.get(m.seq)]
    doubled = [seq for seq, found in per_seq.items() if len(found) > 1]
    statuses = Counter(found[0].status for found in per_seq.values())
    new_ok = reply_ok = new_total = reply_total = 0
    wrong: list[str] = []
    tickets_of_new: Counter[int] = Counter()
    for mail in fed:
        found = per_seq.get(mail.seq)
        if not found:
            continue
        row = found[0]
        if mail.parent is None:
            new_total += 1
            tickets_of_new[row.ticket_id] += 1
            if row.status == "processed" and row.ticket_id and row.event_id:
                new_ok += 1
            else:
                wrong.append(f"new {mail.seq}: {row.status} ticket {row.ticket_id} {row.reason or ''}"[:200])
        else:
            reply_total += 1
            parent = per_seq.get(mail.parent)
            parent_ticket = parent[0].ticket_id if parent else None
            if row.status == "processed" and row.ticket_id and row.ticket_id == parent_ticket and row.event_id:
                reply_ok += 1
            else:
                wrong.append(f"reply {mail.seq} to {mail.parent}: {row.status} ticket {row.ticket_id} "
                             f"(parent's {parent_ticket}) {row.reason or ''}"[:200])
    shared = sum(1 for ticket_id, count in tickets_of_new.items() if ticket_id and count > 1)
    verdict = ("OK" if not missing and not doubled and not wrong and not shared and created == new_total
               and len(fed) == len(mails) else "NOT OK")
    print(f"exactly once: {verdict}: {len(fed)} appended, {len(per_seq)} with an inbound_email row "
          f"({len(missing)} missing, {len(doubled)} with more than one row; statuses "
          f"{dict(sorted(statuses.items()))}); new messages {new_ok}/{new_total} on a ticket of their own "
          f"({shared} tickets shared), replies {reply_ok}/{reply_total} on their parent's ticket; email tickets "
          f"created {created} (expected {new_total}); inbound_email rows in all {total_inbound}")
    for line in wrong[:5]:
        print(f"  {line}")


def report_outbox(app, smtp_received: int | None) -> None:
    with app.app_context():
        counts = db.session.execute(select(OutboxMessage.channel, OutboxMessage.automatic, OutboxMessage.status,
                                           func.count()).group_by(OutboxMessage.channel, OutboxMessage.automatic,
                                                                  OutboxMessage.status)).all()
        jobs = db.session.scalars(select(JobRun).order_by(JobRun.name)).all()
    parts = [f"{channel} {'automatic' if automatic else 'officer'} {status} {count}"
             for channel, automatic, status, count in sorted(counts)]
    print(f"outbox: {', '.join(parts) or 'empty'}; SMTP stand-in received {smtp_received}")
    for job in jobs:
        print(f"  job {job.name}: {job.runs} runs, last {job.last_status}"
              + (f": {job.last_error[:160]}" if job.last_error else "")
              + (f" ({(job.last_summary or '')[:100]})" if job.name.startswith("mail-poll") else ""))


# -- main -------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent staff sessions")
    parser.add_argument("--emails", type=int, default=5000, help="messages appended to the mailbox")
    parser.add_argument("--rate", type=float, default=10.0, help="messages appended per second")
    parser.add_argument("--seed-tickets", type=int, default=2000, help="tickets in the instance before the run")
    parser.add_argument("--workers", type=int, default=1, help="`helpdesk worker` processes")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads of `helpdesk serve`")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="mail-poll job interval")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause between an officer's requests, seconds (uniform 0.5x..1.5x; 0: none)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="bound on the whole run, setup included")
    parser.add_argument("--database-url", help="an EMPTY database (default: SQLite in a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    args = parser.parse_args(argv)

    began = time.monotonic()
    deadline = began + args.max_seconds
    rng = random.Random(SEED)
    run_id = f"{int(time.time()):x}"
    app, workdir = bench_app(args.database_url, prefix="bench-load-")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    stop_load = threading.Event()
    stop_watch = threading.Event()
    processes: dict[str, subprocess.Popen] = {}
    smtp = SmtpStandIn()
    dovecot = None
    officers: list[Officer] = []
    feeder = monitor = None
    mails: list[Mail] = []
    cpu: dict[str, float | None] = {}
    outcome = "not started"
    load_started = load_ended = None
    try:
        print(machine_line(app))
        dovecot = DovecotServer()
        dovecot.start()
        smtp.start()
        started = time.perf_counter()
        seed_max_id, emails = prepare(app, args, rng)
        print(f"setup: {args.seed_tickets} seed tickets and {args.sessions} officers in "
              f"{time.perf_counter() - started:.1f} s")
        mails = plan_mail(args.emails, run_id, rng)
        print(f"mail: {len(mails)} messages planned ({sum(m.parent is not None for m in mails)} replies), "
              f"{sum(len(m.raw) for m in mails) / 1e6:.1f} MB, at {args.rate:g}/s "
              f"(~{len(mails) / args.rate:.0f} s of feeding)")
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "HELPDESK_DATA_DIR": str(workdir),
               "HELPDESK_IMAP_HOST": HOST, "HELPDESK_IMAP_PORT": str(dovecot.port),
               "HELPDESK_IMAP_USER": dovecot.user, "HELPDESK_IMAP_PASSWORD": dovecot.password,
               "HELPDESK_IMAP_SECURITY": "plain", "HELPDESK_SMTP_HOST": HOST, "HELPDESK_SMTP_PORT": str(smtp.port),
               "HELPDESK_SMTP_SECURITY": "plain", "HELPDESK_MAIL_FROM": OFFICE_EMAIL,
               "HELPDESK_PUBLIC_BASE_URL": f"http://{HOST}:{port}",
               "HELPDESK_MAIL_POLL_SECONDS": f"{args.poll_seconds:g}",
               "HELPDESK_JOB_INTERVALS": f"mail-poll={args.poll_seconds:g},outbox-email={OUTBOX_SECONDS}"}
        executable = str(Path(sys.executable).parent / "helpdesk")
        processes["server"] = start_process("server", [executable, "serve", "--no-jobs", "--host", HOST, "--port",
                                                       str(port), "--threads", str(args.threads)], env, workdir)
        for n in range(1, args.workers + 1):
            processes[f"worker{n}"] = start_process(f"worker{n}", [executable, "worker"], env, workdir)
        base = f"http://{HOST}:{port}"
        wait_until_serving(base, processes["server"], min(deadline, time.monotonic() + 60))
        print(f"processes: helpdesk serve --no-jobs --threads {args.threads} on {base}, {args.workers} worker(s), "
              f"mail-poll every {args.poll_seconds:g} s, outbox-email every {OUTBOX_SECONDS} s; {args.sessions} "
              f"sessions, think {args.think:g} s")

        officers = [Officer(base, email, stop_load, args.think, random.Random(SEED + n))
                    for n, email in enumerate(emails)]
        feeder = Feeder(dovecot, mails, args.rate, stop_load)
        monitor = Monitor(app, mails, run_id, stop_watch)
        cpu_start = {name: cpu_seconds(p.pid) or 0.0 for name, p in processes.items()}
        cpu_start["bench process"], cpu_start["machine"] = own_cpu(), machine_busy()
        load_started = time.monotonic()
        for thread in (monitor, feeder, *officers):
            thread.start()
        stop_at = deadline - TEARDOWN_RESERVE
        outcome = "deadline"
        while time.monotonic() < stop_at:
            if any(p.poll() is not None for p in processes.values()):
                outcome = "a subprocess exited: " + ", ".join(f"{name} ({p.returncode})" for name, p in
                                                                processes.items() if p.poll() is not None)
                break
            if not feeder.is_alive() and monitor.seen >= feeder.fed:
                outcome = "complete"
                break
            time.sleep(0.25)
        stop_load.set()
        load_ended = time.monotonic()
        cpu = {name: (cpu_seconds(p.pid) or 0.0) - cpu_start[name] for name, p in processes.items()}
        cpu["bench process"] = own_cpu() - cpu_start["bench process"]
        cpu["machine"] = machine_busy() - cpu_start["machine"]
        feeder.join(15)
        for officer in officers:
            officer.join(65)
        # The last rows: one more look, then the watcher stops.
        time.sleep(2 * MONITOR_SECONDS)
        stop_watch.set()
        monitor.join(15)
        # Give the outbox a moment to send what the last minutes queued, within the bound.
        settle = min(2 * OUTBOX_SECONDS + 2, deadline - time.monotonic() - 8)
        if settle > 0:
            time.sleep(settle)
    except KeyboardInterrupt:
        outcome = "interrupted"
    except Exception:  # noqa: BLE001 - report it, then stop everything and clean up as usual
        traceback.print_exc()
        outcome = "failed (traceback above)"
    finally:
        stop_load.set()
        stop_watch.set()
        for process in processes.values():
            stop_process(process)
        smtp_received = smtp.stop()
        if dovecot is not None:
            dovecot.close()

    elapsed = (load_ended or time.monotonic()) - (load_started or time.monotonic())
    print(f"run: {outcome}; load phase {elapsed:.1f} s, whole run {time.monotonic() - began:.1f} s "
          f"(bound {args.max_seconds:g} s)")
    if load_started is not None:
        report_requests(officers, elapsed)
        report_ingestion(mails, feeder, monitor)
        check_exactly_once(app, mails, run_id, seed_max_id)
        report_outbox(app, smtp_received)
        if cpu:
            cores = os.cpu_count() or 1
            print(f"cpu in the load phase: machine busy {cpu['machine']:.0f} s of {cores * elapsed:.0f} "
                  f"({cpu['machine'] / (cores * elapsed):.0%} of {cores} cores); " + ", ".join(
                      f"{name} {value:.0f} s" for name, value in cpu.items() if name != "machine")
                  + " (the rest: the database server, Dovecot, the SMTP stand-in, and whatever else runs here)")
        if url.startswith("sqlite"):
            path = Path(url.split("///", 1)[1])
            wal = path.with_name(path.name + "-wal")
            print(f"sqlite file {path.stat().st_size / 1e6:.1f} MB, WAL "
                  f"{wal.stat().st_size / 1e6 if wal.exists() else 0:.1f} MB at the end")
    for name in processes:
        print(f"{name} output: " + "\n".join(log_findings(workdir / f"{name}.log")))
    if args.keep:
        print(f"kept {workdir} (SMTP received {smtp_received})")
    else:
        with app.app_context():
            db.engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if outcome == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
