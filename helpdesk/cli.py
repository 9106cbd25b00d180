"""The ``helpdesk`` command (DESIGN.md §7): a Flask CLI group around the app factory."""
from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import click
from apscheduler.schedulers.base import BaseScheduler
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from . import MIGRATIONS_DIR, audit, create_app
from .cli_calendar import calendar_group
from .cli_retention import retention_group
from .extensions import db
from .models import DEFAULT_OFFICE_HOURS, Office, Staff
from .staff import create_staff
from .vocab import StaffRole


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False, add_default_commands=False,
             load_dotenv=False)
def cli() -> None:
    """LPSE Helpdesk: tickets, SLA clock and escalation for an LPSE helpdesk."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="helpdesk")


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database and make sure an office and an admin exist."""
    upgrade(directory=str(MIGRATIONS_DIR))
    office = ensure_default_office()
    click.echo(f"Database ready: {current_app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}")
    if db.session.scalar(select(Staff).where(Staff.role == StaffRole.ADMIN.value).limit(1)) is not None:
        return
    email = os.environ.get("HELPDESK_ADMIN_EMAIL")
    password = os.environ.get("HELPDESK_ADMIN_PASSWORD")
    if not (email and password) and sys.stdin.isatty():
        email = click.prompt("Admin email")
        password = click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    if not (email and password):
        click.echo("No admin yet. Set HELPDESK_ADMIN_EMAIL and HELPDESK_ADMIN_PASSWORD and run `helpdesk init` "
                   "again, or run it at a terminal to be asked (`helpdesk demo` creates a demo admin).")
        return
    admin = create_staff(office=office, email=email, name="Administrator", role=StaffRole.ADMIN.value,
                         password=password)
    audit.record("staff.created", target=admin, actor_label=cli_actor(), email=admin.email, role=admin.role)
    db.session.commit()
    click.echo(f"Admin {email} created.")


def cli_actor() -> str:
    """The audit log's actor for a command run at a terminal: ``cli:<operating-system user>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return f"cli:uid {os.getuid()}" if hasattr(os, "getuid") else "cli"


def ensure_default_office() -> Office:
    """The first office, created from the DEFAULT_OFFICE_* settings when the database has none."""
    office = db.session.scalar(select(Office).order_by(Office.id).limit(1))
    if office is None:
        config = current_app.config
        office = Office(code=config["DEFAULT_OFFICE_PREFIX"].lower(), name=config["DEFAULT_OFFICE_NAME"],
                        ticket_prefix=config["DEFAULT_OFFICE_PREFIX"].upper(),
                        timezone=config["DEFAULT_OFFICE_TIMEZONE"], hours=dict(DEFAULT_OFFICE_HOURS))
        db.session.add(office)
        db.session.commit()
        click.echo(f"Office {office.name} ({office.ticket_prefix}) created.")
    return office


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-jobs", is_flag=True, help="web only: the background jobs run in `helpdesk worker` processes")
@with_appcontext
def serve_command(host: str, port: int, threads: int, no_jobs: bool) -> None:
    """Serve the web application with waitress, and run the background jobs in-process (unless --no-jobs)."""
    from waitress import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    jobs = None
    if not no_jobs:
        jobs = _start_jobs(app, blocking=False)
    click.echo(f"LPSE Helpdesk on http://{host}:{port}/")
    try:
        # Waitress drops X-Forwarded-* headers unless told otherwise; behind a trusted proxy, ProxyFix reads them.
        behind_proxy = int(app.config["TRUSTED_PROXIES"]) > 0
        serve(app, host=host, port=port, threads=threads, ident="lpse-helpdesk",
              clear_untrusted_proxy_headers=not behind_proxy)
    finally:
        if jobs is not None and jobs.running:
            jobs.shutdown(wait=False)


@cli.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the background jobs only, no web server, until SIGTERM or Ctrl+C (then let running jobs finish)."""
    import signal

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    jobs = _start_jobs(app, blocking=True)

    def stop(signum: int, _frame: object) -> None:
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, signal.SIG_DFL)  # a second signal ends the process at once
        raise _StopWorker(signal.Signals(signum).name)

    try:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo("Worker running; SIGTERM or Ctrl+C stops it.")
        jobs.start()
    except _StopWorker as exc:
        click.echo(f"{exc}: waiting for running jobs to finish.")
        if jobs.running:
            jobs.shutdown(wait=True)
    click.echo("Worker stopped.")


class _StopWorker(Exception):
    """Raised in the worker's main thread by its signal handler, to leave the blocking scheduler."""


def _start_jobs(app: Flask, *, blocking: bool) -> BaseScheduler:
    """Start (or, blocking, prepare) the scheduler and print what runs; a bad JOB_INTERVALS is a clear error."""
    from .scheduler import start_scheduler

    try:
        jobs, lines = start_scheduler(app, blocking=blocking)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)
    return jobs


@cli.group("jobs")
def jobs_group() -> None:
    """The background jobs: their last runs, and running one now."""


@jobs_group.command("list")
@with_appcontext
def jobs_list_command() -> None:
    """One line per job (and per-mailbox lock): name, last start, status, holder and run count."""
    from .scheduler import available_jobs, job_records
    from .timeutil import utcnow

    records = job_records()
    names = sorted({job.name for job in available_jobs(current_app.config)} | set(records))
    now = utcnow()
    click.echo(f"{'NAME':<24} {'LAST STARTED (UTC)':<20} {'STATUS':<8} {'RUNS':>5}  HOLDER")
    for name in names:
        row = records.get(name)
        started = row.last_started_at.strftime("%Y-%m-%d %H:%M:%S") if row and row.last_started_at else "never"
        status = (row.last_status or "-") if row else "-"
        if row and row.lease_until and row.lease_until > now:
            status = "running"
        click.echo(f"{name:<24} {started:<20} {status:<8} {row.runs if row else 0:>5}  "
                   f"{(row.holder or '-') if row else '-'}")


@jobs_group.command("run")
@click.argument("name")
@with_appcontext
def jobs_run_command(name: str) -> None:
    """Run job NAME once now (under its lock, recorded like a scheduled run) and print its summary."""
    _run_job_or_exit(name)


def _run_job_or_exit(name: str, now: datetime | None = None) -> None:
    """run_job, printing its summary; any failure goes to stderr with exit status 1."""
    from .errors import HelpdeskError
    from .scheduler import run_job

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        click.echo(run_job(app, name, now=now))
    except HelpdeskError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - any job error: recorded in job_run, its traceback logged
        click.echo(f"Error: {name} failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


@cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Fill an empty database with a realistic office, staff, requesters and tickets."""
    from .demo import DemoNotEmpty, fill_demo

    try:
        summary = fill_demo()
    except DemoNotEmpty as exc:
        click.echo(f"Demo data not loaded: {exc}")
        return
    db.session.commit()
    click.echo(summary)


@cli.command("backup")
@click.argument("dest", type=click.Path())
@with_appcontext
def backup_command(dest: str) -> None:
    """Write one archive of the database and every blob to DEST: a directory, or a .tar.gz or .tar file name.

    Prints the archive's path on the first line, then its size and what it holds.
    """
    from .backup import BackupError, create_backup

    try:
        result = create_backup(dest)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record("backup.created", target_type="backup", target_id=result.path.name, actor_label=cli_actor(),
                 size=result.size, backend=result.backend, revision=result.revision)
    db.session.commit()
    click.echo(str(result.path))
    click.echo(result.line())


@cli.command("restore")
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace the data of an instance that is not empty.")
@with_appcontext
def restore_command(src: str, force: bool) -> None:
    """Check the backup archive SRC completely, then restore it into this empty instance and upgrade its schema.

    A damaged archive, another database backend or (without --force) an instance holding data is refused
    before anything changes. Stop the server and the workers first.
    """
    from .backup import restore_backup
    from .errors import HelpdeskError

    try:
        result = restore_backup(src, force=force)
    except HelpdeskError as exc:
        raise click.ClickException(str(exc)) from None
    # Written into the restored database: its log then says when and from what it was restored.
    audit.record("backup.restored", target_type="backup", target_id=result.source.name, actor_label=cli_actor(),
                 made=result.created_at, backend=result.backend, schema={"old": result.revision_restored,
                                                                         "new": result.revision_now}, force=force)
    db.session.commit()
    click.echo(result.line())


@cli.group("sla")
def sla_group() -> None:
    """The follow-up clock."""


@sla_group.command("due")
@click.argument("received")
@click.option("--office", "office_code", help="office code (default: the first office)")
@click.option("--tz", "zone", help="apply the office's calendar in this IANA time zone")
@with_appcontext
def sla_due_command(received: str, office_code: str | None, zone: str | None) -> None:
    """Print the follow-up deadline for RECEIVED (YYYY-MM-DDTHH:MM, the office's local time)."""
    from escalation.calendar import CalendarError, WorkingCalendar

    from .calendars import build_calendar, calendar_for
    from .settings import DEFAULTS, get_setting

    try:
        naive = datetime.fromisoformat(received)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DDTHH:MM", param_hint="RECEIVED") from None
    if naive.tzinfo is not None:
        raise click.BadParameter("give the local time without an offset", param_hint="RECEIVED")
    days = DEFAULTS["sla.follow_up_working_days"]
    try:
        query = select(Office).order_by(Office.id).limit(1)
        if office_code:
            query = select(Office).where(Office.code == office_code)
        office = db.session.scalar(query)
        if office_code and office is None:
            raise click.ClickException(f"no office with code {office_code!r}")
        days = get_setting("sla.follow_up_working_days")
    except (OperationalError, ProgrammingError):
        db.session.rollback()
        if office_code:
            raise click.ClickException("the database is not initialised; run `helpdesk init`") from None
        office = None  # no database yet: the default office's calendar
    try:
        if office is None:
            calendar = WorkingCalendar(tz=zone or current_app.config["DEFAULT_OFFICE_TIMEZONE"],
                                       hours=DEFAULT_OFFICE_HOURS)
        else:
            calendar = build_calendar(office, tz=zone) if zone else calendar_for(office)
        due = calendar.follow_up_due(naive.replace(tzinfo=calendar.tz), working_days=int(days))
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(due.isoformat(timespec="seconds"))


@sla_group.command("sweep")
@click.option("--now", "now_text", metavar="ISO8601", help="the sweep's clock, with an offset (default: now)")
@with_appcontext
def sla_sweep_command(now_text: str | None) -> None:
    """Run the SLA checks now (the sla-sweep job, under its lock) and print what they did."""
    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("expected ISO 8601, e.g. 2026-11-24T10:00+07:00", param_hint="--now") from None
        if now.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-11-24T10:00+07:00", param_hint="--now")
    _run_job_or_exit("sla-sweep", now)


@cli.group("staff")
def staff_group() -> None:
    """Staff accounts."""


@staff_group.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), default=StaffRole.HELPDESK.value)
@click.password_option()
@with_appcontext
def staff_add_command(email: str, name: str, role: str, password: str) -> None:
    """Add an officer to the first office."""
    staff = create_staff(office=ensure_default_office(), email=email, name=name, role=role, password=password)
    audit.record("staff.created", target=staff, actor_label=cli_actor(), email=staff.email, role=staff.role)
    db.session.commit()
    click.echo(f"{email} added as {role}.")


@cli.group("mail")
def mail_group() -> None:
    """The email channel: IMAP intake, imports, quarantine and the outbox."""


@mail_group.command("poll")
@click.option("--once", is_flag=True, help="take what is there now and exit")
@with_appcontext
def mail_poll_command(once: bool) -> None:
    """Poll the configured IMAP mailboxes (IDLE when offered), until interrupted."""
    import signal
    import threading

    from channels.email.imap import ImapError
    from channels.email.poller import mailbox_configs, poll_once, run

    mailboxes = mailbox_configs(current_app.config)
    if not mailboxes:
        raise click.ClickException("no mailbox configured: set HELPDESK_IMAP_HOST, HELPDESK_IMAP_USER and "
                                   "HELPDESK_IMAP_PASSWORD (or MAILBOXES in instance/helpdesk.cfg)")
    if once:
        failed = False
        for mailbox in mailboxes:
            try:
                click.echo(poll_once(mailbox).line())
            except ImapError as exc:
                failed = True
                click.echo(f"{mailbox.name}: {exc}", err=True)
        if failed:
            sys.exit(1)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=run, args=(app, mailbox, stop), name=f"mail-poll-{mailbox.name}")
               for mailbox in mailboxes]
    for thread in threads:
        thread.start()
    click.echo(f"Polling {', '.join(m.name for m in mailboxes)}; Ctrl+C stops.")
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        stop.set()
    for thread in threads:
        thread.join()


@mail_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--office", "office_code", help="office code (default: the first office)")
@with_appcontext
def mail_import_command(files: tuple[str, ...], office_code: str | None) -> None:
    """Ingest raw .eml files exactly as if they came from IMAP (receipt time: the file's modification time).

    Prints one line per file: the ticket reference, duplicate, ignored: REASON or quarantined: REASON.
    """
    from pathlib import Path

    from channels.email.intake import ingest

    from .blobs import sync_pending

    office = _office_or_first(office_code)
    try:
        for name in files:
            path = Path(name)
            received = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            result = ingest(path.read_bytes(), received_at=received, office=office, source="import")
            click.echo(f"{name}: {result.line()}")
    finally:
        sync_pending()


@mail_group.command("retry-quarantine")
@with_appcontext
def mail_retry_quarantine_command() -> None:
    """Parse and route every quarantined message again (after a fix); prints one line per message."""
    from channels.email.intake import retry_all_quarantined

    results = retry_all_quarantined()
    for inbound_id, result in results:
        click.echo(f"{inbound_id}: {result.line()}")
    if not results:
        click.echo("The quarantine is empty.")


@mail_group.command("deliver")
@with_appcontext
def mail_deliver_command() -> None:
    """Send the queued outbox mail now through the configured SMTP server."""
    from channels.email.smtp import make_sender

    from .delivery import deliver_due

    if not current_app.config.get("SMTP_HOST"):
        raise click.ClickException("no SMTP server configured (HELPDESK_SMTP_HOST): mail stays in the outbox")
    report = deliver_due(make_sender(current_app.config))
    click.echo(f"sent {report.sent}, retrying {report.retried}, failed {report.failed}")


@cli.group("sms")
def sms_group() -> None:
    """SMS and WhatsApp through Twilio."""


@sms_group.command("deliver")
@with_appcontext
def sms_deliver_command() -> None:
    """Send the queued SMS and WhatsApp messages now through Twilio."""
    from channels.twilio import make_text_sender, text_configured

    from .delivery import deliver_due
    from .outbox import TEXT_CHANNELS

    if not text_configured(current_app.config):
        raise click.ClickException("no Twilio account configured (HELPDESK_TWILIO_ACCOUNT_SID, "
                                   "HELPDESK_TWILIO_AUTH_TOKEN): messages stay in the outbox")
    send = make_text_sender(current_app.config)
    for channel in TEXT_CHANNELS:
        report = deliver_due(send, channel=channel)
        click.echo(f"{channel}: sent {report.sent}, retrying {report.retried}, failed {report.failed}")


def _office_or_first(code: str | None) -> Office:
    query = select(Office).where(Office.code == code) if code else select(Office).order_by(Office.id).limit(1)
    office = db.session.scalar(query)
    if office is None:
        raise click.ClickException(f"no office {code!r}" if code else "no office yet: run `helpdesk init`")
    return office


@cli.group("report")
def report_group() -> None:
    """Reports: the daily SLA report."""


@report_group.command("daily")
@click.option("--date", "day_text", help="the day reported, YYYY-MM-DD (default: the previous working day)")
@click.option("--format", "output", type=click.Choice(["html", "csv", "json"]), default="json", show_default=True)
@click.option("--office", "office_code", help="office code (default: the first office)")
@with_appcontext
def report_daily_command(day_text: str | None, output: str, office_code: str | None) -> None:
    """Print the daily SLA report (the archived one when that day was archived)."""
    import json
    from datetime import date

    from flask import render_template
    from flask_babel import force_locale

    from .report_archive import archived, report_csv
    from .reports import ReportError, daily_report

    office = _office_or_first(office_code)
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None
    stored = archived(office, "daily", day) if day else None
    try:
        data = stored.data if stored is not None else daily_report(office, day)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    if output == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
    elif output == "csv":
        click.echo(report_csv(data), nl=False)
    else:
        with force_locale("id"):
            click.echo(render_template("mail/daily-report/body.html", report=data, office=office))


@cli.group("faq")
def faq_group() -> None:
    """The FAQ knowledge base: import and export packs, match a question as intake would."""


@faq_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def faq_import_command(file: str) -> None:
    """Load a JSON pack of FAQ entries: new ids are created, known ones updated; a bad pack changes nothing."""
    from faq.packs import PackError, import_file

    try:
        result = import_file(file)
    except PackError as exc:
        db.session.rollback()
        click.echo(str(exc), err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{file}: {result.line()}")


@faq_group.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the pack to FILE instead of stdout.")
@with_appcontext
def faq_export_command(output: str | None) -> None:
    """Write every published FAQ entry (public or internal) as a JSON pack (to stdout, or to --output FILE)."""
    from faq.packs import export_pack

    text = export_pack()
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    click.echo(text, nl=False)


@faq_group.command("match")
@click.argument("text")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 50), help="How many matches to show.")
@click.option("--internal", is_flag=True, help="Include internal entries (as staff see them).")
@click.option("--json", "as_json", is_flag=True, help="Print {matches: [{key, question, score, confidence}], "
                                                     "auto_answer} as JSON.")
@with_appcontext
def faq_match_command(text: str, top: int, internal: bool, as_json: bool) -> None:
    """Show the best FAQ entries for TEXT and the entry intake would send automatically (DESIGN.md §7)."""
    import json

    from faq.match import match

    try:
        result = match(text, top=top, include_internal=internal)
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(f"the FAQ cannot be searched ({exc.orig}): run `helpdesk init`") from None
    if as_json:
        click.echo(json.dumps({"matches": [{"key": m.key, "question": m.question, "score": m.score,
                                            "confidence": m.confidence} for m in result.matches],
                               "auto_answer": result.auto_answer}, ensure_ascii=False))
        return
    for n, m in enumerate(result.matches, start=1):
        click.echo(f"{n}. {m.key}  score {m.score:.3f}  confidence {m.confidence:.2f}  {m.question}")
    if not result.matches:
        click.echo("No matching FAQ entry.")
    click.echo(f"auto answer: {result.auto_answer or 'none'}")


cli.add_command(calendar_group)
cli.add_command(retention_group)
