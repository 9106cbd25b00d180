"""Benchmark the SLA sweep over a large open backlog (issue 6: 100,000 open tickets, target under one second).

    .venv/bin/python bench/sla.py [--tickets 100000] [--database-url URL] [--runs 5]

Builds a fresh database (default: SQLite in a temporary directory; a --database-url must point at an EMPTY
database), makes one office, two officers and a head of the LPSE through the services, then bulk-inserts the open
tickets with SQLAlchemy Core, each with the follow-up deadline and warning mark the ticket service computes
(``escalation.calendar`` on the office's calendar) and a resolution deadline. Receipt times are spread over the
office hours of the last three working days before a fixed "now", so the backlog holds tickets on track, due for a
warning and overdue.

It times three sweeps, each one ``escalation.sweep.run_sweep`` call that commits:

- **backlog**: the first sweep over tickets none of which has been swept (the worst case after an outage: every
  overdue ticket breaches and every ticket past its mark is warned at once);
- **steady**: sweeps 5 minutes apart afterwards, as the scheduler runs them (a handful of new marks each);
- **idle**: a sweep at the same moment again (nothing to mark: the cost of looking).

Every sweep is checked: after it, no ticket is both unmarked and past its moment, and no ticket has two events
of the same mark.
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# Run as a script, this file's folder comes first on sys.path and bench/queue.py would shadow the standard
# library's ``queue``: put the project root there instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

import helpdesk
from bench.common import bench_app, machine_line
from escalation import sweep
from helpdesk.calendars import calendar_for
from helpdesk.cli import ensure_default_office
from helpdesk.extensions import db
from helpdesk.models import Requester, Sequence, Ticket, TicketEvent
from helpdesk.staff import create_staff
from helpdesk.timeutil import as_utc

SEED = 6006
BATCH = 5000
WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=WIB)  # a Thursday morning
TARGET_S = 1.0


def build(app, n_tickets: int, rng: random.Random) -> None:
    with app.app_context():
        upgrade(directory=str(helpdesk.MIGRATIONS_DIR))
        if db.session.scalar(select(func.count()).select_from(Ticket)):
            sys.exit("bench: the database already has tickets; give an empty database")
        office = ensure_default_office()
        officers = [create_staff(office=office, email=f"petugas{n}@bench.example", name=f"Petugas {n}",
                                 role="helpdesk", password="bench-password") for n in (1, 2)]
        create_staff(office=office, email="kepala@bench.example", name="Kepala LPSE", role="kepala",
                     password="bench-password")
        requester = Requester(name="Pelapor Benchmark", email="pelapor@bench.example")
        db.session.add(requester)
        db.session.commit()
        calendar = calendar_for(office)
        days = []
        day = NOW.date()
        while len(days) < 3:
            if calendar.window(day) is not None:
                days.append(day)
            day -= timedelta(days=1)
        rows = []
        for number in range(1, n_tickets + 1):
            opening, closing = calendar.window(rng.choice(days))
            received = opening + (closing - opening) * rng.random()
            if received > NOW:
                received = NOW - timedelta(minutes=rng.randint(1, 600))
            start = calendar.next_opening(received)
            due = calendar.follow_up_due(received)
            warn = calendar.add_working_seconds(start, 0.75 * calendar.working_seconds(start, due))
            rows.append({
                "office_id": office.id, "ref": f"SKM-2026-{number:06d}", "channel": "email",
                "subject": f"Pertanyaan {number}", "description": "", "status": rng.choice(("new", "open")),
                "requester_id": requester.id, "assignee_id": rng.choice((None, officers[0].id, officers[1].id)),
                "received_at": as_utc(received), "follow_up_due_at": as_utc(due), "follow_up_warn_at": as_utc(warn),
                "resolution_target_days": 5,
                "resolution_due_at": as_utc(calendar.follow_up_due(received, working_days=5)),
                "calendar_version": calendar.version, "search_text": "", "requester_seconds": 0, "lkpp_seconds": 0,
            })
        with db.engine.begin() as conn:
            for index in range(0, len(rows), BATCH):
                conn.execute(insert(Ticket.__table__), rows[index:index + BATCH])
            conn.execute(insert(Sequence.__table__), [{"name": f"ticket:{office.id}:2026", "value": n_tickets}])
            conn.exec_driver_sql("ANALYZE")


def check(now: datetime) -> None:
    """No ticket is left unmarked past its moment, and no mark was recorded twice."""
    now = as_utc(now)
    missed = db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.first_follow_up_at.is_(None), Ticket.sla_breached_at.is_(None), Ticket.follow_up_due_at < now))
    doubled = db.session.scalar(select(func.count()).select_from(
        select(TicketEvent.ticket_id, TicketEvent.kind).where(TicketEvent.kind.in_(("sla_warned", "sla_breached")))
        .group_by(TicketEvent.ticket_id, TicketEvent.kind).having(func.count() > 1).subquery()))
    if missed or doubled:
        sys.exit(f"bench: sweep incorrect: {missed} overdue tickets unmarked, {doubled} marks recorded twice")


def timed(app, now: datetime) -> tuple[float, sweep.SweepReport]:
    with app.app_context():
        started = time.perf_counter()
        report = sweep.run_sweep(now)
        elapsed = time.perf_counter() - started
        check(now)
        db.session.remove()
    return elapsed, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database-url", help="an EMPTY database (default: SQLite in a temporary directory)")
    parser.add_argument("--runs", type=int, default=5, help="steady-state sweeps, 5 minutes apart")
    args = parser.parse_args(argv)
    app, workdir = bench_app(args.database_url, prefix="bench-sla-")
    try:
        started = time.perf_counter()
        build(app, args.tickets, random.Random(SEED))
        print(machine_line(app))
        print(f"build: {args.tickets} open tickets in {time.perf_counter() - started:.1f} s; now = {NOW.isoformat()}")
        backlog_s, report = timed(app, NOW)
        backlog_marks = report.warned + report.breached + report.resolution_breached
        print(f"backlog sweep: {backlog_s * 1000:7.1f} ms  ({report.line()})")
        steady = []
        for run in range(1, args.runs + 1):
            seconds, report = timed(app, NOW + timedelta(minutes=5 * run))
            steady.append(seconds)
            print(f"steady sweep {run}: {seconds * 1000:6.1f} ms  ({report.warned} warned, {report.breached} breached, "
                  f"{report.notices} notices)")
        idle_s, report = timed(app, NOW + timedelta(minutes=5 * args.runs))
        print(f"idle sweep:    {idle_s * 1000:7.1f} ms")
        scheduled = max([*steady, idle_s])
        print(f"summary over {args.tickets} open tickets (target < {TARGET_S:.0f} s per sweep):")
        print(f"  scheduled sweeps (every 5 min, and idle): median {statistics.median(steady) * 1000:.0f} ms, "
              f"worst {scheduled * 1000:.0f} ms: {'OK' if scheduled < TARGET_S else 'MISSED'}")
        print(f"  first sweep over the unswept backlog ({backlog_marks} marks at once): {backlog_s * 1000:.0f} ms: "
              f"{'OK' if backlog_s < TARGET_S else 'MISSED'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
