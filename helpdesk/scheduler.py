"""The background jobs (DESIGN.md §3 "Jobs"): a registry, one run of a job, and the APScheduler that runs them all.

Each job is a function ``run(app, now=None) -> str`` returning a one-line summary. ``run_job`` executes it in an
app context of its own, under the job's database lock (helpdesk/joblocks.py), so that any number of processes
(``helpdesk serve`` with its in-process jobs, ``helpdesk worker``) can schedule the same jobs and a job never
runs twice at once; a run that finds the lock taken is skipped. The job's leftover work is committed when it
returns and rolled back when it raises; the run and its outcome are recorded in ``job_run``.

Intervals are the defaults below, overridden per job by JOB_INTERVALS (``HELPDESK_JOB_INTERVALS=
"sla-sweep=5,mail-poll=2"``, in seconds). Jobs whose service is not configured (no SMTP server, no Twilio
account, no mailbox) are not scheduled, and the start-up lines say why.
"""
from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .delivery import DeliveryReport, deliver_due
from .errors import HelpdeskError
from .extensions import db
from .joblocks import job_lock
from .models import JobRun, Mailbox
from .timeutil import utcnow

if TYPE_CHECKING:
    from channels.email.imap import MailboxConfig

log = logging.getLogger(__name__)

# How long a SQLite lease outlives a process that died mid-run (a live run renews it every third of this).
LEASE_TTL = timedelta(minutes=2)
OUTBOX_SECONDS = 30


class UnknownJob(HelpdeskError):
    """No job has the given name."""


class JobOff(HelpdeskError):
    """The job's service is not configured, so the job does not run; the message says which setting is missing."""


class JobFailed(HelpdeskError):
    """A job finished but part of its work failed (already logged); the message is its summary."""


Runner = Callable[[Flask, "datetime | None"], str]


@dataclass(frozen=True)
class Job:
    """A registered job: its name, what it does, how often it runs and when it is off."""

    name: str
    run: Runner
    every: float | str  # seconds, or the name of the configuration key holding them
    description: LazyString
    off_reason: Callable[[Mapping[str, Any]], str | None]  # None when the job can run under this configuration
    listed_when_off: bool = True  # False: a diagnostic job that exists only while configured

    def default_seconds(self, config: Mapping[str, Any]) -> float:
        """The interval before JOB_INTERVALS: the fixed default, or the configuration key's value."""
        return float(config[self.every]) if isinstance(self.every, str) else float(self.every)


JOBS: dict[str, Job] = {}


def job(name: str, *, every: float | str, description: LazyString,
        off: Callable[[Mapping[str, Any]], str | None] = lambda config: None,
        listed_when_off: bool = True) -> Callable[[Runner], Runner]:
    """Register the decorated ``run(app, now=None) -> str`` as job ``name``."""
    def register(run: Runner) -> Runner:
        if name in JOBS:
            raise ValueError(f"job {name!r} is registered twice")
        JOBS[name] = Job(name=name, run=run, every=every, description=description, off_reason=off,
                         listed_when_off=listed_when_off)
        return run
    return register


# -- the registry, for the page, the CLI and the scheduler -------------------------------------------------

def available_jobs(config: Mapping[str, Any]) -> list[Job]:
    """The jobs this configuration knows, in registration order (diagnostic jobs only while configured)."""
    return [job for job in JOBS.values() if job.listed_when_off or job.off_reason(config) is None]


def get_job(name: str, config: Mapping[str, Any]) -> Job:
    """The job called ``name``; raises UnknownJob."""
    for candidate in available_jobs(config):
        if candidate.name == name:
            return candidate
    known = ", ".join(job.name for job in available_jobs(config))
    raise UnknownJob(f"no job called {name!r} (jobs: {known})")


def job_intervals(config: Mapping[str, Any]) -> dict[str, float]:
    """JOB_INTERVALS as ``{name: seconds}``: a dict, or ``"name=seconds,..."`` text from the environment.

    Raises ValueError naming the bad entry: an unknown job, a value that is not a positive number.
    """
    raw = config.get("JOB_INTERVALS") or {}
    if isinstance(raw, str):
        pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"JOB_INTERVALS: expected name=seconds,name=seconds, not {raw!r}")
        raw = {name.strip(): value.strip() for name, value in pairs}
    intervals: dict[str, float] = {}
    for name, value in raw.items():
        if name not in JOBS:
            raise ValueError(f"JOB_INTERVALS: no job called {name!r} (jobs: {', '.join(JOBS)})")
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = 0.0
        if not seconds > 0:
            raise ValueError(f"JOB_INTERVALS: {name} needs a positive number of seconds, not {value!r}")
        intervals[name] = seconds
    return intervals


def interval_seconds(job: Job, config: Mapping[str, Any]) -> float:
    """How often ``job`` runs under this configuration, in seconds."""
    return job_intervals(config).get(job.name) or job.default_seconds(config)


def job_records() -> dict[str, JobRun]:
    """Every ``job_run`` row by name (per-mailbox locks included). Needs an app context."""
    return {row.name: row for row in db.session.scalars(select(JobRun).order_by(JobRun.name))}


# -- running --------------------------------------------------------------------------------------------

def run_job(app: Flask, name: str, now: datetime | None = None) -> str:
    """Run job ``name`` once now, under its lock, in an app context of its own; returns its summary line.

    A run that finds the lock taken is skipped and says so. Raises UnknownJob, JobOff when its service is not
    configured, and whatever the job raised (recorded as a failed run in ``job_run``). ``now`` is the job's
    clock (tests pass it); the lock always uses the real time.
    """
    job = get_job(name, app.config)
    reason = job.off_reason(app.config)
    if reason is not None:
        raise JobOff(f"{name} is off: {reason}")
    with app.app_context():
        try:
            with job_lock(name, ttl=LEASE_TTL) as held:
                if not held:
                    return f"{name}: skipped, running in another process"
                try:
                    held.summary = job.run(app, now)
                    db.session.commit()
                except BaseException:
                    db.session.rollback()  # before the failure is recorded: SQLite has one writer at a time
                    raise
                return held.summary
        finally:
            db.session.rollback()
            db.session.remove()


def run_scheduled(app: Flask, name: str) -> None:
    """One scheduled run: like run_job, but every failure is logged, never raised (the scheduler must go on)."""
    try:
        summary = run_job(app, name)
    except JobFailed as exc:
        log.warning("job %s: %s", name, exc)
    except Exception:
        log.exception("job %s failed", name)
    else:
        log.debug("job %s: %s", name, summary)


def start_scheduler(app: Flask, *, blocking: bool = False) -> tuple[BaseScheduler, list[str]]:
    """Schedule every job that can run under this configuration; returns the scheduler and lines for the console.

    ``blocking=False`` (``helpdesk serve``): a BackgroundScheduler, already started. ``blocking=True``
    (``helpdesk worker``): a BlockingScheduler, not started; its ``start()`` runs the jobs until shutdown.
    Every job runs first at once, then at its interval; a run still going when the next is due makes that one
    wait (one instance at a time, missed runs coalesced). Raises ValueError for a bad JOB_INTERVALS.
    """
    job_intervals(app.config)  # a typo in the intervals stops the start, with the reason
    scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_class(timezone="UTC")
    lines = []
    first = utcnow()
    for job in available_jobs(app.config):
        reason = job.off_reason(app.config)
        if reason is not None:
            lines.append(f"{job.name} off: {reason}")
            continue
        seconds = interval_seconds(job, app.config)
        scheduler.add_job(run_scheduled, "interval", seconds=seconds, args=[app, job.name], id=job.name,
                          name=job.name, next_run_time=first, max_instances=1, coalesce=True,
                          misfire_grace_time=None)
        lines.append(f"{job.name} every {seconds:g} s")
    if not blocking:
        scheduler.start()
    return scheduler, lines


# -- the jobs -------------------------------------------------------------------------------------------

def _no_mailbox(config: Mapping[str, Any]) -> str | None:
    from channels.email.poller import mailbox_configs

    return None if mailbox_configs(config) else "no mailbox configured (HELPDESK_IMAP_HOST): email intake is off"


def _no_smtp(config: Mapping[str, Any]) -> str | None:
    return None if config.get("SMTP_HOST") else (
        "no SMTP server configured (HELPDESK_SMTP_HOST): outbound mail stays in the outbox, readable at "
        "/admin/outbox")


def _no_twilio(config: Mapping[str, Any]) -> str | None:
    from channels.twilio import text_configured

    return None if text_configured(config) else (
        "no Twilio account configured (HELPDESK_TWILIO_ACCOUNT_SID, HELPDESK_TWILIO_AUTH_TOKEN): SMS, WhatsApp "
        "messages and alert calls stay in the outbox")


@job("mail-poll", every="MAIL_POLL_SECONDS", description=_l("Read new mail from the mailboxes"), off=_no_mailbox)
def mail_poll(app: Flask, now: datetime | None = None) -> str:
    """Poll each configured mailbox once, under a lock of its own; raises JobFailed while one of them fails.

    A mailbox that failed more than once waits before its next try, doubling each time (at most 15 minutes), as
    the IDLE pollers did; its failures stay recorded on its ``mailbox`` row for the header warning.
    """
    from channels.email.poller import mailbox_configs

    lines, failed = [], False
    for mailbox in mailbox_configs(app.config):
        try:
            line, healthy = _poll_mailbox(app, mailbox, now=now or utcnow())
        except Exception as exc:  # ImapError, a database outage, a bug: the other mailboxes still get read
            db.session.rollback()
            line, healthy = f"{mailbox.name}: {exc}", False
            if not _is_imap_error(exc):
                log.exception("mailbox %s: poll failed", mailbox.name)
                line = f"{mailbox.name}: {type(exc).__name__}: {exc}"
        lines.append(line)
        failed = failed or not healthy
    summary = "; ".join(lines)
    if failed:
        raise JobFailed(summary)
    return summary


def _poll_mailbox(app: Flask, mailbox: MailboxConfig, *, now: datetime) -> tuple[str, bool]:
    """One mailbox's poll under its lock ``mail-poll:<name>``, unless it is backing off; (line, healthy)."""
    from channels.email.poller import poll_once

    state = db.session.scalar(select(Mailbox).where(Mailbox.name == mailbox.name))
    wait = backoff_remaining(state, interval=interval_seconds(JOBS["mail-poll"], app.config), now=now)
    if state is not None and wait > 0:
        return (f"{mailbox.name}: {state.failures} failed attempts ({state.last_error}), next try in {wait:.0f} s",
                False)
    with job_lock(f"mail-poll:{mailbox.name}", ttl=LEASE_TTL) as held:
        if not held:
            return f"{mailbox.name}: being read by another process", True
        held.summary = poll_once(mailbox).line()
        return held.summary, True


def backoff_remaining(state: Mailbox | None, *, interval: float, now: datetime) -> float:
    """Seconds a mailbox still waits after repeated failures: interval × 2^(failures−1), at most 15 minutes.

    The first failure waits only for the next run, as the IDLE pollers retried after a few seconds.
    """
    from channels.email.poller import MAX_BACKOFF_SECONDS

    if state is None or state.failures < 2 or state.last_attempt_at is None:
        return 0.0
    delay = min(interval * 2 ** (state.failures - 1), MAX_BACKOFF_SECONDS)
    return max(0.0, (state.last_attempt_at + timedelta(seconds=delay) - now).total_seconds())


def _is_imap_error(exc: BaseException) -> bool:
    from channels.email.imap import ImapError

    return isinstance(exc, ImapError)


def _delivered(channel: str, report: DeliveryReport) -> str:
    return f"{channel}: {report.sent} sent, {report.retried} to retry, {report.failed} failed"


@job("outbox-email", every=OUTBOX_SECONDS, description=_l("Send queued email"), off=_no_smtp)
def outbox_email(app: Flask, now: datetime | None = None) -> str:
    """Deliver the due email through the configured SMTP server."""
    from channels.email.smtp import make_sender

    return _delivered("email", deliver_due(make_sender(app.config), now=now))


@job("outbox-sms", every=OUTBOX_SECONDS, description=_l("Send queued SMS"), off=_no_twilio)
def outbox_sms(app: Flask, now: datetime | None = None) -> str:
    """Deliver the due SMS through Twilio."""
    from channels.twilio import make_text_sender

    return _delivered("sms", deliver_due(make_text_sender(app.config), channel="sms", now=now))


@job("outbox-whatsapp", every=OUTBOX_SECONDS, description=_l("Send queued WhatsApp messages"), off=_no_twilio)
def outbox_whatsapp(app: Flask, now: datetime | None = None) -> str:
    """Deliver the due WhatsApp messages through Twilio."""
    from channels.twilio import make_text_sender

    return _delivered("whatsapp", deliver_due(make_text_sender(app.config), channel="whatsapp", now=now))


@job("outbox-voice", every=OUTBOX_SECONDS, description=_l("Place queued alert calls"), off=_no_twilio)
def outbox_voice(app: Flask, now: datetime | None = None) -> str:
    """Place the due alert calls through Twilio."""
    from channels.twilio import make_voice_sender

    return _delivered("voice", deliver_due(make_voice_sender(app.config), channel="voice", now=now))


@job("outbox-webhook", every=OUTBOX_SECONDS, description=_l("Send queued notifications to the LKPP gateway"))
def outbox_webhook(app: Flask, now: datetime | None = None) -> str:
    """Deliver the due webhook calls to the LKPP gateway."""
    from channels.lkpp_gateway import make_webhook_sender

    return _delivered("webhook", deliver_due(make_webhook_sender(app.config), channel="webhook", now=now))


@job("sla-sweep", every=5 * 60, description=_l("Check SLA deadlines: warnings, breaches and escalations"))
def sla_sweep(app: Flask, now: datetime | None = None) -> str:
    """Run the SLA checks (escalation/sweep.py)."""
    from escalation.sweep import run_sweep

    return run_sweep(now=now).line()


@job("escalation-reminders", every=15 * 60, description=_l("Remind escalation targets of unanswered escalations"))
def escalation_reminders(app: Flask, now: datetime | None = None) -> str:
    """Send the escalation reminders that are due (escalation/reminders.py)."""
    from escalation.reminders import send_due_reminders

    return f"{send_due_reminders(now=now)} reminder(s) sent"


@job("auto-close", every=60 * 60, description=_l("Close resolved tickets without a reply for the set working days"))
def auto_close(app: Flask, now: datetime | None = None) -> str:
    """Close the resolved tickets whose requester has not replied within the configured working days."""
    from escalation.sweep import close_resolved

    return f"{close_resolved(now=now)} resolved ticket(s) closed"


@job("daily-report", every=5 * 60,
     description=_l("Archive and send the daily SLA report after its time on working days"))
def daily_report(app: Flask, now: datetime | None = None) -> str:
    """Produce, archive and send each office's report of the previous working day, once, after its local time."""
    from .report_archive import run_daily_reports

    return f"{run_daily_reports(now=now)} daily report(s) sent"


def _no_backup_dir(config: Mapping[str, Any]) -> str | None:
    return None if config.get("BACKUP_DIR") else "no backup directory configured (HELPDESK_BACKUP_DIR)"


@job("backup", every="BACKUP_INTERVAL_SECONDS", off=_no_backup_dir,
     description=_l("Back up the database and the attachments, keeping the newest archives"))
def backup(app: Flask, now: datetime | None = None) -> str:
    """Write an archive to BACKUP_DIR when the newest is an interval old, and keep the newest BACKUP_KEEP."""
    from .backup import scheduled_backup

    return scheduled_backup(every=interval_seconds(JOBS["backup"], app.config), now=now)


@job("retention", every=24 * 60 * 60,
     description=_l("Delete identity documents and raw emails of tickets closed longer than the retention period"))
def retention(app: Flask, now: datetime | None = None) -> str:
    """Purge what the retention schedule (``retention.months``, ``retention.scope``) says is due; 0 months: off."""
    from .retention import purge

    return purge(now=now).line()


def _no_probe(config: Mapping[str, Any]) -> str | None:
    return None if config.get("JOB_PROBE_FILE") else "JOB_PROBE_FILE is not set"


@job("probe", every=1, description=_l("Lock check: record each run in JOB_PROBE_FILE"), off=_no_probe,
     listed_when_off=False)
def probe(app: Flask, now: datetime | None = None) -> str:
    """Hold the lock for a short random pause, then append ``holder start end`` to JOB_PROBE_FILE.

    A diagnostic, scheduled only while JOB_PROBE_FILE is set: with several workers on one database, the file
    shows whether two runs ever overlapped (they must not) and which processes took turns.
    """
    from .joblocks import holder_id

    started = time.time()
    time.sleep(random.uniform(0.05, 0.4))  # random, so that the processes' schedules do not fall into step
    finished = time.time()
    with open(app.config["JOB_PROBE_FILE"], "a", encoding="utf-8") as handle:
        handle.write(f"{holder_id()} {started:.6f} {finished:.6f}\n")
        handle.flush()
        os.fsync(handle.fileno())
    return f"probe: held the lock for {finished - started:.2f} s"
