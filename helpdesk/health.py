"""Health checks and metrics for monitoring: is the service doing its work, and the figures behind it.

``check_health(now)`` answers ``/healthz``: one ``Check`` per part, each ok or not with a short detail that names
no person and no secret (the page needs no login):

- **database**: ``SELECT 1`` answers and the schema is at the Alembic head of this code (else ``helpdesk init``
  has not been run after an upgrade). When the database cannot be reached the other checks are not run and are
  reported as failing, since nothing can be said of them.
- **mail**: every configured mailbox was read successfully within MAIL_STALE_MINUTES (the same rule as the staff
  header's warning, ``stale_mailboxes``); a configured mailbox the poller has never tried fails. No mailbox
  configured is ok.
- **outbox**: no message has waited to go for longer than HEALTH_OUTBOX_MAX_MINUTES. A message waits from the
  moment it was due: a message never tried yet waits from its ``next_attempt_at``, so a staff notice held for
  office hours (``notify.office_hours_only``) is not late while it waits for the opening; a message already tried
  and still not sent waits from its creation (its retries' later ``next_attempt_at`` do not hide a failing
  server). Messages of a channel whose sender is not configured (no SMTP server, no Twilio account) stay in the
  outbox on purpose, as documented, and are only counted in the detail, as are failed messages of the last 24 h.
- **scheduler**: every job that runs under this configuration started or finished a run within three times its
  interval (at least MIN_JOB_WINDOW, so that a slow but healthy run is no alarm); a hung job fails too. A last
  run that failed is named in the detail but does not fail the check (mail failures are the mail check's). When
  no job has ever run on this database the check says "no scheduler has run". With HEALTH_REQUIRE_SCHEDULER
  off (a deployment that runs no jobs on purpose) the check never fails; its detail still says what it found.

``metric_families(now)`` gives the Prometheus metrics of ``/metrics``, from set-based queries (GROUP BY or
conditional counts; the follow-ups one per office), so a scrape stays cheap on a million tickets. Neither function
writes anything.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import and_, case, false, func, inspect, not_, select, text, type_coerce
from sqlalchemy.exc import SQLAlchemyError

from .delivery import STATUSES as OUTBOX_STATUSES
from .extensions import db
from .models import JobRun, Mailbox, Office, OutboxMessage, Ticket, TicketEvent
from .states import ACTIVE, Status
from .timeutil import UTCDateTime, as_utc, utcnow

log = logging.getLogger(__name__)

CHECKS: Final = ("database", "mail", "outbox", "scheduler")
OUTBOX_CHANNELS: Final = ("email", "sms", "whatsapp", "voice", "webhook")
SLA_CLOCKS: Final = ("follow_up", "resolution")
MIN_JOB_WINDOW: Final = timedelta(minutes=5)
FAILED_WINDOW: Final = timedelta(hours=24)
ACTIVE_VALUES: Final = tuple(sorted(status.value for status in ACTIVE))


@dataclass(frozen=True)
class Check:
    """One part of the health answer: its name, whether it is healthy, and a short reason."""

    name: str
    ok: bool
    detail: str


@dataclass
class Health:
    """Every check of one ``check_health`` call; healthy only when each check is."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """``{"status": "ok"|"fail", "checks": {name: {"ok": bool, "detail": str}}}``, as /healthz answers."""
        return {"status": "ok" if self.ok else "fail",
                "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in self.checks}}


def check_health(now: datetime | None = None) -> Health:
    """Run every check at ``now`` (default: the current time). Never raises: a failure is a failing check.

    Reads only, and ends its read transaction. Needs an app context.
    """
    now = as_utc(now) if now is not None else utcnow()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:  # refused, unknown host, bad credentials, missing file: say only which kind
        db.session.rollback()
        log.error("health check: the database is unreachable: %s", exc)
        return Health([Check("database", False, f"unreachable: {type(exc).__name__}"),
                       *(Check(name, False, "not checked: the database is unreachable") for name in CHECKS[1:])])
    health = Health([_run("database", _check_schema), _run("mail", _check_mail, now),
                     _run("outbox", _check_outbox, now), _run("scheduler", _check_scheduler, now)])
    db.session.rollback()
    return health


# -- the checks ------------------------------------------------------------------------------------------------

def _run(name: str, check: Any, *args: Any) -> Check:
    """One check; an exception becomes a failing check naming its type (the log has the rest)."""
    try:
        return check(*args)
    except Exception as exc:
        db.session.rollback()  # the next check starts from a clean transaction (PostgreSQL aborts a failed one)
        log.exception("health check %s failed", name)
        return Check(name, False, f"error: {type(exc).__name__}")


def _check_schema() -> Check:
    connection = db.session.connection()
    current: set[str] = set()
    if inspect(connection).has_table("alembic_version"):
        current = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    heads = alembic_heads()
    if current != heads:
        found = ", ".join(sorted(current)) or "none"
        return Check("database", False, f"schema at revision {found}, this code needs {', '.join(sorted(heads))}: "
                                        "run helpdesk init")
    return Check("database", True, f"reachable, schema at {', '.join(sorted(heads))}")


@cache
def alembic_heads() -> frozenset[str]:
    """The head revision(s) of this code's migrations (read once per process)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from . import MIGRATIONS_DIR

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _check_mail(now: datetime) -> Check:
    from channels.email.poller import mailbox_configs, stale_mailboxes

    names = [mailbox.name for mailbox in mailbox_configs(current_app.config)]
    if not names:
        return Check("mail", True, "no mailbox configured")
    rows = {row.name: row for row in db.session.scalars(select(Mailbox).where(Mailbox.name.in_(names)))}
    stale = {row.name for row in stale_mailboxes(now)}
    limit = int(current_app.config["MAIL_STALE_MINUTES"])
    ok, parts = True, []
    for name in names:
        row = rows.get(name)
        if row is None:
            ok = False
            parts.append(f"{name}: never polled")
            continue
        if row.last_success_at is None:
            part = f"{name}: not read successfully yet"
        else:
            part = f"{name}: read {_age(now - row.last_success_at)} ago"
        if row.failures:
            part += f", {row.failures} failed attempt(s) since"
        if name in stale:
            ok = False
            part += f" (limit {limit} min)"
        parts.append(part)
    return Check("mail", ok, "; ".join(parts))


def _waiting_since() -> Any:
    """When a message not sent yet became due: its next attempt if never tried, else its creation."""
    return case((OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at), else_=OutboxMessage.created_at)


def _held_on_purpose(now: datetime) -> Any:
    """Never tried and not due yet: written to go later (a staff notice waiting for office hours)."""
    return and_(OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at > now)


def outbox_waiting(now: datetime) -> dict[str, tuple[int, datetime]]:
    """Messages waiting to go by channel: ``{channel: (count, due since)}`` (held-for-later messages left out)."""
    rows = db.session.execute(
        select(OutboxMessage.channel, func.count(), type_coerce(func.min(_waiting_since()), UTCDateTime))
        .where(OutboxMessage.status.in_(("queued", "sending")), not_(_held_on_purpose(now)))
        .group_by(OutboxMessage.channel)).all()
    return {channel: (count, as_utc(since)) for channel, count, since in rows}


def _check_outbox(now: datetime) -> Check:
    config = current_app.config
    limit = timedelta(minutes=float(config["HEALTH_OUTBOX_MAX_MINUTES"]))
    waiting = outbox_waiting(now)
    held = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "queued", _held_on_purpose(now))) or 0
    failed = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "failed", OutboxMessage.created_at >= now - FAILED_WINDOW)) or 0
    ok, parts = True, []
    for channel, (count, since) in sorted(waiting.items()):
        age = now - since
        if _sender_off(channel, config):
            parts.append(f"{channel}: {count} kept until its sender is configured")
            continue
        part = f"{channel}: {count} waiting, oldest due {_age(age)} ago"
        if age > limit:
            ok = False
            part += f" (limit {_age(limit)})"
        parts.append(part)
    if not parts:
        parts.append("nothing waiting")
    if held:
        parts.append(f"{held} held for later (office hours)")
    if failed:
        parts.append(f"{failed} failed in the last 24 h")
    return Check("outbox", ok, "; ".join(parts))


def _sender_off(channel: str, config: Any) -> bool:
    """Whether the channel's delivery job is off under this configuration (its messages wait on purpose)."""
    from .scheduler import JOBS

    job = JOBS.get(f"outbox-{channel}")
    return job is not None and job.off_reason(config) is not None


def _check_scheduler(now: datetime) -> Check:
    from .scheduler import available_jobs, interval_seconds, job_records

    config = current_app.config
    required = bool(config["HEALTH_REQUIRE_SCHEDULER"])
    records = job_records()
    if not any(record.last_started_at for record in records.values()):
        detail = "no scheduler has run on this database"
        return Check("scheduler", not required, detail if required else f"{detail} (not required)")
    late, failed, checked = [], [], 0
    for job in available_jobs(config):
        if not job.listed_when_off or job.off_reason(config) is not None:
            continue  # diagnostics, and jobs whose service is not configured, are not scheduled
        checked += 1
        window = max(timedelta(seconds=3 * interval_seconds(job, config)), MIN_JOB_WINDOW)
        record = records.get(job.name)
        last = _latest(record.last_started_at, record.last_finished_at) if record is not None else None
        if last is None:
            late.append(f"{job.name} never ran")
        elif now - last > window:
            late.append(f"{job.name} last ran {_age(now - last)} ago (limit {_age(window)})")
        if record is not None and record.last_status == "failed":
            failed.append(job.name)
    parts = ["; ".join(late) if late else f"{checked} job(s) ran on time"]
    if failed:
        parts.append(f"last run failed: {', '.join(failed)}")
    if late and not required:
        parts.append("not required")
    return Check("scheduler", not late or not required, "; ".join(parts))


def _latest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _age(delta: timedelta) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``: a duration as the details show it."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# -- metrics ---------------------------------------------------------------------------------------------------

def metric_families(now: datetime | None = None) -> list[Metric]:
    """Every metric of ``/metrics`` at ``now`` (default: the current time). Reads only; raises on a database error.

    Gauges: tickets by status, follow-ups due later today and overdue (awaiting their first follow-up, active),
    undelivered outbox messages by channel and status, the oldest due message's wait by channel, each mailbox's
    lag and failures, each job's last duration, last success time and whether its last run failed. Counters: SLA
    breach events by clock, messages sent, runs of each job.
    """
    now = as_utc(now) if now is not None else utcnow()
    families = [*_ticket_metrics(now), *_outbox_metrics(now), *_mail_metrics(now), *_job_metrics()]
    db.session.rollback()
    return families


def _ticket_metrics(now: datetime) -> Iterable[Metric]:
    tickets = GaugeMetricFamily("helpdesk_tickets", "Tickets by status.", labels=["status"])
    counts = dict.fromkeys((status.value for status in Status), 0)
    counts.update(db.session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
    for status, count in counts.items():
        tickets.add_metric([status], count)
    yield tickets

    # One count per office (its local day ends at its own midnight), written so that the queue's index
    # (office, awaiting, deadline) finds the tickets still awaiting a follow-up without reading the others.
    today_count = overdue_count = 0
    for office_id, zone in db.session.execute(select(Office.id, Office.timezone)).all():
        overdue, today = db.session.execute(select(
            func.coalesce(func.sum(case((Ticket.follow_up_due_at < now, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Ticket.follow_up_due_at >= now, 1), else_=0)), 0),
        ).where(Ticket.office_id == office_id, Ticket.first_follow_up_at.is_not(None) == false(),
                Ticket.follow_up_due_at < _end_of_local_day(zone, now), Ticket.status.in_(ACTIVE_VALUES))).one()
        overdue_count += overdue
        today_count += today
    yield GaugeMetricFamily("helpdesk_follow_ups_due_today",
                            "Active tickets awaiting their first follow-up, due later today (office's local day).",
                            value=today_count)
    yield GaugeMetricFamily("helpdesk_follow_ups_overdue",
                            "Active tickets awaiting their first follow-up whose deadline has passed.",
                            value=overdue_count)

    breaches = CounterMetricFamily("helpdesk_sla_breaches", "SLA breaches recorded (sla_breached events), by clock.",
                                   labels=["clock"])
    clock = TicketEvent.data["clock"].as_string()
    found = dict.fromkeys(SLA_CLOCKS, 0)
    found.update(db.session.execute(select(clock, func.count()).where(TicketEvent.kind == "sla_breached")
                                    .group_by(clock)).all())
    for name, count in found.items():
        breaches.add_metric([name or "unknown"], count)
    yield breaches


def _end_of_local_day(zone: str, now: datetime) -> datetime:
    tz = ZoneInfo(zone)
    return as_utc(datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(), tz))


def _outbox_metrics(now: datetime) -> Iterable[Metric]:
    # Only the statuses of messages not delivered are counted by channel: they are few and ix_outbox_due finds them.
    # Sent messages are most of the table and no index holds their channel, so counting them by channel would read
    # every message body; their total comes from the index alone.
    messages = GaugeMetricFamily("helpdesk_outbox_messages",
                                 "Outbox messages not delivered, by channel and status (queued, sending, failed).",
                                 labels=["channel", "status"])
    undelivered = tuple(status for status in OUTBOX_STATUSES if status != "sent")
    counts = {(channel, status): 0 for channel in OUTBOX_CHANNELS for status in undelivered}
    counts.update({(channel, status): count for channel, status, count in db.session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(undelivered))
        .group_by(OutboxMessage.channel, OutboxMessage.status))})
    for (channel, status), count in sorted(counts.items()):
        messages.add_metric([channel, status], count)
    yield messages
    sent = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent"))
    yield CounterMetricFamily("helpdesk_outbox_sent", "Outbox messages delivered, every channel.", value=sent or 0)

    oldest = GaugeMetricFamily(
        "helpdesk_outbox_oldest_queued_seconds",
        "Seconds the oldest message waiting to go has been due, by channel (0: none; held-for-later not counted).",
        labels=["channel"])
    waiting = outbox_waiting(now)
    for channel in sorted(set(OUTBOX_CHANNELS) | set(waiting)):
        since = waiting[channel][1] if channel in waiting else None
        oldest.add_metric([channel], max(0.0, (now - since).total_seconds()) if since is not None else 0.0)
    yield oldest


def _mail_metrics(now: datetime) -> Iterable[Metric]:
    from channels.email.poller import mailbox_configs

    lag = GaugeMetricFamily("helpdesk_mail_poll_lag_seconds",
                            "Seconds since each configured mailbox was last read successfully.", labels=["mailbox"])
    failures = GaugeMetricFamily("helpdesk_mail_poll_failures", "Consecutive failed polls of each mailbox.",
                                 labels=["mailbox"])
    names = [mailbox.name for mailbox in mailbox_configs(current_app.config)]
    if names:
        for row in db.session.scalars(select(Mailbox).where(Mailbox.name.in_(names)).order_by(Mailbox.name)):
            since = row.last_success_at or row.created_at  # never read: lagging since the poller first tried
            lag.add_metric([row.name], max(0.0, (now - since).total_seconds()))
            failures.add_metric([row.name], row.failures)
    yield lag
    yield failures


def _job_metrics() -> Iterable[Metric]:
    duration = GaugeMetricFamily("helpdesk_job_last_duration_seconds", "Duration of each job's last finished run.",
                                 labels=["job"])
    success = GaugeMetricFamily("helpdesk_job_last_success_timestamp_seconds",
                                "When each job's last run finished, if it succeeded (Unix time).", labels=["job"])
    failed = GaugeMetricFamily("helpdesk_job_last_run_failed", "1 when each job's last finished run failed.",
                               labels=["job"])
    runs = CounterMetricFamily("helpdesk_job_runs", "Runs of each job started, over every process.", labels=["job"])
    for record in db.session.scalars(select(JobRun).order_by(JobRun.name)):
        started, finished = record.last_started_at, record.last_finished_at
        if started is not None and finished is not None and finished >= started:
            duration.add_metric([record.name], (finished - started).total_seconds())
        if finished is not None and record.last_status == "ok":
            success.add_metric([record.name], finished.timestamp())
        if record.last_status is not None:
            failed.add_metric([record.name], 1 if record.last_status == "failed" else 0)
        runs.add_metric([record.name], record.runs or 0)
    yield from (duration, success, failed, runs)
