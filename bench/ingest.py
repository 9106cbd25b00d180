"""Email ingestion throughput against a real Dovecot on loopback.

Appends N generated messages (Indonesian and English; plain, HTML-only, alternative, with attachments, replies
to earlier ones) to a private Dovecot mailbox, then measures, each phase in its own process:

  (a) download floor: every message fetched with imapclient (BODY.PEEK[] in batches) and nothing else;
  (b) parse floor: (a) plus parsing each message's body and attachments with the standard library;
  (c) the product: ``poll_once`` on the mailbox (fetch, store raw, dedupe, parse, route, tickets, threading,
      acknowledgements into the outbox, move to Helpdesk/Diproses) on a fresh SQLite (or --database-url).

Prints messages per second for each, the ratio (c)/(b), and the peak RSS of each phase's process.

    .venv/bin/python bench/ingest.py [--messages 1000] [--database-url URL]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # the repository, not bench/ (whose queue.py would shadow the standard library's)

from tests.servers.dovecot import DovecotServer  # noqa: E402

SUBJECTS_ID = ["Tidak bisa login SPSE", "Gagal unggah dokumen penawaran", "Lupa kata sandi akun penyedia",
               "Verifikasi akun belum disetujui", "Error saat kirim penawaran", "Cara mengisi data kualifikasi"]
SUBJECTS_EN = ["Cannot log in to SPSE", "Upload of bid document fails", "Account verification pending"]
BODY_ID = ("Selamat siang,\n\nSaya {name} dari {org}. Saat {action} muncul pesan galat \"{error}\". Sudah saya "
           "coba dengan peramban lain tetapi tetap gagal. Kode tender {tender}.\n\nMohon bantuannya.\n\n"
           "Terima kasih,\n{name}\n")
BODY_EN = ("Good afternoon,\n\nI am {name} from {org}. When I {action} the system shows \"{error}\". I tried "
           "another browser with the same result. Tender code {tender}.\n\nRegards,\n{name}\n")
NAMES = ["Budi Santoso", "Siti Rahmawati", "Agus Wijaya", "Dewi Lestari", "Rudi Hartono", "Maria Ulfa"]
ORGS = ["CV Maju Jaya", "PT Sinar Abadi", "Dinas PUPR", "CV Karya Mandiri", "PT Teknik Nusantara"]
ERRORS = ["Sesi Anda telah berakhir", "File gagal diunggah", "Apendo error 0x17", "Invalid token"]


def generate(count: int, seed: int = 7) -> list[bytes]:
    """``count`` varied messages; about a fifth reply to an earlier one by In-Reply-To."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
    messages: list[bytes] = []
    sent_ids: list[str] = []
    attachment = bytes(rng.getrandbits(8) for _ in range(48_000))
    for n in range(count):
        name, org = rng.choice(NAMES), rng.choice(ORGS)
        english = rng.random() < 0.2
        values = {"name": name, "org": org, "error": rng.choice(ERRORS), "tender": rng.randint(10**7, 10**8),
                  "action": "upload the offer" if english else "mengunggah dokumen penawaran"}
        message = EmailMessage()
        message["From"] = f"{name} <user{n % 300}@penyedia{n % 7}.example.co.id>"
        message["To"] = "helpdesk@lpse.example.go.id"
        subject = rng.choice(SUBJECTS_EN if english else SUBJECTS_ID)
        message["Date"] = format_datetime(start + timedelta(minutes=n))
        message_id = make_msgid(domain=f"penyedia{n % 7}.example.co.id")
        message["Message-ID"] = message_id
        if sent_ids and rng.random() < 0.2:
            parent = rng.choice(sent_ids)
            message["In-Reply-To"] = parent
            message["References"] = parent
            subject = "Re: " + subject
        message["Subject"] = subject
        text = (BODY_EN if english else BODY_ID).format(**values)
        shape = n % 4
        if shape == 1:  # HTML only
            html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.split("\n\n")) + "</body></html>"
            message.set_content(html, subtype="html")
        else:
            message.set_content(text)
            if shape == 2:
                message.add_alternative("<div>" + text.replace("\n", "<br>") + "</div>", subtype="html")
            elif shape == 3:
                message.add_attachment(attachment[: 8_000 + n % 40_000], maintype="application", subtype="pdf",
                                       filename=f"dokumen-{n}.pdf")
        sent_ids.append(message_id)
        messages.append(message.as_bytes())
    return messages


def fill(server: DovecotServer, messages: list[bytes]) -> None:
    with server.client() as client:
        for raw in messages:
            client.append("INBOX", raw)


# -- the three phases, each run in a child process --------------------------------------------------------

def phase_download(host: str, port: int, user: str, password: str, parse: bool) -> tuple[int, float, int]:
    from email import policy
    from email.parser import BytesParser

    from imapclient import IMAPClient

    started = time.perf_counter()
    taken = 0
    parser = BytesParser(policy=policy.default)
    with IMAPClient(host, port, ssl=False) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        for offset in range(0, len(uids), 50):
            fetched = client.fetch(uids[offset:offset + 50], ["BODY.PEEK[]", "INTERNALDATE"])
            for data in fetched.values():
                raw = data[b"BODY[]"]
                taken += 1
                if parse:
                    message = parser.parsebytes(raw)
                    for part in message.walk():
                        if part.is_multipart():
                            continue
                        part.get_content()
    return taken, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def phase_product(host: str, port: int, user: str, password: str, database_url: str | None,
                  data_dir: str) -> tuple[int, float, int]:
    from flask_migrate import upgrade

    from channels.email.imap import MailboxConfig
    from channels.email.poller import poll_once
    from helpdesk import MIGRATIONS_DIR, create_app
    from helpdesk.extensions import db
    from helpdesk.models import Office

    config = {"DATA_DIR": data_dir, "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{data_dir}/bench.db"}
    app = create_app(config)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        db.session.add(Office(code="bench", name="LPSE Bench", ticket_prefix="BEN", timezone="Asia/Jakarta",
                              email="helpdesk@lpse.example.go.id"))
        db.session.commit()
        mailbox = MailboxConfig(name="bench", host=host, port=port, user=user, password=password, security="plain")
        started = time.perf_counter()
        summary = poll_once(mailbox)
        elapsed = time.perf_counter() - started
    print(f"    product outcomes: {summary.line()}")
    return summary.taken, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_in_child(target, *args) -> tuple[int, float, int]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(target, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database-url", help="PostgreSQL URL of an EMPTY database (default: a fresh SQLite)")
    args = parser.parse_args()

    messages = generate(args.messages)
    print(f"{len(messages)} messages, {sum(map(len, messages)) / 1e6:.1f} MB")
    with DovecotServer() as server, tempfile.TemporaryDirectory(prefix="bench-ingest-") as data_dir:
        floor_user = server.user
        started = time.perf_counter()
        fill(server, messages)
        print(f"appended in {time.perf_counter() - started:.1f} s")
        product_user = server.fresh_mailbox().user
        fill(server, messages)
        password_of = server._password_of
        results = {}
        for label, target, extra in (
                ("(a) download only", phase_download, (False,)),
                ("(b) download + stdlib parse", phase_download, (True,)),
                ("(c) product ingestion", phase_product, (args.database_url, data_dir))):
            user = product_user if target is phase_product else floor_user
            taken, elapsed, maxrss = run_in_child(target, server.host, server.port, user, password_of(user), *extra)
            results[label] = taken / elapsed
            print(f"{label:32s} {taken:6d} msgs in {elapsed:7.2f} s = {taken / elapsed:8.1f} msg/s, "
                  f"peak RSS {maxrss / 1024:.0f} MB")
        ratio = results["(c) product ingestion"] / results["(b) download + stdlib parse"]
        print(f"ratio (c)/(b) throughput: {ratio:.2f} (target >= 0.5, i.e. within 2x of (b))")
        left = len(server.fetch_all("INBOX", user=product_user))
        print(f"left in the product's INBOX after (c): {left} (0 expected: all filed)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
