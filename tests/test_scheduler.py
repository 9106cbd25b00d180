"""The background jobs (helpdesk/scheduler.py) and their database locks (helpdesk/joblocks.py).

Locks on both backends: a held lock refuses a second run, a finished run frees it, a killed process's lock is
freed at once on PostgreSQL and after its lease on SQLite, a failed run is recorded and the next one works.
Every registered job runs once with no server configured; mail polling keeps its backoff; the CLI commands, the
admin page, and two real ``helpdesk worker`` processes on PostgreSQL that take turns and never overlap.
"""
from __future__ import annotations

import itertools
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.cli import cli
from helpdesk.extensions import db
from helpdesk.joblocks import advisory_key, holder_id, job_lock
from helpdesk.models import JobRun, Mailbox, OutboxMessage
from helpdesk.outbox import enqueue_email
from helpdesk.scheduler import (
    JOBS,
    JobFailed,
    JobOff,
    UnknownJob,
    available_jobs,
    interval_seconds,
    job_intervals,
    run_job,
    start_scheduler,
)
from helpdesk.timeutil import utcnow

from .servers.processes import clean_env, free_port
from .servers.smtp import refuse_other_hosts

HELPDESK = Path(sys.executable).parent / "helpdesk"
TTL = timedelta(seconds=60)
ALWAYS_ON = ("outbox-webhook", "sla-sweep", "escalation-reminders", "auto-close", "daily-report", "retention")
NEED_A_SERVER = {"mail-poll": "HELPDESK_IMAP_HOST", "outbox-email": "HELPDESK_SMTP_HOST",
                 "outbox-sms": "HELPDESK_TWILIO_ACCOUNT_SID", "outbox-whatsapp": "HELPDESK_TWILIO_ACCOUNT_SID",
                 "outbox-voice": "HELPDESK_TWILIO_ACCOUNT_SID"}


def record(name: str) -> JobRun | None:
    """The job's ``job_run`` row as the database has it now."""
    db.session.rollback()
    return db.session.scalar(select(JobRun).where(JobRun.name == name).execution_options(populate_existing=True))


# -- the lock ---------------------------------------------------------------------------------------------

def test_a_held_lock_refuses_a_second_run_and_a_finished_run_frees_it(app):
    with job_lock("sample", ttl=TTL) as first:
        assert first
        first.summary = "first run"
        with job_lock("sample", ttl=TTL) as second:
            assert second is False
        running = record("sample")
        assert running.holder == holder_id() and running.lease_until is not None
    with job_lock("sample", ttl=TTL) as third:
        assert third
        third.summary = "third run"
    row = record("sample")
    assert row.runs == 2  # the refused attempt is not a run
    assert (row.last_status, row.last_error, row.last_summary) == ("ok", None, "third run")
    assert row.holder == holder_id() and row.lease_until is None
    assert row.last_started_at <= row.last_finished_at


def test_locks_of_different_jobs_are_independent(app):
    with job_lock("one", ttl=TTL) as one, job_lock("two", ttl=TTL) as two:
        assert one and two
    assert advisory_key("one") != advisory_key("two")
    assert advisory_key("one") == advisory_key("one")  # stable across processes: no salted hash()


def test_a_failing_run_is_recorded_and_the_next_run_works(app):
    with pytest.raises(RuntimeError, match="database of LKPP unreachable"), job_lock("fragile", ttl=TTL) as held:
        assert held
        raise RuntimeError("database of LKPP unreachable")
    row = record("fragile")
    assert row.last_status == "failed"
    assert row.last_error == "RuntimeError: database of LKPP unreachable"
    assert row.lease_until is None

    with job_lock("fragile", ttl=TTL) as held:
        assert held  # the failure let go of the lock
        held.summary = "recovered"
    row = record("fragile")
    assert (row.last_status, row.last_error, row.last_summary, row.runs) == ("ok", None, "recovered", 2)


HOLD_AND_WAIT = textwrap.dedent("""
    import sys, time
    from datetime import timedelta
    from helpdesk import create_app
    from helpdesk.joblocks import job_lock

    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "DATA_DIR": sys.argv[2], "SECRET_KEY": "x"})
    with app.app_context(), job_lock("held-by-a-dying-process", ttl=timedelta(seconds=60)) as held:
        assert held
        print("held", flush=True)
        time.sleep(120)
""")


def test_the_lock_of_a_killed_process_is_freed_at_once_on_postgresql_and_after_its_lease_on_sqlite(
        app, backend, database_url, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AND_WAIT, database_url, str(tmp_path / "holder")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stdout.read()
        with job_lock("held-by-a-dying-process", ttl=TTL) as attempt:
            assert attempt is False  # alive: held
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    name = "held-by-a-dying-process"
    assert record(name).holder.endswith(f":{holder.pid}")
    if backend == "postgresql":
        deadline = time.monotonic() + 10
        while True:  # the server ends the dead client's session (and its locks) as soon as it sees the socket close
            with job_lock(name, ttl=TTL) as attempt:
                if attempt:
                    break
            assert time.monotonic() < deadline, "the advisory lock outlived its process"
            time.sleep(0.05)
    else:
        with job_lock(name, ttl=TTL) as attempt:
            assert attempt is False  # the lease still runs
        with job_lock(name, ttl=TTL, now=utcnow() + TTL + timedelta(seconds=1)) as attempt:
            assert attempt  # the lease of the dead process has run out
    assert record(name).holder == holder_id()


@pytest.mark.backends("sqlite")  # leases are SQLite's lock; PostgreSQL holds an advisory lock for the whole run
def test_a_sqlite_run_that_outlives_its_lease_loses_it_and_does_not_overwrite_the_new_holders_record(
        app, backend, caplog):
    start = utcnow()
    with job_lock("slow", ttl=TTL, now=start) as first:
        assert first
        with job_lock("slow", ttl=TTL, now=start + TTL / 2) as second:
            assert second is False
        with job_lock("slow", ttl=TTL, now=start + TTL + timedelta(seconds=1)) as third:
            assert third
            third.summary = "took over"
    assert "lease ran out" in caplog.text
    row = record("slow")
    assert row.last_summary == "took over" and row.runs == 2


# -- the registry and the scheduler --------------------------------------------------------------------

def test_the_registry_has_the_jobs_of_the_issue():
    assert set(JOBS) >= {"mail-poll", "outbox-email", "outbox-sms", "outbox-whatsapp", "outbox-voice",
                         "outbox-webhook", "sla-sweep", "escalation-reminders", "auto-close", "daily-report"}


@pytest.mark.parametrize("name", ALWAYS_ON)
def test_each_job_runs_once_with_no_server_configured(app, office, name):
    summary = run_job(app, name)
    assert isinstance(summary, str) and summary
    row = record(name)
    assert (row.last_status, row.runs, row.last_summary) == ("ok", 1, summary)


@pytest.mark.parametrize("name", sorted(NEED_A_SERVER))
def test_a_job_whose_server_is_not_configured_is_off_and_says_which_setting_is_missing(app, name):
    with pytest.raises(JobOff, match=NEED_A_SERVER[name]):
        run_job(app, name)
    assert record(name) is None  # nothing ran


def test_an_unknown_job_is_refused_with_the_known_names(app):
    with pytest.raises(UnknownJob, match="sla-sweep"):
        run_job(app, "sla-seep")


def test_the_probe_exists_only_while_configured(app, tmp_path):
    assert "probe" not in [job.name for job in available_jobs(app.config)]
    with pytest.raises(UnknownJob):
        run_job(app, "probe")
    app.config["JOB_PROBE_FILE"] = str(tmp_path / "probe.log")
    assert run_job(app, "probe").startswith("probe: held the lock")
    [line] = (tmp_path / "probe.log").read_text().splitlines()
    holder, started, finished = line.split()
    assert holder == holder_id() and float(started) <= float(finished)


def test_intervals_default_and_can_be_overridden_in_seconds(app):
    assert interval_seconds(JOBS["sla-sweep"], app.config) == 300
    assert interval_seconds(JOBS["outbox-email"], app.config) == 30
    app.config["MAIL_POLL_SECONDS"] = 45
    assert interval_seconds(JOBS["mail-poll"], app.config) == 45
    app.config["JOB_INTERVALS"] = "sla-sweep=5, mail-poll=0.5"  # as HELPDESK_JOB_INTERVALS gives it
    assert job_intervals(app.config) == {"sla-sweep": 5.0, "mail-poll": 0.5}
    assert interval_seconds(JOBS["sla-sweep"], app.config) == 5
    app.config["JOB_INTERVALS"] = {"auto-close": 60}  # as instance/helpdesk.cfg gives it
    assert interval_seconds(JOBS["auto-close"], app.config) == 60


@pytest.mark.parametrize("value, message", [
    ("sla-swep=5", "no job called 'sla-swep'"),
    ("sla-sweep=0", "positive number"),
    ("sla-sweep=lima", "positive number"),
    ("sla-sweep", "expected name=seconds"),
])
def test_a_bad_interval_setting_is_refused_with_the_reason(app, value, message):
    app.config["JOB_INTERVALS"] = value
    with pytest.raises(ValueError, match=message):
        start_scheduler(app)


def test_the_scheduler_runs_each_configured_job_once_at_a_time(app):
    app.config.update(SMTP_HOST="127.0.0.1", JOB_INTERVALS="sla-sweep=7")
    scheduler, lines = start_scheduler(app, blocking=True)  # built, not started
    scheduled = {job.id: job for job in scheduler.get_jobs()}
    assert set(scheduled) == {"outbox-email", *ALWAYS_ON}
    for job in scheduled.values():
        assert job.max_instances == 1 and job.coalesce and job.misfire_grace_time is None
    assert scheduled["sla-sweep"].trigger.interval == timedelta(seconds=7)
    assert "sla-sweep every 7 s" in lines and "outbox-email every 30 s" in lines
    assert any(line.startswith("mail-poll off: no mailbox configured (HELPDESK_IMAP_HOST)") for line in lines)
    assert not scheduler.running


def test_the_background_scheduler_of_serve_is_started(app):
    scheduler, _lines = start_scheduler(app)
    try:
        assert scheduler.running
    finally:
        scheduler.shutdown(wait=True)


# -- the jobs themselves ---------------------------------------------------------------------------------

def test_the_outbox_email_job_delivers_queued_mail_through_smtp(app, smtp, make_ticket, make_staff, monkeypatch):
    refuse_other_hosts(monkeypatch)
    app.config.update(smtp.config(), MAIL_FROM="helpdesk@lpse-uji.example.go.id")
    ticket = make_ticket(channel="email")
    enqueue_email(to=ticket.requester.email, template="staff-reply", ticket=ticket, reply="Sudah kami perbaiki.",
                  officer=make_staff(name="Rina Wulandari"), signature="Helpdesk")
    db.session.commit()
    summary = run_job(app, "outbox-email")
    assert summary.startswith("email: ") and "0 failed" in summary
    db.session.rollback()
    statuses = db.session.scalars(select(OutboxMessage.status).where(OutboxMessage.channel == "email")).all()
    assert statuses and set(statuses) == {"sent"}
    assert [mail.message["To"] for mail in smtp.received] == [ticket.requester.email]


def test_mail_poll_reads_the_mailbox_into_tickets(mail_app, dovecot):
    message = EmailMessage()
    message["From"] = "Siti Rahmawati <siti@cvmaju.example.co.id>"
    message["To"] = "helpdesk@lpse-uji.example.go.id"
    message["Subject"] = "Lupa kata sandi SPSE"
    message["Message-ID"] = "<lupa-sandi-1@cvmaju.example.co.id>"
    message.set_content("Mohon bantuan reset kata sandi.")
    dovecot.append(message.as_bytes())
    summary = run_job(mail_app, "mail-poll")
    assert summary.startswith("default: 1 message(s)")
    assert record("mail-poll").last_status == "ok"
    assert record("mail-poll:default").last_summary == summary


def test_an_unreachable_mailbox_fails_the_run_backs_off_and_stays_warned_about(app, office):
    from channels.email.poller import stale_mailboxes

    app.config.update(IMAP_HOST="127.0.0.1", IMAP_PORT=free_port(), IMAP_SECURITY="plain", IMAP_USER="helpdesk",
                      IMAP_PASSWORD="x", MAIL_TIMEOUT_SECONDS=5, MAIL_POLL_SECONDS=60)
    for failures in (1, 2):
        with pytest.raises(JobFailed, match="default: "):
            run_job(app, "mail-poll")
        state = db.session.scalar(select(Mailbox).execution_options(populate_existing=True))
        assert state.failures == failures and state.last_error
    row = record("mail-poll")
    assert row.last_status == "failed" and row.last_error.startswith("JobFailed: default: ")

    # After the second failure it waits 60 s × 2 before trying again, then tries (and fails) again.
    with pytest.raises(JobFailed, match=r"default: 2 failed attempts \(.+\), next try in 1 s"):
        run_job(app, "mail-poll", now=state.last_attempt_at + timedelta(seconds=119))
    db.session.rollback()
    assert db.session.scalar(select(Mailbox.failures)) == 2  # it did not try
    with pytest.raises(JobFailed):
        run_job(app, "mail-poll", now=state.last_attempt_at + timedelta(seconds=121))
    db.session.rollback()
    assert db.session.scalar(select(Mailbox.failures)) == 3
    assert [m.name for m in stale_mailboxes(now=utcnow() + timedelta(minutes=16))] == ["default"]


# -- the command line ----------------------------------------------------------------------------------

def invoke(app, *args: str):
    return app.test_cli_runner().invoke(cli, list(args))


def test_jobs_run_prints_the_summary_and_jobs_list_shows_the_record(app, office):
    result = invoke(app, "jobs", "run", "auto-close")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == record("auto-close").last_summary
    listing = invoke(app, "jobs", "list")
    assert listing.exit_code == 0, listing.output
    [line] = [line for line in listing.stdout.splitlines() if line.startswith("auto-close ")]
    assert " ok " in line and holder_id() in line
    assert any(line.startswith("sla-sweep ") and " never " in line for line in listing.stdout.splitlines())


@pytest.mark.parametrize("args, message", [
    (("jobs", "run", "tidak-ada"), "no job called 'tidak-ada'"),
    (("jobs", "run", "outbox-email"), "outbox-email is off: no SMTP server configured"),
])
def test_jobs_run_fails_on_stderr_with_a_non_zero_exit(app, args, message):
    result = invoke(app, *args)
    assert result.exit_code == 1
    assert message in result.stderr and result.stdout == ""


def test_sla_sweep_runs_the_checks_at_the_given_time(app, office):
    result = invoke(app, "sla", "sweep", "--now", "2026-11-24T10:00+07:00")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == record("sla-sweep").last_summary


@pytest.mark.parametrize("value", ["24/11/2026", "2026-11-24T10:00"])
def test_sla_sweep_refuses_a_time_it_cannot_place(app, value):
    result = invoke(app, "sla", "sweep", "--now", value)
    assert result.exit_code == 2 and "--now" in result.stderr


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[str]:
    """``helpdesk serve`` on a free port; yields its output up to the address line, stops it afterwards."""
    environment = clean_env(HELPDESK_DATA_DIR=str(tmp_path / "data"), HELPDESK_SECRET_KEY="x")
    server = subprocess.Popen([str(HELPDESK), "serve", "--port", str(free_port()), *args], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("LPSE Helpdesk on"):
                break
        yield "".join(lines)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_runs_the_jobs_in_process(tmp_path):
    init = subprocess.run([str(HELPDESK), "init"], env=clean_env(HELPDESK_DATA_DIR=str(tmp_path / "data")),
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert init.returncode == 0, init.stderr
    with serving(tmp_path) as output:
        assert "sla-sweep every 300 s" in output and "outbox-email off: no SMTP server" in output
        deadline = time.monotonic() + 20
        with sqlite3.connect(tmp_path / "data" / "helpdesk.sqlite3") as connection:
            while not connection.execute("SELECT runs FROM job_run WHERE name = 'sla-sweep'").fetchall():
                assert time.monotonic() < deadline, "serve ran no job"
                time.sleep(0.1)


def test_serve_no_jobs_schedules_nothing(tmp_path):
    with serving(tmp_path, "--no-jobs") as output:
        assert output.startswith("LPSE Helpdesk on http://127.0.0.1:")
        assert len(output.splitlines()) == 1  # no job line, no "off" line


# -- two workers on PostgreSQL -------------------------------------------------------------------------

def read_probe(path: Path) -> list[tuple[str, float, float]]:
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        holder, started, finished = line.split()
        runs.append((holder, float(started), float(finished)))
    return runs


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_worker_lets_its_running_job_finish_and_exits_0_on_a_signal(sqlite_template, tmp_path, stop_signal):
    database = tmp_path / "helpdesk.sqlite3"
    shutil.copyfile(sqlite_template, database)
    probe = tmp_path / "probe.log"
    env = clean_env(DATABASE_URL=f"sqlite:///{database}", HELPDESK_DATA_DIR=str(tmp_path / "data"),
                    HELPDESK_SECRET_KEY="x", HELPDESK_JOB_PROBE_FILE=str(probe), HELPDESK_JOB_INTERVALS="probe=0.1")
    worker = subprocess.Popen([str(HELPDESK), "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not read_probe(probe):
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "the worker ran no probe"
            time.sleep(0.05)
        worker.send_signal(stop_signal)
        output = worker.communicate(timeout=20)[0]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, output
    assert f"{stop_signal.name}: waiting for running jobs to finish." in output and "Worker stopped." in output
    with sqlite3.connect(database) as connection:
        runs, status, lease = connection.execute(
            "SELECT runs, last_status, lease_until FROM job_run WHERE name = 'probe'").fetchone()
    assert (runs, status, lease) == (len(read_probe(probe)), "ok", None)  # no run was cut short


@pytest.mark.backends("postgresql")  # with HELPDESK_TEST_DATABASE_URL; the SQLite worker is tested alone above
def test_two_workers_take_turns_and_never_run_a_job_at_once(app, backend, database_url, tmp_path):
    probe = tmp_path / "probe.log"
    env = clean_env(DATABASE_URL=database_url, HELPDESK_DATA_DIR=str(tmp_path / "data"), HELPDESK_SECRET_KEY="x",
                    HELPDESK_JOB_PROBE_FILE=str(probe), HELPDESK_JOB_INTERVALS="probe=0.1")
    workers = [subprocess.Popen([str(HELPDESK), "worker"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=tmp_path) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while len({holder for holder, _, _ in read_probe(probe)}) < 2 or len(read_probe(probe)) < 10:
            for worker in workers:
                assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, f"both workers did not take turns: {read_probe(probe)}"
            time.sleep(0.1)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=20)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output
        assert "probe every 0.1 s" in output and "Worker stopped." in output, output

    runs = read_probe(probe)
    assert {holder.rsplit(":", 1)[1] for holder, _, _ in runs} == {str(worker.pid) for worker in workers}
    ordered = sorted(runs, key=lambda run: run[1])
    for (holder_a, _, finished), (holder_b, started, _) in itertools.pairwise(ordered):
        assert finished <= started, f"{holder_a} and {holder_b} ran the probe at the same time"
    row = record("probe")
    assert row.runs == len(runs) and row.last_status == "ok" and row.lease_until is None


@pytest.mark.backends("postgresql")
def test_two_workers_sweeping_one_database_record_each_breach_once(app, make_ticket, make_staff, database_url,
                                                                   tmp_path):
    from helpdesk.models import TicketEvent

    make_staff(role="kepala")
    made = [make_ticket() for _ in range(30)]  # received Tue 24 Nov 2026 10:00 WIB: long overdue by now
    env = clean_env(DATABASE_URL=database_url, HELPDESK_DATA_DIR=str(tmp_path / "data"), HELPDESK_SECRET_KEY="x",
                    HELPDESK_JOB_INTERVALS="sla-sweep=0.2")
    workers = [subprocess.Popen([str(HELPDESK), "worker"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=tmp_path) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while record("sla-sweep") is None or record("sla-sweep").runs < 6:
            for worker in workers:
                assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "the workers did not sweep"
            time.sleep(0.2)
            db.session.expire_all()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=20)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert all(worker.returncode == 0 for worker in workers), outputs
    db.session.expire_all()
    breaches = db.session.execute(select(TicketEvent.ticket_id, TicketEvent.data)
                                  .where(TicketEvent.kind == "sla_breached")).all()
    for clock in ("follow_up", "resolution"):  # long overdue: past the 5-working-day resolution target too
        assert sorted(ticket_id for ticket_id, data in breaches if data["clock"] == clock) == sorted(
            ticket.id for ticket in made)  # each ticket exactly once
    notices = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "staff-sla-breach")).all()
    assert len(notices) == 1 and all(ticket.ref in notices[0].body for ticket in made)


# -- the admin page ------------------------------------------------------------------------------------

def test_only_admins_see_the_jobs_page(client, login, make_staff):
    login(client, make_staff(role="helpdesk"))
    assert client.get("/admin/jobs/").status_code == 403
    assert client.post("/admin/jobs/sla-sweep/run").status_code == 403
    assert record("sla-sweep") is None


def test_the_jobs_page_lists_every_job_and_runs_one_now(app, client, login, make_staff):
    login(client, make_staff(role="admin"))
    page = client.get("/admin/jobs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in NEED_A_SERVER:
        assert f'data-job="{name}"' in html
    assert html.count('action="/admin/jobs/') == len(ALWAYS_ON)  # no button for a job that is off
    assert 'data-status="never"' in html

    response = client.post("/admin/jobs/auto-close/run", follow_redirects=True)
    html = response.get_data(as_text=True)
    row = record("auto-close")
    assert row.last_status == "ok" and row.last_summary in html
    assert 'data-status="ok"' in html and row.holder in html


def test_the_jobs_page_reports_a_job_that_is_off_or_unknown(client, login, make_staff):
    login(client, make_staff(role="admin"))
    response = client.post("/admin/jobs/outbox-email/run", follow_redirects=True)
    assert "outbox-email is off" in response.get_data(as_text=True)
    assert client.post("/admin/jobs/tidak-ada/run").status_code == 404


def test_the_run_button_needs_its_csrf_token(app, client, login, make_staff):
    login(client, make_staff(role="admin"))
    app.config["WTF_CSRF_ENABLED"] = True
    assert 'name="csrf_token"' in client.get("/admin/jobs/").get_data(as_text=True)
    assert client.post("/admin/jobs/auto-close/run").status_code == 400
    assert record("auto-close") is None
