"""The SLA sweep (escalation/sweep.py) over the reference calendar, with a passed-in ``now``.

Reference ticket: received Tue 2026-11-24 10:00 WIB; follow-up due Wed 25 Nov 10:00; with the default 75 % share
the warning falls at Wed 07:52:30 (8.5 working hours of 8.5 h × 0.75 = 6 h 22.5 min after Tue 10:00).
"""
from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select

from escalation import sweep
from helpdesk import settings, tickets
from helpdesk.extensions import db
from helpdesk.models import OutboxMessage, Ticket, TicketEvent
from helpdesk.timeutil import as_utc

from .conftest import WIB


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=WIB)


def events(ticket: Ticket, kind: str) -> list[dict]:
    return [dict(data) for data in db.session.scalars(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
        .order_by(TicketEvent.id))]


def mail_to(address: str, template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == address, OutboxMessage.template == template).order_by(OutboxMessage.id)))


@pytest.fixture
def people(make_staff):
    return {"officer": make_staff(role="helpdesk", name="Rina Helpdesk"),
            "head": make_staff(role="kepala", name="Kepala LPSE")}


def test_warning_mark_is_the_share_of_the_follow_up_clock(make_ticket):
    ticket = make_ticket(received_at=at(24, 10))
    assert ticket.follow_up_due_at == as_utc(at(25, 10))
    assert ticket.follow_up_warn_at == as_utc(at(25, 7, 52, 30))


def test_warning_then_breach_each_exactly_once_across_repeated_sweeps(make_ticket, people):
    ticket = make_ticket(received_at=at(24, 10))
    tickets.assign(ticket, people["officer"], actor=None, at=at(24, 10, 5))
    db.session.commit()

    assert sweep.run_sweep(at(24, 15)).warned == 0
    first = sweep.run_sweep(at(25, 8))
    assert (first.warned, first.breached) == (1, 0)
    assert sweep.run_sweep(at(25, 8, 5)).warned == 0
    assert sweep.run_sweep(at(25, 10)).breached == 0  # at the deadline itself it is still kept
    second = sweep.run_sweep(at(25, 10, 1))
    assert (second.warned, second.breached) == (0, 1)
    for minute in (6, 11, 16):
        assert sweep.run_sweep(at(25, 10, minute)).breached == 0

    assert [e["clock"] for e in events(ticket, "sla_warned")] == ["follow_up"]
    breaches = events(ticket, "sla_breached")
    assert len(breaches) == 1 and breaches[0]["clock"] == "follow_up"
    assert breaches[0]["due"] == as_utc(at(25, 10)).isoformat() and breaches[0]["assignee_id"] == people["officer"].id
    warning = mail_to(people["officer"].email, "staff-sla-warning")
    assert len(warning) == 1 and ticket.ref in warning[0].body and "Rabu, 25 November 2026 pukul 10.00 WIB" in warning[0].body
    breach = mail_to(people["head"].email, "staff-sla-breach")
    assert len(breach) == 1 and ticket.ref in breach[0].body and breach[0].automatic
    assert not mail_to(people["head"].email, "staff-sla-warning")


def test_unassigned_ticket_warns_the_helpdesk_desk(make_ticket, make_staff, people):
    other = make_staff(role="helpdesk", name="Budi Helpdesk")
    make_staff(role="verifikator")
    ticket = make_ticket(received_at=at(24, 10))
    sweep.run_sweep(at(25, 9))
    assert len(mail_to(people["officer"].email, "staff-sla-warning")) == 1
    assert len(mail_to(other.email, "staff-sla-warning")) == 1
    assert ticket.sla_warned_at is not None


def test_a_ticket_followed_up_in_time_is_never_warned_or_breached(make_ticket, people):
    ticket = make_ticket(received_at=at(24, 10))
    tickets.add_message(ticket, direction="outbound", body="Silakan hapus cache peramban.", actor=people["officer"],
                        via="phone", at=at(24, 11))
    db.session.commit()
    for now in (at(25, 8), at(25, 11), at(30, 9)):
        report = sweep.run_sweep(now)
        assert (report.warned, report.breached) == (0, 0)
    assert not events(ticket, "sla_warned") and not events(ticket, "sla_breached")


def test_closed_or_resolved_tickets_are_left_alone(make_ticket, people):
    make_ticket(status="resolved", received_at=at(24, 10))
    make_ticket(status="closed", received_at=at(24, 10))
    report = sweep.run_sweep(at(27, 9))
    assert (report.warned, report.breached, report.resolution_breached) == (0, 0, 0)


def test_notices_found_after_hours_wait_for_the_next_opening(make_ticket, people):
    make_ticket(received_at=at(24, 10))
    sweep.run_sweep(at(25, 17))  # Wednesday evening: the breach is recorded now ...
    [notice] = mail_to(people["head"].email, "staff-sla-breach")
    assert notice.next_attempt_at == as_utc(at(26, 7, 30))  # ... the head hears of it at Thursday's opening

    settings.set_setting("notify.office_hours_only", False)
    db.session.commit()
    make_ticket(received_at=at(24, 11))
    sweep.run_sweep(at(25, 17, 30))
    later = mail_to(people["head"].email, "staff-sla-breach")[-1]
    assert later.next_attempt_at == as_utc(at(25, 17, 30))


def test_resolution_clock_pauses_while_waiting_on_the_requester(make_ticket, people):
    ticket = make_ticket(received_at=at(24, 10), priority="high")  # 1 working day to resolve
    assert (ticket.resolution_target_days, ticket.resolution_due_at) == (1, as_utc(at(25, 10)))
    tickets.add_message(ticket, direction="outbound", body="Mohon kirim tangkapan layar.", actor=people["officer"],
                        via="phone", at=at(24, 11))
    tickets.change_status(ticket, "waiting", actor=people["officer"], at=at(24, 11))
    db.session.commit()

    assert sweep.run_sweep(at(25, 11)).resolution_breached == 0  # past the first deadline, but paused

    tickets.add_message(ticket, direction="inbound", body="Ini tangkapan layarnya.", at=at(25, 11))
    db.session.commit()
    # Paused Tue 11:00-16:00 and Wed 07:30-11:00: 8.5 working hours pushed onto Wed 10:00 -> Thu 10:00.
    assert ticket.status == "open" and ticket.requester_seconds == 8.5 * 3600
    assert ticket.resolution_due_at == as_utc(at(26, 10))
    [resumed] = events(ticket, "clock_resumed")
    assert resumed["for"] == "requester" and resumed["seconds"] == 30600

    assert sweep.run_sweep(at(26, 10)).resolution_breached == 0
    assert sweep.run_sweep(at(26, 10, 1)).resolution_breached == 1
    assert sweep.run_sweep(at(26, 10, 6)).resolution_breached == 0
    assert [e["clock"] for e in events(ticket, "sla_breached")] == ["resolution"]


def test_lkpp_time_is_its_own_clock_and_counts_only_when_set(make_ticket, people):
    ticket = make_ticket(received_at=at(24, 10), priority="high")
    tickets.pause_clock(ticket, "lkpp", at=at(24, 12))
    db.session.commit()
    assert sweep.run_sweep(at(25, 12)).resolution_breached == 0

    settings.set_setting("sla.resolution_counts_lkpp_time", True)
    db.session.commit()
    assert sweep.run_sweep(at(25, 12, 5)).resolution_breached == 1
    tickets.resume_clock(ticket, at=at(25, 13), reason="lkpp")
    assert ticket.lkpp_seconds == (4 + 5.5) * 3600 and ticket.requester_seconds == 0


def test_reclassifying_moves_the_resolution_deadline(make_ticket, people):
    ticket = make_ticket(received_at=at(24, 10))
    assert ticket.resolution_target_days == 5 and ticket.resolution_due_at == as_utc(at(1, 10).replace(month=12))
    event = tickets.classify(ticket, actor=people["officer"], priority="medium")
    assert ticket.resolution_due_at == as_utc(at(27, 10)) and event.data["resolution_due_at"]


def test_breach_policy_flags_when_set(make_ticket, people):
    settings.set_setting("sla.breach_action", "flag")
    db.session.commit()
    ticket = make_ticket(received_at=at(24, 10))
    assert sweep.run_sweep(at(25, 11)).policy_applied == 1
    assert ticket.flag == "sla_breached"
    assert sweep.run_sweep(at(25, 12)).policy_applied == 0


def test_breach_alerts_by_sms_and_voice_keep_the_alert_hours(make_ticket, make_staff, office):
    head = make_staff(role="kepala")
    head.phone = "+6281234567890"
    settings.set_setting("alerts.sms", True)
    settings.set_setting("alerts.voice", True)
    db.session.commit()
    ticket = make_ticket(received_at=at(24, 10))
    report = sweep.run_sweep(at(25, 22))  # after the 07:00-21:00 alert window
    assert report.alerts == 2
    alerts = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "sla-breach-alert")))
    assert sorted(a.channel for a in alerts) == ["sms", "voice"]
    assert {a.recipient for a in alerts} == {"+6281234567890"}
    assert all(a.next_attempt_at == as_utc(at(26, 7)) for a in alerts)
    assert ticket.ref in alerts[0].body and "melewati batas waktu" in alerts[0].body


def test_resolved_tickets_close_after_five_working_days_without_reply(make_ticket):
    ticket = make_ticket(status="resolved", received_at=at(24, 10))  # resolved Tue 24 Nov 10:0x
    assert sweep.close_resolved(at(30, 10)) == 0  # Mon: 4 working days
    assert sweep.close_resolved(at(1, 11).replace(month=12)) == 1  # Tue 1 Dec: 5 working days
    assert ticket.status == "closed"
    [closing] = [e for e in events(ticket, "status_changed") if e["to"] == "closed"]
    assert closing["reason"] == "no_reply"
    assert sweep.close_resolved(at(2, 11).replace(month=12)) == 0


def test_concurrent_sweeps_record_each_breach_once(app, make_ticket):
    made = [make_ticket(received_at=at(24, 10)) for _ in range(40)]
    barrier, errors = threading.Barrier(2), []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                sweep.run_sweep(at(25, 11))
            except Exception as exc:  # noqa: BLE001 (surfaced below)
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = dict(db.session.execute(
        select(TicketEvent.ticket_id, func.count()).where(TicketEvent.kind == "sla_breached")
        .group_by(TicketEvent.ticket_id)).all())
    assert counts == {ticket.id: 1 for ticket in made}


def test_voice_alert_is_a_twilio_call_that_says_the_text_in_indonesian(app, make_ticket, make_staff):
    from channels.twilio import make_voice_sender
    from helpdesk.delivery import deliver_due

    from .servers.twilio_api import twilio_api_server

    head = make_staff(role="kepala")
    head.phone = "+6281234567890"
    settings.set_setting("alerts.voice", True)
    db.session.commit()
    make_ticket(received_at=at(24, 10))
    sweep.run_sweep(at(25, 11))
    with twilio_api_server() as api:
        app.config.update(api.config(TWILIO_PHONE_NUMBER="+62215550100"))
        api.fail_next(503)
        assert deliver_due(make_voice_sender(app.config), channel="voice", now=at(25, 11, 1)).retried == 1
        report = deliver_due(make_voice_sender(app.config), channel="voice", now=at(25, 12))
        assert report.sent == 1
        [_refused, call] = api.requests
    assert call.path.endswith("/Calls.json") and call.value("To") == "+6281234567890"
    assert call.value("From") == "+62215550100"
    twiml = call.value("Twiml")
    assert '<Say language="id-ID">' in twiml and "melewati batas waktu layanan" in twiml and "<Hangup" in twiml
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "voice"))
    assert message.status == "sent" and message.external_id.startswith("CA")


def test_ticket_page_shows_the_resolution_clock_and_the_marks(client, login, make_ticket, people):
    ticket = make_ticket(received_at=at(24, 10), priority="high")
    tickets.change_status(ticket, "waiting", actor=people["officer"], at=at(24, 11))
    db.session.commit()
    sweep.run_sweep(at(25, 11))
    login(client, people["officer"])
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'id="resolution-due"' in page and 'id="clock-paused"' in page and 'id="sla-breached"' in page
    assert 'data-event="sla_breached"' in page and 'data-event="clock_paused"' in page
    assert "Rabu, 25 November 2026 10.00 WIB" in page  # the breach's deadline, from the event
