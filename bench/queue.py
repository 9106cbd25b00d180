"""Benchmark the staff queue on a large office: first page, a filtered page and text searches.

    .venv/bin/python bench/queue.py [--tickets 100000] [--requests 200] [--database-url URL] [--analyze]

Builds a fresh database (default: SQLite in a temporary directory; a --database-url must point at an empty
database), makes one office and one officer through the services, then bulk-inserts the tickets, their events
and ~20k requesters with SQLAlchemy Core (the ticket service is far too slow for 100k tickets). The rows are what
the service would have written: references numbered per office and year with the ``sequence`` rows set to go on
from there, follow-up deadlines from the office's working calendar, SLA fields, and ``search_text`` as
``helpdesk.tickets._search_text`` builds it (checked on a sample). Then it logs in with the Flask test client and
times each scenario after a warm-up, failing loudly on any response other than 200.
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file would shadow the standard library's
# ``queue`` (which psycopg imports). Drop the folder before importing anything else.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import functools
import os
import platform
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time as clock, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import urlencode

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

import helpdesk
from helpdesk import create_app, tickets
from helpdesk.calendars import calendar_for
from helpdesk.cli import ensure_default_office
from helpdesk.extensions import db
from helpdesk.models import Requester, Sequence, Ticket, TicketEvent
from helpdesk.queue import search_terms as tickets_search_terms
from helpdesk.requesters import format_phone
from helpdesk.staff import create_staff
from helpdesk.states import ACTIVE, Status
from helpdesk.timeutil import utcnow

SEED = 4242
BATCH = 5000
WARMUP = 10
STAFF_EMAIL, STAFF_PASSWORD = "bench@lpse.example.com", "bench-password"
RARE_WORD = "spamkodok"  # the one topic below that mentions it is drawn for ~1% of tickets
TARGETS_MS = {"first page": 50, "filtered": 50, "search 1%": 150, "search rare": 150}  # p95, SQLite

FIRST_NAMES = ("Budi Siti Agus Dewi Hadi Rina Joko Sri Ahmad Yuliana Dedi Ratna Wahyu Agustina Rizki Slamet "
               "Bambang Maya Teguh Nurul Arif Lina Rudi Andi Wulan Heru Sugeng Irawati Yusuf Eko Fitri Hendra "
               "Indah Suharto Kartini Bayu Citra Dimas Endang Fajar Gilang Hesti Imam Januarti Kurniasih Lukman "
               "Mulyadi Nanang Oktaviani Purnomo Rahmat Setyaningsih Taufik Umar Veronika Widodo Yanti Zainal").split()
LAST_NAMES = ("Santoso Nurhaliza Wijaya Susilo Fauzi Putri Kurniawan Sari Hidayat Manurung Ramadhan Riyadi "
              "Sutrisno Anggraini Prasetyo Hidayah Rahman Marlina Hartono Saputra Santika Riyanto Maulana "
              "Gunawan Wulandari Setiawan Lestari Hermawan Rahayu Handayani Siregar Nasution Simanjuntak "
              "Pratama Permana Firmansyah Kusuma Halim Wibowo Sembiring Tambunan Lubis Harahap Pohan Situmorang "
              "Daulay Ginting Tarigan Sinaga Panjaitan Hutapea Pardede").split()
COMPANY_WORDS = ("Karya Mandiri Sinar Jaya Abadi Bangun Persada Nusantara Tiga Putra Konstruksi Utama Mitra "
                 "Sejahtera Berkah Teknik Cahaya Medika Sentosa Anugerah Bersama Griya Lestari Engineering Rizki "
                 "Pratama Dua Saudara Cipta Graha Mulia Bumi Perkasa Indah Makmur Tunggal Sakti Surya Kencana "
                 "Wira Usaha Multi Sarana Putra Daerah Kharisma Prima Jasa Marga").split()
AGENCIES = ("Dinas Pekerjaan Umum dan Penataan Ruang", "Dinas Kesehatan", "Dinas Pendidikan dan Kebudayaan",
            "RSUD Sukamaju", "Dinas Pertanian dan Ketahanan Pangan", "Dinas Perhubungan", "Sekretariat Daerah",
            "Badan Perencanaan Pembangunan Daerah", "Dinas Lingkungan Hidup", "Dinas Sosial",
            "Dinas Perumahan dan Kawasan Permukiman", "Inspektorat Daerah", "Kecamatan Sukamaju Kota")
MOBILE_PREFIXES = ("812", "813", "821", "822", "852", "853", "857", "878", "896", "838", "819", "856")

# (weight, application, subject, description). {tender}, {company} and {error} are filled in per ticket.
TOPICS: list[tuple[float, str, str, str]] = [
    (12, "spse", "Lupa password akun penyedia {company}",
     "Kami lupa password akun SPSE dan email reset tidak masuk. Mohon dibantu reset akun karena ada tender yang "
     "akan diikuti minggu ini."),
    (8, "spse", "Akun terblokir setelah salah password",
     "Akun kami terblokir setelah beberapa kali salah memasukkan password. Bagaimana cara membukanya?"),
    (10, "spse", "Upload dokumen penawaran gagal tender {tender}",
     "Proses unggah dokumen penawaran berhenti di tengah lalu muncul pesan gagal ({error}). Batas akhir pemasukan "
     "penawaran besok pagi."),
    (1, "spse", "Enkripsi penawaran dengan SPAMKodok gagal",
     "Saat mengenkripsi dokumen penawaran tender {tender} dengan aplikasi SPAMKodok muncul pesan gagal membuat "
     "file .rhs."),
    (5, "spse", "Jadwal tender {tender} berubah",
     "Mohon info jadwal pembukaan penawaran dan pengumuman pemenang, karena jadwal di halaman tender berubah."),
    (8, "spse", "Verifikasi berkas penyedia baru {company}",
     "Kami sudah mendaftar secara online. Kapan bisa datang untuk verifikasi dan dokumen asli apa saja yang "
     "harus dibawa?"),
    (5, "sikap", "Perubahan data direktur di SIKaP",
     "Direktur perusahaan berganti sesuai akta perubahan terbaru. Bagaimana memperbarui data pengurus di SIKaP?"),
    (7, "sirup", "Paket SiRUP tidak muncul di SPSE",
     "Paket sudah diumumkan di SiRUP sejak minggu lalu, tetapi saat membuat paket di SPSE tidak ada di daftar."),
    (5, "ekatalog", "Cara mendaftar etalase katalog elektronik lokal",
     "Kami ingin menayangkan produk di etalase katalog lokal. Apa persyaratannya dan kapan pendaftaran dibuka?"),
    (4, "ekatalog", "Tidak bisa membuat paket e-purchasing",
     "Menu buat paket tidak tersedia untuk akun saya di katalog elektronik, padahal bulan lalu masih bisa."),
    (6, "sikap", "Data pengalaman di SIKaP tidak tersimpan",
     "Saat menambah data pengalaman perusahaan muncul error ({error}) dan data tidak tersimpan."),
    (5, "spse", "Error saat membuka halaman evaluasi tender {tender}",
     "Setiap membuka halaman evaluasi muncul pesan kesalahan ({error}). Sudah dicoba di dua peramban."),
    (4, "spse", "Permohonan akun Pokja Pemilihan baru",
     "Ada anggota Pokja baru sesuai SK Kepala UKPBJ. Bagaimana prosedur pembuatan akun SPSE untuk mereka?"),
    (3, "spse", "Penggantian PPK karena mutasi",
     "PPK lama sudah mutasi. Mohon paket yang sedang berjalan dialihkan ke PPK pengganti sesuai SK terlampir."),
    (3, "spse", "Sertifikat elektronik gagal dipakai tanda tangan",
     "Saat menandatangani berita acara secara elektronik muncul pesan sertifikat tidak valid."),
    (4, "spse", "Cara mengajukan sanggahan tender {tender}",
     "Perusahaan kami dinyatakan gugur pada evaluasi teknis. Bagaimana cara mengajukan sanggahan di SPSE?"),
    (6, "spse", "Tidak bisa login, halaman kembali ke login",
     "Setelah memasukkan User ID dan password halaman hanya berputar lalu kembali ke halaman login."),
    (4, "spse", "Email undangan pembuktian kualifikasi tidak masuk",
     "Peserta lain menerima undangan pembuktian kualifikasi tender {tender}, tetapi email kami tidak menerima."),
]
ERRORS = ("ERR_CONNECTION_RESET", "HTTP 500", "Error 413 Request Entity Too Large", "Gateway Timeout 504",
          "Sesi berakhir")
CHANNELS = {"email": 35, "phone": 25, "whatsapp": 20, "walkin": 10, "web": 7, "sms": 3}


@dataclass
class Scenario:
    name: str
    params: dict[str, str]
    target_ms: float | None
    expect: str | None = None  # text the first response must contain

    @property
    def path(self) -> str:
        return "/tickets" + ("?" + urlencode(self.params) if self.params else "")


# -- build --------------------------------------------------------------------------------------------------

def build(app, *, n_tickets: int, n_requesters: int, rng: random.Random) -> dict[str, Any]:
    """Migrate, make the office and the officer through the services, then bulk-insert everything else."""
    with app.app_context():
        upgrade(directory=str(helpdesk.MIGRATIONS_DIR))
        if db.session.scalar(select(func.count()).select_from(Ticket)):
            sys.exit("bench: the database already has tickets; give an empty database")
        office = ensure_default_office()
        staff = create_staff(office=office, email=STAFF_EMAIL, name="Petugas Benchmark", role="helpdesk",
                             password=STAFF_PASSWORD)
        db.session.commit()
        calendar = calendar_for(office)
        calendar.day_off = functools.lru_cache(maxsize=None)(calendar.day_off)  # pure per day; 100k deadlines
        now = utcnow()
        started = time.perf_counter()
        requesters = _requesters(n_requesters, rng, now)
        plan = _tickets(n_tickets, requesters, office, staff.id, calendar, now, rng)
        _check_search_text(plan["tickets"][:: max(1, n_tickets // 200)], requesters)
        generated = time.perf_counter()
        with db.engine.begin() as conn:
            for table, rows in ((Requester.__table__, requesters), (Ticket.__table__, plan["tickets"]),
                                (TicketEvent.__table__, plan["events"])):
                for batch in _batches(rows, BATCH):
                    conn.execute(insert(table), batch)
            conn.execute(insert(Sequence.__table__), [{"name": f"ticket:{office.id}:{year}", "value": value}
                                                        for year, value in plan["last_number"].items()])
            if conn.dialect.name == "postgresql":  # explicit ids were inserted: move the id sequences on
                for table in ("requester", "ticket"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
        return {"office": office.ticket_prefix, "now": now, "requesters": requesters, **plan,
                "generate_s": generated - started, "insert_s": time.perf_counter() - generated}


def _requesters(count: int, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        role = rng.choices(("penyedia", "ppk", "pokja", "pp", "pa_kpa", "publik"), (70, 12, 8, 6, 2, 2))[0]
        if role == "penyedia":
            organization = f"{rng.choice(('CV', 'CV', 'PT'))} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)}"
        else:
            organization = None if role == "publik" else rng.choice(AGENCIES)
        email = f"{first}.{last}.{i}@example.com".lower() if rng.random() < 0.6 else None
        # A distinct number per requester: 7919 is coprime with 10**8, so i -> digits is one-to-one.
        phone = f"+62{rng.choice(MOBILE_PREFIXES)}{(i * 7919) % 10**8:08d}"
        rows.append({"id": i, "name": f"{first} {last}", "organization": organization, "spse_role": role,
                     "email": email, "phone": phone, "phone_valid": True, "created_at": now - timedelta(days=800),
                     "updated_at": now - timedelta(days=800)})
    return rows


def _received_times(count: int, calendar, now: datetime, rng: random.Random) -> list[datetime]:
    """Receipt times over two years: mostly in office hours on working days, some evenings and weekends."""
    today = calendar.local(now).date()
    days = [today - timedelta(days=n) for n in range(730)]
    windows = {day: calendar.window(day) for day in days}
    weights = [1.0 if windows[day] else 0.08 for day in days]
    times = []
    while len(times) < count:
        for day in rng.choices(days, weights, k=count - len(times)):
            window = windows[day]
            if window and rng.random() < 0.85:
                opening, closing = window
                moment = opening + (closing - opening) * rng.random()
            else:
                moment = datetime.combine(day, clock(0), calendar.tz) + timedelta(hours=24 * rng.random())
            moment = moment.astimezone(timezone.utc).replace(microsecond=0)
            if moment < now - timedelta(minutes=5):
                times.append(moment)
    return sorted(times)


def _status(age_days: float, rng: random.Random) -> str:
    """A realistic final status for a ticket of this age: old ones are almost all resolved or closed."""
    active_share = 0.75 if age_days < 3 else 0.35 if age_days < 30 else 0.10 if age_days < 180 else 0.02
    if rng.random() < active_share:  # old ones still open are mostly stuck waiting on someone
        weights = (25, 35, 12, 8, 20) if age_days < 30 else (3, 17, 35, 25, 20)
        return rng.choices(("new", "open", "pending", "escalated", "waiting"), weights)[0]
    return "resolved" if age_days < 14 and rng.random() < 0.5 else rng.choices(("closed", "resolved"), (92, 8))[0]


def _tickets(count: int, requesters: list[dict[str, Any]], office, staff_id: int, calendar, now: datetime,
             rng: random.Random) -> dict[str, Any]:
    weights = [topic[0] for topic in TOPICS]
    channels, channel_weights = list(CHANNELS), list(CHANNELS.values())
    numbers: Counter[int] = Counter()
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for ticket_id, received in enumerate(_received_times(count, calendar, now, rng), start=1):
        year = calendar.local(received).year
        numbers[year] += 1
        requester = requesters[int(len(requesters) * rng.random() ** 2)]  # some requesters call often
        _, application, subject, description = rng.choices(TOPICS, weights)[0]
        fill = {"tender": f"10{rng.randint(100_000, 999_999)}000", "error": rng.choice(ERRORS),
                "company": requester["organization"] or requester["name"]}
        due = calendar.follow_up_due(received).astimezone(timezone.utc)
        row = {
            "id": ticket_id, "office_id": office.id,
            "ref": tickets.format_ref(office.ticket_prefix, year, numbers[year]),
            "channel": rng.choices(channels, channel_weights)[0], "subject": subject.format(**fill),
            "description": description.format(**fill), "status": Status.NEW.value, "requester_id": requester["id"],
            "assignee_id": None, "received_at": received, "follow_up_due_at": due, "first_follow_up_at": None,
            "follow_up_met": None, "resolved_at": None, "closed_at": None, "calendar_version": calendar.version,
            "application": application, "tender_code": fill["tender"] if "{tender}" in subject + description else None,
            "error_code": fill["error"] if "{error}" in description else None, "created_at": received,
        }
        row["search_text"] = _search_text(row, requester)
        story = _Story(row, events, staff_id, now, rng)
        story.run(_status((now - received).total_seconds() / 86400, rng))
        row["updated_at"] = story.at
        rows.append(row)
    return {"tickets": rows, "events": events, "last_number": dict(numbers)}


class _Story:
    """Writes one ticket's events as the service verbs would, moving the ticket row along."""

    def __init__(self, row: dict[str, Any], events: list[dict[str, Any]], staff_id: int, now: datetime,
                 rng: random.Random) -> None:
        self.row, self.events, self.staff_id, self.now, self.rng = row, events, staff_id, now, rng
        self.at = row["received_at"]
        self.event("created", None, row["description"], {
            "channel": row["channel"], "follow_up_due_at": row["follow_up_due_at"].isoformat(),
            "calendar_version": row["calendar_version"]}, actor_label="Sistem")

    def event(self, kind: str, actor: int | None, body: str = "", data: dict | None = None,
              actor_label: str = "Petugas Benchmark") -> None:
        self.events.append({"ticket_id": self.row["id"], "kind": kind, "actor_id": actor, "actor_label": actor_label,
                            "body": body, "data": data or {}, "created_at": self.at})

    def later(self, low_hours: float, high_hours: float) -> None:
        self.at = min(self.at + timedelta(hours=self.rng.uniform(low_hours, high_hours)), self.now)

    def move(self, new: str, note: str = "") -> None:
        self.event("status_changed", self.staff_id, note, {"from": self.row["status"], "to": new})
        self.row["status"] = new
        if new == "resolved":
            self.row["resolved_at"] = self.at
        elif new == "closed":
            self.row["closed_at"] = self.at

    def follow_up(self, how: str) -> None:
        met = self.at <= self.row["follow_up_due_at"]
        self.row.update(first_follow_up_at=self.at, follow_up_met=met)
        self.event("followed_up", self.staff_id, "", {"how": how, "met": met,
                                                     "due": self.row["follow_up_due_at"].isoformat()})

    def run(self, status: str) -> None:
        rng, row = self.rng, self.row
        if rng.random() < 0.15 or status == "new" and rng.random() < 0.5:
            self.later(0.05, 1)
            row["assignee_id"] = self.staff_id
            self.event("assigned", self.staff_id, "", {"from": None, "to": self.staff_id})
        if status == "new":
            return
        if status == "open" and rng.random() < 0.2:  # picked up, not answered yet
            self.later(0.1, 2)
            self.move("open")
            return
        # Follow-up: mostly within the working day, one in seven late.
        span = (row["follow_up_due_at"] - self.at).total_seconds() / 3600
        self.later(0.1, max(0.2, span * 0.9)) if rng.random() < 0.86 else self.later(span + 0.5, span + 48)
        if status == "escalated":
            self.move("escalated")
            self.event("escalated", self.staff_id, "Perlu penanganan Admin PPE.",
                       {"tier": "internal", "role": "admin_ppe", "requester_told": True})
            self.follow_up("escalation_notice")
            return
        if status in ("resolved", "closed") and rng.random() < 0.75:
            self.move("resolved", "Sudah dijelaskan kepada pelapor; masalah selesai.")
            self.follow_up("resolution")
        else:
            self.event("replied", self.staff_id, "Terima kasih, laporan sedang kami tangani.", {"via": "phone"})
            self.move("open")
            self.follow_up("reply")
            if status in ("pending", "waiting"):
                self.later(0, 0.1)
                self.move(status)
            elif status in ("resolved", "closed"):
                self.later(0.5, 30)
                self.move("resolved", "Sudah dijelaskan kepada pelapor; masalah selesai.")
        if status == "closed":
            self.later(24, 120)
            self.move("closed", "Pelapor mengonfirmasi masalah selesai.")


@functools.lru_cache(maxsize=None)
def _formatted_phone(phone: str | None) -> str:
    return format_phone(phone)


def _search_text(row: dict[str, Any], requester: dict[str, Any]) -> str:
    """``helpdesk.tickets._search_text`` with each requester's formatted phone computed once."""
    parts = [row["ref"], row["subject"], row["description"], requester["name"], requester["organization"] or "",
             requester["email"] or "", requester["phone"] or "", _formatted_phone(requester["phone"]),
             row["tender_code"] or "", row["error_code"] or ""]
    return "\n".join(part for part in parts if part).lower()[:20000]


def _check_search_text(rows: list[dict[str, Any]], requesters: list[dict[str, Any]]) -> None:
    """The bulk rows' search_text equals what the service's own function makes, on a sample."""
    for row in rows:
        requester = SimpleNamespace(**requesters[row["requester_id"] - 1])
        ticket = SimpleNamespace(**{**row, "requester": requester})
        if tickets._search_text(ticket) != row["search_text"]:  # type: ignore[arg-type]
            sys.exit(f"bench: search_text of {row['ref']} differs from helpdesk.tickets._search_text")


def _batches(rows: list, size: int) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


# -- timing -------------------------------------------------------------------------------------------------

def scenarios(built: dict[str, Any], rng: random.Random) -> list[Scenario]:
    """The pages to time. The rare term is the name of a requester with a few tickets, one of them active."""
    active = {s.value for s in ACTIVE}
    per_requester = Counter(row["requester_id"] for row in built["tickets"])
    with_active = {row["requester_id"] for row in built["tickets"] if row["status"] in active}
    names = Counter(r["name"] for r in built["requesters"])
    candidates = sorted(r["id"] for r in built["requesters"]
                        if 2 <= per_requester[r["id"]] <= 8 and r["id"] in with_active and names[r["name"]] == 1)
    rare = built["requesters"][rng.choice(candidates or sorted(with_active)) - 1]["name"]
    return [
        Scenario("first page", {}, TARGETS_MS["first page"]),
        Scenario("filtered", {"status": "open", "channel": "phone"}, TARGETS_MS["filtered"]),
        Scenario("search 1%", {"q": RARE_WORD}, TARGETS_MS["search 1%"]),
        Scenario("search rare", {"q": rare}, TARGETS_MS["search rare"], expect=rare),
        Scenario("search rare, all", {"q": rare, "status": "all"}, None, expect=rare),
    ]


def time_requests(app, scenario_list: list[Scenario], requests: int) -> list[tuple[Scenario, list[float]]]:
    client = app.test_client()
    response = client.post("/login", data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    if response.status_code != 302:
        sys.exit(f"bench: login failed with HTTP {response.status_code}")
    results = []
    for scenario in scenario_list:
        timings = []
        for n in range(WARMUP + requests):
            start = time.perf_counter()
            response = client.get(scenario.path)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                sys.exit(f"bench: GET {scenario.path} answered HTTP {response.status_code}")
            if scenario.expect and n == 0 and scenario.expect not in response.get_data(as_text=True):
                sys.exit(f"bench: GET {scenario.path} does not show {scenario.expect!r}")
            if n >= WARMUP:
                timings.append(elapsed)
        results.append((scenario, timings))
    return results


def matches(built: dict[str, Any], scenario: Scenario) -> str:
    """How many tickets the scenario's search finds among those the page lists, and in all statuses."""
    terms = tickets_search_terms(scenario.params.get("q", ""))
    if not terms:
        return ""
    active = {s.value for s in ACTIVE}
    found = [row for row in built["tickets"] if all(term in row["search_text"] for term in terms)]
    listed = found if scenario.params.get("status") == "all" else [r for r in found if r["status"] in active]
    return f"; q matches {len(listed)} listed, {len(found)} in all statuses ({len(found) / len(built['tickets']):.3%})"


# -- report -------------------------------------------------------------------------------------------------

def machine_line(app) -> str:
    with app.app_context():
        engine = db.engine
        backend = engine.dialect.name
        if backend == "postgresql":
            with engine.connect() as conn:
                backend += " " + conn.execute(text("SHOW server_version")).scalar_one()
    return (f"machine: nproc {os.cpu_count()}, python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
            f"backend {backend}, {platform.machine()} {platform.system()}")


def database_size(app, path: Path | None) -> str:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = path.stat().st_size if path else 0
    return f"{size / 1e6:.1f} MB"


def analyze(app) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario (after 10 warm-up)")
    parser.add_argument("--database-url", help="an EMPTY database (default: SQLite in a temporary directory)")
    parser.add_argument("--requesters", type=int, default=20_000)
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after the build (planner statistics)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    sqlite_path = None if args.database_url else workdir / "bench.sqlite3"
    url = args.database_url or f"sqlite:///{sqlite_path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(workdir), "WTF_CSRF_ENABLED": False,
                      "TESTING": False, "RUN_JOBS": False, "DEFAULT_OFFICE_NAME": "LPSE Kabupaten Sukamaju",
                      "DEFAULT_OFFICE_PREFIX": "SKM"})
    rng = random.Random(SEED)
    try:
        start = time.perf_counter()
        built = build(app, n_tickets=args.tickets, n_requesters=args.requesters, rng=rng)
        build_seconds = time.perf_counter() - start
        if args.analyze:
            analyze(app)
        statuses = Counter(row["status"] for row in built["tickets"])
        active = sum(statuses[s.value] for s in ACTIVE)
        print(machine_line(app))
        print(f"build: {args.tickets} tickets, {len(built['events'])} events "
              f"({len(built['events']) / args.tickets:.1f}/ticket), {args.requesters} requesters in "
              f"{build_seconds:.1f} s (generate {built['generate_s']:.1f} s, insert {built['insert_s']:.1f} s); "
              f"database {database_size(app, sqlite_path)}; active {active / args.tickets:.1%}; "
              f"{'ANALYZEd' if args.analyze else 'no ANALYZE'}")
        print("statuses: " + ", ".join(f"{s.value} {statuses[s.value]}" for s in Status))
        for scenario, timings in time_requests(app, scenarios(built, rng), args.requests):
            p95 = percentile(timings, 0.95)
            target = "no target"
            if scenario.target_ms:
                verdict = "OK" if p95 < scenario.target_ms else "MISSED"
                target = f"SQLite target p95 < {scenario.target_ms:.0f} ms: {verdict}"
            print(f"{scenario.name:<16} GET {scenario.path:<44} n={len(timings)}"
                  f"  p50 {statistics.median(timings):6.1f} ms  p95 {p95:6.1f} ms  max {max(timings):6.1f} ms"
                  f"  [{target}]{matches(built, scenario)}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
