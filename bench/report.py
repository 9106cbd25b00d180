"""Benchmark the daily SLA report over a large history (issue 7: 1,000,000 tickets with their events; target
under 2 seconds on PostgreSQL).

    .venv/bin/python bench/report.py [--tickets 1000000] [--days 700] [--database-url URL] [--runs 3]

Builds a fresh database (default: SQLite in a temporary directory; a --database-url must point at an EMPTY
database): one office and its officers through the services, then the tickets and their events with SQLAlchemy
Core in batches, as the ticket service would have written them: ``created`` (channel, deadline), ``followed_up``
(by a reply or, for some, an FAQ answer; met or late), ``status_changed`` to resolved, ``clock_resumed`` for a
wait on the requester, and ``sla_breached`` for late ones. Receipt times are spread over the office hours of the
working days of the last ``--days`` days before a fixed "now", with deadlines from the office's calendar.

Then it times ``helpdesk.reports.daily_report`` for the last working day (``--runs`` times, after one warm-up),
and prints the report's headline counts so the figures can be checked against the data built.
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

# Run as a script, this file's folder comes first on sys.path and bench/queue.py would shadow the standard
# library's ``queue``: put the project root there instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

import helpdesk
from bench.common import bench_app, machine_line
from helpdesk.calendars import calendar_for
from helpdesk.cli import ensure_default_office
from helpdesk.extensions import db
from helpdesk.models import Requester, Sequence, Ticket, TicketEvent
from helpdesk.reports import daily_report
from helpdesk.staff import create_staff
from helpdesk.timeutil import as_utc

SEED = 7007
BATCH = 10_000
WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 26, 7, 35, tzinfo=WIB)  # Thursday morning: the report covers Wednesday
TARGET_S = 2.0
CHANNELS = ("email", "phone", "walkin", "whatsapp", "sms", "web")
APPLICATIONS = ("spse", "sikap", "sirup", "ekatalog", None)


def build(app, n_tickets: int, days: int, rng: random.Random) -> dict[str, int]:
    with app.app_context():
        upgrade(directory=str(helpdesk.MIGRATIONS_DIR))
        if db.session.scalar(select(func.count()).select_from(Ticket)):
            sys.exit("bench: the database already has tickets; give an empty database")
        office = ensure_default_office()
        officers = [create_staff(office=office, email=f"petugas{n}@bench.example", name=f"Petugas {n}",
                                 role="helpdesk", password="bench-password") for n in range(1, 6)]
        requesters = [Requester(name=f"Pelapor {n}", email=f"pelapor{n}@bench.example", spse_role=role)
                      for n, role in enumerate(("penyedia", "ppk", "pokja", "pp", "publik") * 200)]
        db.session.add_all(requesters)
        db.session.commit()
        requester_ids = [r.id for r in requesters]
        officer_ids = [o.id for o in officers]
        calendar = calendar_for(office)
        calendar.day_off = lru_cache(maxsize=None)(calendar.day_off)  # pure per day
        windows = [calendar.window((NOW - timedelta(days=d)).date()) for d in range(1, days + 1)]
        windows = [w for w in windows if w is not None]
        counts = {"tickets": 0, "events": 0}
        event_id = 0
        for first in range(1, n_tickets + 1, BATCH):
            ticket_rows, event_rows = [], []
            for number in range(first, min(first + BATCH, n_tickets + 1)):
                opening, closing = rng.choice(windows)
                received = opening + (closing - opening) * rng.random()
                due = calendar.follow_up_due(received)
                ticket = {
                    "id": number, "office_id": office.id, "ref": f"SKM-{received.year}-{number:07d}",
                    "channel": rng.choice(CHANNELS), "subject": f"Pertanyaan {number}", "description": "",
                    "status": "closed", "requester_id": rng.choice(requester_ids),
                    "assignee_id": rng.choice(officer_ids), "received_at": as_utc(received),
                    "follow_up_due_at": as_utc(due), "calendar_version": calendar.version, "search_text": "",
                    "application": rng.choice(APPLICATIONS), "ticket_type": rng.choice(("problem", "request")),
                    "requester_seconds": 0, "lkpp_seconds": 0,
                }
                events = [("created", received, {"channel": ticket["channel"],
                                                 "follow_up_due_at": as_utc(due).isoformat()})]
                draw = rng.random()
                if draw < 0.88:
                    answered = received + timedelta(hours=rng.uniform(0.2, 30))
                    how = "faq_answer" if draw < 0.10 else "reply"
                    met = answered <= due
                    ticket.update(first_follow_up_at=as_utc(answered), follow_up_met=met)
                    events.append(("followed_up", answered, {"how": how, "met": met, "due": as_utc(due).isoformat()}))
                    if not met:
                        events.append(("sla_breached", due + timedelta(minutes=3),
                                       {"clock": "follow_up", "due": as_utc(due).isoformat(),
                                        "assignee_id": ticket["assignee_id"], "holder_role": None}))
                    if rng.random() < 0.2:
                        events.append(("clock_resumed", answered + timedelta(hours=5),
                                       {"for": "requester", "seconds": 3 * 3600}))
                    resolved = answered + timedelta(hours=rng.uniform(0.5, 60))
                    if resolved < NOW:
                        ticket["resolved_at"] = as_utc(resolved)
                        events.append(("status_changed", resolved, {"from": "open", "to": "resolved"}))
                    else:
                        ticket["status"] = "open"
                else:  # no follow-up: still new (recent), pending (a few), or closed as spam or a duplicate
                    ticket["status"] = "new" if due > NOW else ("pending" if rng.random() < 0.05 else "closed")
                    if due < NOW:
                        events.append(("sla_breached", due + timedelta(minutes=3),
                                       {"clock": "follow_up", "due": as_utc(due).isoformat(),
                                        "assignee_id": ticket["assignee_id"], "holder_role": None}))
                ticket_rows.append(ticket)
                for kind, at, data in events:
                    event_id += 1
                    event_rows.append({"id": event_id, "ticket_id": number, "kind": kind, "actor_id": None,
                                       "actor_label": "Sistem", "body": "", "data": data, "created_at": as_utc(at)})
            with db.engine.begin() as conn:
                conn.execute(insert(Ticket.__table__), _uniform(ticket_rows))
                conn.execute(insert(TicketEvent.__table__), event_rows)
            counts["tickets"] += len(ticket_rows)
            counts["events"] += len(event_rows)
        with db.engine.begin() as conn:
            conn.execute(insert(Sequence.__table__), [{"name": f"ticket:{office.id}:2026", "value": n_tickets}])
            if conn.dialect.name == "postgresql":
                for table in ("ticket", "ticket_event"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
            conn.exec_driver_sql("ANALYZE")
        return counts


def _uniform(rows: list[dict]) -> list[dict]:
    """Every row with the same keys (an executemany needs them)."""
    keys = {"first_follow_up_at": None, "follow_up_met": None, "resolved_at": None}
    return [{**keys, **row} for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=700, help="calendar days the tickets are spread over")
    parser.add_argument("--database-url", help="an EMPTY database (default: SQLite in a temporary directory)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    app, workdir = bench_app(args.database_url, prefix="bench-report-")
    try:
        started = time.perf_counter()
        counts = build(app, args.tickets, args.days, random.Random(SEED))
        print(machine_line(app))
        print(f"build: {counts['tickets']} tickets, {counts['events']} events in {time.perf_counter() - started:.0f} s;"
              f" now = {NOW.isoformat()}")
        timings = []
        with app.app_context():
            office = ensure_default_office()
            daily_report(office, now=NOW)  # warm-up: caches, the calendar, the planner
            db.session.remove()
            for _ in range(args.runs):
                office = ensure_default_office()
                begun = time.perf_counter()
                report = daily_report(office, now=NOW)
                timings.append(time.perf_counter() - begun)
                db.session.remove()
        due = report["follow_up_due"]
        print(f"report for {report['period']['first']}: received {report['received']['total']}, follow-ups due "
              f"{due['total']} (met {due['met']}, late {due['late']}, missing {due['missing']}), human follow-ups "
              f"{report['follow_ups']['human']}, FAQ answers {report['follow_ups']['faq_answer']}, breaches "
              f"{len(report['breaches'])}, resolved {report['resolution']['count']}, pending {len(report['pending'])}")
        median = statistics.median(timings)
        verdict = "OK" if median < TARGET_S else "MISSED"
        print(f"daily report: median {median * 1000:.0f} ms over {len(timings)} runs "
              f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}); target < {TARGET_S:.0f} s "
              f"(PostgreSQL): {verdict}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
