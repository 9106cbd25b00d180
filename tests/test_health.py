"""Monitoring: /healthz names what is wrong with a 503, /metrics carries the right figures in Prometheus's format."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update

from helpdesk import create_app, ticket_marks
from helpdesk.extensions import db
from helpdesk.health import alembic_heads, check_health, metric_families
from helpdesk.models import JobRun, Mailbox, OutboxMessage, Ticket
from helpdesk.outbox import enqueue_email, enqueue_text
from helpdesk.scheduler import available_jobs
from helpdesk.states import Status
from helpdesk.timeutil import utcnow

from .conftest import RECEIVED_AT, WIB

SMTP = {"SMTP_HOST": "127.0.0.1"}  # the email sender counts as configured; nothing here connects to it


def record_runs(app, *, now: datetime | None = None, late: dict[str, timedelta] | None = None) -> None:
    """A job_run row for every job this configuration schedules, as if each had just run (``late``: that long ago)."""
    now = now or utcnow()
    for job in available_jobs(app.config):
        if job.off_reason(app.config) is not None:
            continue
        finished = now - (late or {}).get(job.name, timedelta(seconds=5))
        db.session.merge(JobRun(name=job.name, holder="web-1:42", last_started_at=finished - timedelta(seconds=2),
                                last_finished_at=finished, last_status="ok", runs=3))
    db.session.commit()


def queue_email(ticket: Ticket, *, ago: timedelta, to: str | None = None) -> OutboxMessage:
    """An automatic acknowledgement of ``ticket`` queued ``ago`` before now and due since (flushed, not committed)."""
    message = enqueue_email(to=to or ticket.requester.email, template="acknowledgement", ticket=ticket,
                            signature="Helpdesk LPSE Uji", created_at=utcnow() - ago)
    message.next_attempt_at = message.created_at
    return message


def queue_sms(ticket: Ticket, *, ago: timedelta) -> OutboxMessage:
    """An SMS with the ticket number queued ``ago`` before now and due since (flushed, not committed)."""
    message = enqueue_text(channel="sms", to="+6281234567890", template="ticket-number", ticket=ticket,
                           created_at=utcnow() - ago)
    message.next_attempt_at = message.created_at
    return message


def health_of(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_json
    return response.status_code, response.get_json()


def failing(body: dict) -> set[str]:
    return {name for name, check in body["checks"].items() if not check["ok"]}


# -- /healthz --------------------------------------------------------------------------------------------------

def test_a_healthy_instance_answers_200_with_every_check(app, client, office):
    record_runs(app)
    status, body = health_of(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "mail", "outbox", "scheduler"}
    assert body["checks"]["mail"]["detail"] == "no mailbox configured"
    assert body["checks"]["outbox"]["detail"] == "nothing waiting"
    assert body["checks"]["database"]["detail"].startswith("reachable, schema at ")


def test_health_needs_no_login_and_shows_no_personal_data(app, client, office, make_ticket, make_requester):
    record_runs(app)
    requester = make_requester(name="Budi Santoso", email="budi@penyedia.example.co.id")
    ticket = make_ticket(requester=requester)
    queue_email(ticket, ago=timedelta(hours=5))
    db.session.commit()
    for path in ("/healthz", "/metrics"):
        page = client.get(path).get_data(as_text=True)
        assert "budi" not in page.lower() and "Budi" not in page and ticket.ref not in page, path


def test_a_stale_mailbox_fails_the_mail_check(app, client, office):
    app.config.update(IMAP_HOST="imap.lpse-uji.example.go.id", IMAP_PASSWORD="rahasia-imap")
    record_runs(app)  # mail-poll included: the scheduler runs, the mailbox does not answer
    now = utcnow()
    mailbox = Mailbox(name="default", office_id=office.id, created_at=now - timedelta(days=3),
                      last_attempt_at=now - timedelta(minutes=1), last_success_at=now - timedelta(minutes=90),
                      failures=7, last_error="LOGIN failed for helpdesk@lpse-uji.example.go.id")
    db.session.add(mailbox)
    db.session.commit()

    status, body = health_of(client)
    assert status == 503 and body["status"] == "fail"
    assert failing(body) == {"mail"}
    detail = body["checks"]["mail"]["detail"]
    assert detail.startswith("default: read 90 min ago, 7 failed attempt(s) since (limit 15 min)"), detail
    page = client.get("/healthz").get_data(as_text=True)
    assert "LOGIN failed" not in page and "rahasia" not in page and "helpdesk@" not in page

    mailbox.last_success_at, mailbox.failures = utcnow() - timedelta(minutes=3), 0
    db.session.commit()
    status, body = health_of(client)
    assert status == 200, body
    assert body["checks"]["mail"]["detail"] == "default: read 3 min ago"


def test_a_configured_mailbox_the_poller_never_tried_fails(app, client, office):
    app.config.update(IMAP_HOST="imap.lpse-uji.example.go.id")
    record_runs(app)
    status, body = health_of(client)
    assert status == 503
    assert body["checks"]["mail"] == {"ok": False, "detail": "default: never polled"}


def test_an_old_queued_message_fails_the_outbox_check(app, client, office, make_ticket):
    app.config.update(SMTP)
    record_runs(app)
    ticket = make_ticket(channel="email")
    queue_email(ticket, ago=timedelta(minutes=45))
    db.session.commit()
    status, body = health_of(client)
    assert status == 503
    assert failing(body) == {"outbox"}
    assert body["checks"]["outbox"]["detail"] == "email: 1 waiting, oldest due 45 min ago (limit 30 min)"


def test_a_message_retried_for_long_fails_even_while_its_next_attempt_is_ahead(app, client, office, make_ticket):
    app.config.update(SMTP)
    record_runs(app)
    ticket = make_ticket(channel="email")
    now = utcnow()
    message = queue_email(ticket, ago=timedelta(minutes=100))
    message.attempts, message.next_attempt_at = 6, now + timedelta(minutes=30)
    message.last_error = "421 try again later"
    db.session.commit()
    status, body = health_of(client)
    assert status == 503 and failing(body) == {"outbox"}
    assert "oldest due 100 min ago" in body["checks"]["outbox"]["detail"]


def test_messages_held_for_office_hours_or_a_missing_sender_do_not_fail(app, client, office, make_ticket):
    app.config.update(SMTP)  # email goes out; no Twilio account, so SMS waits in the outbox on purpose
    record_runs(app)
    ticket = make_ticket(channel="email")
    now = utcnow()
    notice = queue_email(ticket, ago=timedelta(hours=15), to="kepala@lpse-uji.example.go.id")
    notice.next_attempt_at = now + timedelta(hours=1)  # the next opening: held on purpose
    queue_sms(ticket, ago=timedelta(days=2))
    failed = queue_email(ticket, ago=timedelta(hours=3), to="salah@contoh.invalid")
    failed.status, failed.attempts, failed.last_error = "failed", 1, "550 no such user"
    db.session.commit()
    status, body = health_of(client)
    assert status == 200, body
    assert body["checks"]["outbox"]["detail"] == (
        "sms: 1 kept until its sender is configured; 1 held for later (office hours); 1 failed in the last 24 h")


def test_a_stale_scheduler_fails(app, client, office):
    record_runs(app, late={"sla-sweep": timedelta(minutes=47)})
    status, body = health_of(client)
    assert status == 503 and failing(body) == {"scheduler"}
    assert body["checks"]["scheduler"]["detail"] == "sla-sweep last ran 47 min ago (limit 15 min)"


def test_a_hung_job_fails_the_scheduler_check(app, client, office):
    record_runs(app)
    now = utcnow()
    db.session.execute(update(JobRun).where(JobRun.name == "auto-close").values(
        last_started_at=now - timedelta(hours=4), last_finished_at=now - timedelta(hours=5),
        lease_until=now + timedelta(minutes=1)))
    db.session.commit()
    status, body = health_of(client)
    assert status == 503
    assert body["checks"]["scheduler"]["detail"] == "auto-close last ran 4 h ago (limit 3 h)"


def test_a_failed_last_run_is_named_but_the_scheduler_is_alive(app, client, office):
    record_runs(app)
    db.session.execute(update(JobRun).where(JobRun.name == "sla-sweep").values(last_status="failed",
                                                                              last_error="boom"))
    db.session.commit()
    status, body = health_of(client)
    assert status == 200
    assert body["checks"]["scheduler"]["detail"].endswith("; last run failed: sla-sweep")
    assert "boom" not in client.get("/healthz").get_data(as_text=True)


def test_no_scheduler_ever_ran_fails_unless_not_required(app, client, office):
    status, body = health_of(client)
    assert status == 503
    assert body["checks"]["scheduler"] == {"ok": False, "detail": "no scheduler has run on this database"}
    app.config["HEALTH_REQUIRE_SCHEDULER"] = False
    status, body = health_of(client)
    assert status == 200
    assert body["checks"]["scheduler"]["detail"] == "no scheduler has run on this database (not required)"


def test_a_schema_behind_the_code_fails_the_database_check(app, client, office):
    record_runs(app)
    (head,) = alembic_heads()
    db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    db.session.commit()
    try:
        status, body = health_of(client)
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()
    assert status == 503 and failing(body) == {"database"}
    assert body["checks"]["database"]["detail"] == f"schema at revision 0001, this code needs {head}: run helpdesk init"


def test_a_check_that_breaks_fails_alone_and_the_others_still_answer(app, client, office):
    record_runs(app)
    mailbox = {"name": "pengaduan", "host": "imap.example.go.id", "port": 993, "user": "u", "password": "rahasia"}
    app.config["MAILBOXES"] = [mailbox, mailbox]  # one name twice: the mailbox configuration cannot be read
    status, body = health_of(client)
    assert status == 503
    assert body["checks"]["mail"] == {"ok": False, "detail": "error: ValueError"}
    assert body["checks"]["scheduler"] == {"ok": False, "detail": "error: ValueError"}  # mail-poll's switch reads it
    assert body["checks"]["database"]["ok"] and body["checks"]["outbox"]["ok"]
    assert "rahasia" not in client.get("/healthz").get_data(as_text=True)


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/no-such-directory/helpdesk.sqlite3",
                                 "postgresql://postgres@127.0.0.1:1/helpdesk"], ids=["sqlite", "postgresql"])
def test_an_unreachable_database_answers_503_without_a_traceback(tmp_path: Path, url: str):
    broken = create_app({"TESTING": False, "SQLALCHEMY_DATABASE_URI": url.format(tmp=tmp_path),
                         "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "x"})
    try:
        client = broken.test_client()
        response = client.get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "fail"
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["detail"] == "unreachable: OperationalError"
        assert {name: check["detail"] for name, check in body["checks"].items() if name != "database"} == dict.fromkeys(
            ("mail", "outbox", "scheduler"), "not checked: the database is unreachable")
        assert "Traceback" not in response.get_data(as_text=True)
        metrics = client.get("/metrics")
        assert metrics.status_code == 503
        assert metrics.get_data(as_text=True) == "metrics unavailable: OperationalError\n"
    finally:
        with broken.app_context():
            for engine in db.engines.values():
                engine.dispose()


def test_check_health_takes_the_clock_it_is_given(app, office):
    """The checks are pure over the database and ``now``: an hour later the same runs are late."""
    now = utcnow()
    record_runs(app, now=now)
    assert check_health(now=now).ok
    later = check_health(now=now + timedelta(hours=1))
    assert [check.name for check in later.checks if not check.ok] == ["scheduler"]


# -- /metrics --------------------------------------------------------------------------------------------------

def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` from /metrics, parsed by prometheus_client's own parser."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_carry_the_figures_of_a_hand_built_state(app, client, office, make_ticket):
    app.config.update(SMTP, IMAP_HOST="imap.lpse-uji.example.go.id")
    breached = make_ticket(status=Status.NEW)
    ticket_marks.mark_follow_up_breaches(RECEIVED_AT + timedelta(days=2))  # one breach, recorded once
    db.session.commit()
    for status in (Status.NEW, Status.OPEN, Status.OPEN, Status.RESOLVED, Status.CLOSED):
        make_ticket(status=status)
    now = utcnow()
    for minutes in (5, 50):
        queue_email(breached, ago=timedelta(minutes=minutes))
    sent = queue_email(breached, ago=timedelta(hours=1))
    sent.status, sent.sent_at, sent.attempts = "sent", now - timedelta(minutes=59), 1
    failed = queue_sms(breached, ago=timedelta(minutes=20))
    failed.status, failed.attempts = "failed", 3
    db.session.add(Mailbox(name="default", office_id=office.id, last_success_at=now - timedelta(minutes=3)))
    db.session.add(JobRun(name="sla-sweep", last_started_at=now - timedelta(seconds=70),
                          last_finished_at=now - timedelta(seconds=58), last_status="ok", runs=12))
    db.session.add(JobRun(name="auto-close", last_started_at=now - timedelta(minutes=10),
                          last_finished_at=now - timedelta(minutes=9), last_status="failed", runs=2))
    db.session.commit()

    samples = scrape(client)
    assert samples["helpdesk_tickets"] == {
        (("status", "new"),): 2, (("status", "open"),): 2, (("status", "pending"),): 0,
        (("status", "escalated"),): 0, (("status", "waiting"),): 0, (("status", "resolved"),): 1,
        (("status", "closed"),): 1}
    # Every ticket was received on 24 November 2026, long before now: the four still awaiting a follow-up are late.
    assert samples["helpdesk_follow_ups_overdue"] == {(): 4}
    assert samples["helpdesk_follow_ups_due_today"] == {(): 0}
    assert samples["helpdesk_sla_breaches_total"] == {(("clock", "follow_up"),): 1, (("clock", "resolution"),): 0}
    outbox = samples["helpdesk_outbox_messages"]
    assert outbox[(("channel", "email"), ("status", "queued"))] == 2
    assert outbox[(("channel", "sms"), ("status", "failed"))] == 1
    assert outbox[(("channel", "webhook"), ("status", "queued"))] == 0
    assert len(outbox) == 15 and sum(outbox.values()) == 3  # five channels by queued, sending, failed
    assert samples["helpdesk_outbox_sent_total"] == {(): 1}
    oldest = samples["helpdesk_outbox_oldest_queued_seconds"]
    assert 50 * 60 <= oldest[(("channel", "email"),)] < 52 * 60
    assert oldest[(("channel", "sms"),)] == 0
    assert 180 <= samples["helpdesk_mail_poll_lag_seconds"][(("mailbox", "default"),)] < 300
    assert samples["helpdesk_mail_poll_failures"] == {(("mailbox", "default"),): 0}
    assert samples["helpdesk_job_last_duration_seconds"] == {(("job", "auto-close"),): 60.0,
                                                             (("job", "sla-sweep"),): 12.0}
    success = samples["helpdesk_job_last_success_timestamp_seconds"]
    assert set(success) == {(("job", "sla-sweep"),)}  # auto-close's last run failed: its last success is unknown
    assert success[(("job", "sla-sweep"),)] == pytest.approx((now - timedelta(seconds=58)).timestamp(), abs=1e-3)
    assert samples["helpdesk_job_last_run_failed"] == {(("job", "auto-close"),): 1, (("job", "sla-sweep"),): 0}
    assert samples["helpdesk_job_runs_total"] == {(("job", "auto-close"),): 2, (("job", "sla-sweep"),): 12}


def test_follow_ups_due_today_count_to_the_end_of_the_offices_local_day(app, office, make_ticket):
    make_ticket(received_at=RECEIVED_AT)  # due Wed 25 Nov 10:00 WIB
    make_ticket(received_at=datetime(2026, 11, 24, 15, 0, tzinfo=WIB))  # due Wed 25 Nov 15:00 WIB
    make_ticket(received_at=datetime(2026, 11, 25, 9, 0, tzinfo=WIB))  # due Thu 26 Nov 09:00 WIB
    make_ticket(received_at=RECEIVED_AT, status=Status.RESOLVED)  # followed up: counts nowhere

    def figures(now: datetime) -> tuple[float, float]:
        values = {family.name: family.samples[0].value for family in metric_families(now=now)
                  if family.name in ("helpdesk_follow_ups_due_today", "helpdesk_follow_ups_overdue")}
        return values["helpdesk_follow_ups_due_today"], values["helpdesk_follow_ups_overdue"]

    assert figures(datetime(2026, 11, 25, 8, 0, tzinfo=WIB)) == (2, 0)
    assert figures(datetime(2026, 11, 25, 10, 0, tzinfo=WIB)) == (2, 0)  # a deadline is kept up to its moment
    assert figures(datetime(2026, 11, 25, 12, 0, tzinfo=WIB)) == (1, 1)
    assert figures(datetime(2026, 11, 25, 23, 59, tzinfo=WIB)) == (0, 2)
    assert figures(datetime(2026, 11, 26, 0, 0, tzinfo=WIB)) == (1, 2)


def test_metrics_token_protects_the_metrics_when_set(app, client, office):
    assert client.get("/metrics").status_code == 200
    app.config["METRICS_TOKEN"] = "s3cret-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "helpdesk_tickets" not in refused.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic s3cret-token"}).status_code == 401
    assert "helpdesk_tickets" in scrape(client, Authorization="Bearer s3cret-token")
    assert client.get("/healthz").status_code in (200, 503)  # the health checks stay open to the load balancer

