"""The Twilio channel (channels/twilio.py, helpdesk/web/twilio.py): calls, SMS and WhatsApp in, texts out.

Webhooks are signed with the real ``twilio.request_validator.RequestValidator`` and posted through the test client;
the TwiML answers are parsed with ``xml.etree``. Outbound messages go through the real ``twilio`` REST client to a
local stand-in of Twilio's API (tests/servers/twilio_api.py) that records each request. The webhooks' clock is
fixed (``clock``) so "office hours" never depends on when the tests run.
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

import helpdesk.web.twilio as twilio_web
from channels.twilio import make_text_sender, receipt_digest
from helpdesk import tickets
from helpdesk.cli import cli
from helpdesk.delivery import deliver_due
from helpdesk.extensions import db
from helpdesk.models import CallLog, OutboxMessage, Requester, Ticket, TicketEvent, WebhookReceipt, count_rows
from helpdesk.settings import set_setting
from helpdesk.timeutil import utcnow

from .conftest import WIB
from .servers.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioApiServer, twilio_api_server

BASE = "http://localhost"
PUBLIC = "https://helpdesk.lpse-uji.example.go.id"
OFFICE_NUMBER = "+62215550100"
WHATSAPP_NUMBER = "+14155238886"
DESKS = ["+62215550111", "+6281100001111"]
CALLER = "+6281234567890"  # a mobile number
LANDLINE = "+62215557777"
# Tuesday 24 November 2026: 10:00 WIB is during office hours, 20:00 WIB is after closing.
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
CLOSED = datetime(2026, 11, 24, 20, 0, tzinfo=WIB)


# -- fixtures and helpers ---------------------------------------------------------------------------------

class Clock:
    """The webhooks' "now", set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(OPEN)
    monkeypatch.setattr(twilio_web, "utcnow", clock)
    return clock


@pytest.fixture
def twilio_app(app, office, clock):
    """The app with a Twilio account, the office's number and two desk phones."""
    app.config.update(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                      TWILIO_PHONE_NUMBER=OFFICE_NUMBER, TWILIO_WHATSAPP_NUMBER=WHATSAPP_NUMBER)
    office.phone = OFFICE_NUMBER
    set_setting("phone.desk_numbers", DESKS)
    db.session.commit()
    return app


@pytest.fixture
def api() -> Iterator[TwilioApiServer]:
    with twilio_api_server() as server:
        yield server


@pytest.fixture
def sender(twilio_app, api):
    """The SMS/WhatsApp sender the delivery job would use, pointed at the stand-in."""
    twilio_app.config.update(api.config(TWILIO_PHONE_NUMBER=OFFICE_NUMBER, TWILIO_WHATSAPP_NUMBER=WHATSAPP_NUMBER))
    return make_text_sender(twilio_app.config)


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post(client, path: str, params: dict[str, str], *, url: str | None = None, signature: str | None = "sign",
         token: str = AUTH_TOKEN):
    """Post ``params`` to ``path`` as Twilio would: signed for ``url`` (default: the test client's URL)."""
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = sign(url or BASE + path, params, token)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path, data=params, headers=headers)


def call_params(sid: str = "CA0001", caller: str = CALLER, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": OFFICE_NUMBER, "CallStatus": "ringing",
            "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


def message_params(sid: str = "SM0001", sender: str = CALLER, body: str = "Bagaimana cara daftar akun SPSE?",
                   to: str = OFFICE_NUMBER, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": to,
            "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01", **extra}


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def only_call() -> CallLog:
    return db.session.scalars(select(CallLog)).one()


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                             TicketEvent.kind == kind)))


def texts(channel: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    return list(db.session.scalars(query))


def missed_call(client, clock: Clock, *, sid: str = "CA0001", caller: str = CALLER, at: datetime = OPEN) -> None:
    """Ring, nobody answers, the caller hangs up without a message."""
    clock.now = at
    twiml(post(client, "/twilio/voice", call_params(sid, caller)))
    twiml(post(client, "/twilio/voice/dial-done", call_params(sid, caller, DialCallStatus="no-answer",
                                                               CallStatus="in-progress")))
    clock.now = at + timedelta(seconds=40)
    post(client, "/twilio/voice/status", call_params(sid, caller, CallStatus="completed", CallDuration="40"))


# -- incoming calls: TwiML ------------------------------------------------------------------------------------

def test_call_in_office_hours_is_greeted_in_indonesian_and_rings_every_desk_for_15_seconds(client, twilio_app,
                                                                                          office):
    root = twiml(post(client, "/twilio/voice", call_params()))
    say, dial = list(root)
    assert say.tag == "Say" and say.get("language") == "id-ID"
    assert say.text.startswith("Selamat pagi, dengan Pusat Layanan Pengadaan Secara Elektronik, LPSE Kabupaten Uji.")
    assert dial.tag == "Dial" and dial.get("timeout") == "15"
    assert dial.get("action") == f"{BASE}/twilio/voice/dial-done" and dial.get("method") == "POST"
    assert [n.text for n in dial.findall("Number")] == DESKS
    assert {n.get("statusCallback") for n in dial} == {f"{BASE}/twilio/voice/desk-answered"}
    assert {n.get("statusCallbackEvent") for n in dial} == {"answered"}
    call = only_call()
    assert (call.call_sid, call.from_number, call.outcome) == ("CA0001", CALLER, "ringing")
    assert call.started_at == OPEN and call.office_id == office.id and call.to_number == OFFICE_NUMBER


def test_ring_time_and_desks_come_from_the_settings(client, twilio_app):
    set_setting("phone.ring_seconds", 20)
    set_setting("phone.desk_numbers", ["0812-0000-2222", "not a number"])
    db.session.commit()
    dial = twiml(post(client, "/twilio/voice", call_params())).find("Dial")
    assert dial.get("timeout") == "20"
    assert [n.text for n in dial.findall("Number")] == ["+6281200002222"]


def test_afternoon_greeting_says_selamat_siang(client, twilio_app, clock):
    clock.now = OPEN.replace(hour=13)
    say = twiml(post(client, "/twilio/voice", call_params())).find("Say")
    assert say.text.startswith("Selamat siang, dengan Pusat Layanan Pengadaan Secara Elektronik")


def test_call_outside_office_hours_goes_to_voicemail(client, twilio_app, clock):
    clock.now = CLOSED
    root = twiml(post(client, "/twilio/voice", call_params()))
    assert [child.tag for child in root] == ["Say", "Record", "Say", "Hangup"]
    say, record = root[0], root[1]
    assert say.get("language") == "id-ID" and "Selamat malam" in say.text
    assert "di luar jam layanan" in say.text and "tinggalkan pesan" in say.text
    assert record.get("action") == f"{BASE}/twilio/voice/recorded"
    assert record.get("maxLength") == "120" and record.get("playBeep") == "true"
    assert root.find("Dial") is None


def test_call_on_a_holiday_morning_goes_to_voicemail(client, twilio_app, clock):
    clock.now = datetime(2026, 12, 25, 10, 0, tzinfo=WIB)  # Christmas Day: libur nasional
    root = twiml(post(client, "/twilio/voice", call_params()))
    assert root.find("Record") is not None and root.find("Dial") is None


def test_without_desk_numbers_the_call_goes_to_voicemail(client, twilio_app):
    set_setting("phone.desk_numbers", [])
    set_setting("phone.voicemail_max_seconds", 90)
    db.session.commit()
    root = twiml(post(client, "/twilio/voice", call_params()))
    assert root.find("Dial") is None
    assert root.find("Record").get("maxLength") == "90"
    assert "belum dapat menerima panggilan" in root.find("Say").text


def test_public_base_url_is_what_is_signed_and_where_twilio_is_sent(client, twilio_app):
    twilio_app.config["PUBLIC_BASE_URL"] = PUBLIC + "/"
    refused = post(client, "/twilio/voice", call_params("CA0001"))  # signed for http://localhost/...
    assert refused.status_code == 403 and count_rows(CallLog) == 0
    root = twiml(post(client, "/twilio/voice", call_params("CA0002"), url=PUBLIC + "/twilio/voice"))
    assert root.find("Dial").get("action") == f"{PUBLIC}/twilio/voice/dial-done"
    assert only_call().call_sid == "CA0002"


# -- signatures and replays ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path, params", [
    ("/twilio/voice", call_params()),
    ("/twilio/messages", message_params()),
    ("/twilio/voice/status", call_params(CallStatus="no-answer", CallDuration="0")),
])
@pytest.mark.parametrize("forgery", ["missing", "garbage", "other_token", "other_url", "tampered"])
def test_forged_webhooks_are_refused_and_change_nothing(client, twilio_app, caplog, path, params, forgery):
    if forgery == "missing":
        response = post(client, path, params, signature=None)
    elif forgery == "garbage":
        response = post(client, path, params, signature="c2lnbmF0dXJl")
    elif forgery == "other_token":
        response = post(client, path, params, token="not-our-token")
    elif forgery == "other_url":
        response = post(client, path, params, url=BASE + "/twilio/elsewhere")
    else:  # signed for other parameters
        signature = sign(BASE + path, {**params, "From": "+6289999999999"})
        response = post(client, path, params, signature=signature)
    assert response.status_code == 403 and response.get_data() == b""
    assert (count_rows(CallLog), count_rows(Ticket), count_rows(OutboxMessage), count_rows(WebhookReceipt)) == \
        (0, 0, 0, 0)
    refusals = [r for r in caplog.records if r.name == "helpdesk.web.twilio" and r.levelno == logging.WARNING]
    assert len(refusals) == 1 and path in refusals[0].getMessage()
    assert params["From"] not in refusals[0].getMessage()  # the log names the request, not its content


def test_a_replayed_call_webhook_is_refused(client, twilio_app):
    params = call_params(CallStatus="completed", CallDuration="12")
    assert post(client, "/twilio/voice/status", params).status_code == 200
    ticket_count = count_rows(Ticket)
    replay = post(client, "/twilio/voice/status", params)
    assert replay.status_code == 403
    assert count_rows(Ticket) == ticket_count == 1 and count_rows(CallLog) == 1
    digest = receipt_digest(twilio_web.Webhook(f"{BASE}/twilio/voice/status", twilio_web.MultiDict(params),
                                               sign(f"{BASE}/twilio/voice/status", params)))
    assert db.session.scalar(select(func.count()).where(WebhookReceipt.digest == digest)) == 1


def test_a_replayed_message_webhook_is_refused(client, twilio_app):
    params = message_params()
    assert post(client, "/twilio/messages", params).status_code == 200
    assert post(client, "/twilio/messages", params).status_code == 403
    assert count_rows(Ticket) == 1
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)
                             .where(TicketEvent.kind == "message_received")) == 0


def test_without_an_auth_token_every_webhook_is_refused_and_logged_once(client, twilio_app, caplog):
    twilio_app.config["TWILIO_AUTH_TOKEN"] = None
    twilio_web._warned_unconfigured.clear()
    for sid in ("CA0001", "CA0002"):
        assert post(client, "/twilio/voice", call_params(sid)).status_code == 403
    assert post(client, "/twilio/messages", message_params()).status_code == 403
    assert count_rows(CallLog) == count_rows(Ticket) == 0
    errors = [r for r in caplog.records if r.name == "helpdesk.web.twilio" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "TWILIO_AUTH_TOKEN" in errors[0].getMessage()


def test_a_signed_webhook_without_a_call_sid_is_a_bad_request(client, twilio_app):
    params = {"From": CALLER, "To": OFFICE_NUMBER}
    assert post(client, "/twilio/voice", params).status_code == 400
    assert count_rows(CallLog) == count_rows(WebhookReceipt) == 0


def test_twilio_routes_need_no_csrf_token_but_do_not_take_get(client, twilio_app):
    twilio_app.config["WTF_CSRF_ENABLED"] = True
    assert post(client, "/twilio/voice", call_params()).status_code == 200
    assert client.get("/twilio/voice").status_code == 405


# -- answered calls -----------------------------------------------------------------------------------------

def answered_call(client, clock: Clock, *, sid: str = "CA0001", caller: str = CALLER) -> CallLog:
    clock.now = OPEN
    post(client, "/twilio/voice", call_params(sid, caller))
    clock.now = OPEN + timedelta(seconds=9)
    desk_leg = {"CallSid": "CA9" + sid, "ParentCallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller,
                "To": DESKS[1], "CallStatus": "in-progress", "Direction": "outbound-dial"}
    assert post(client, "/twilio/voice/desk-answered", desk_leg).status_code == 200
    clock.now = OPEN + timedelta(minutes=3)
    root = twiml(post(client, "/twilio/voice/dial-done", call_params(
        sid, caller, DialCallStatus="completed", DialCallDuration="170", CallStatus="in-progress")))
    assert [child.tag for child in root] == ["Hangup"]
    post(client, "/twilio/voice/status", call_params(sid, caller, CallStatus="completed", CallDuration="182"))
    return db.session.scalars(select(CallLog).where(CallLog.call_sid == sid)).one()


@pytest.fixture
def officer(client, login, make_staff):
    staff = make_staff(name="Dewi Helpdesk")
    login(client, staff)
    return staff


def test_answered_call_is_logged_without_a_ticket_and_waits_as_a_draft(client, twilio_app, clock, officer):
    call = answered_call(client, clock)
    assert (call.outcome, call.answered_by, call.duration_seconds, call.ticket_id) == ("answered", DESKS[1], 182, None)
    assert call.started_at == OPEN and call.logged_at is None
    assert count_rows(Ticket) == 0 and count_rows(OutboxMessage) == 0
    page = client.get("/phone/calls").get_data(as_text=True)
    draft_section = page.split('id="calls-to-log"')[1].split('id="recent-calls-title"')[0]
    assert f'data-call-id="{call.id}"' in draft_section and f"/phone/new?call={call.id}" in draft_section
    assert "+62 812-3456-7890" in draft_section and "24/11/2026 10.00" in draft_section


def test_completing_an_answered_calls_log_opens_the_ticket_at_the_call_time(client, twilio_app, clock, officer,
                                                                            make_requester, make_ticket):
    known = make_requester(name="Ahmad Fauzi", phone="0812-3456-7890", organization="CV Karya Mandiri")
    earlier = make_ticket(requester=known, subject="Lupa kata sandi")
    call = answered_call(client, clock)
    form_page = client.get(f"/phone/new?call={call.id}").get_data(as_text=True)
    assert 'value="+6281234567890"' in form_page and 'id="call-draft"' in form_page
    assert "Selasa, 24 November 2026 10.00 WIB" in form_page
    lookup = client.get("/phone/lookup", query_string={"number": call.from_number}).get_json()
    assert lookup["requester"]["name"] == "Ahmad Fauzi" and lookup["tickets"][0]["ref"] == earlier.ref
    response = client.post(f"/phone/new?call={call.id}", data={
        "phone": call.from_number, "name": "Ahmad Fauzi", "question": "Cara mengganti email akun penyedia?",
        "answer": "Ajukan perubahan data ke LPSE dengan surat permohonan.", "outcome": "answered",
        "started_at": "2020-01-01T00:00:00+00:00"})
    db.session.expire_all()
    ticket = db.session.scalars(select(Ticket).where(Ticket.id != earlier.id)).one()
    assert response.status_code == 302 and response.location == f"/tickets/{ticket.ref}"
    assert ticket.received_at == OPEN and ticket.requester_id == known.id and ticket.channel == "phone"
    call = db.session.get(CallLog, call.id)
    assert (call.ticket_id, call.logged_by_id) == (ticket.id, officer.id) and call.logged_at is not None
    page = client.get("/phone/calls").get_data(as_text=True)
    assert f"/phone/new?call={call.id}" not in page and f"/tickets/{ticket.ref}" in page
    again = client.get(f"/phone/new?call={call.id}")
    assert again.status_code == 302 and again.location == f"/tickets/{ticket.ref}"


def test_an_answered_call_can_be_dismissed_once(client, twilio_app, clock, officer):
    call = answered_call(client, clock)
    response = client.post(f"/phone/calls/{call.id}/dismiss")
    assert response.status_code == 302
    db.session.expire_all()
    call = db.session.get(CallLog, call.id)
    assert call.logged_by_id == officer.id and call.logged_at is not None and call.ticket_id is None
    row = client.get("/phone/calls").get_data(as_text=True).split(f'data-call-id="{call.id}"')[1].split("</tr>")[0]
    assert "Dewi Helpdesk" in row and "/phone/new?call=" not in row
    client.post(f"/phone/calls/{call.id}/dismiss")
    assert count_rows(Ticket) == 0
    again = client.post(f"/phone/new?call={call.id}", data={"name": "X", "question": "Y", "outcome": "pending"})
    assert again.status_code == 302 and count_rows(Ticket) == 0


def test_calls_of_another_office_are_not_shown_or_completed(client, twilio_app, clock, make_office, make_staff,
                                                            login):
    call = answered_call(client, clock)
    other = make_staff(office=make_office(), name="Petugas Lain")
    login(client, other)
    assert f'data-call-id="{call.id}"' not in client.get("/phone/calls").get_data(as_text=True)
    assert client.get(f"/phone/new?call={call.id}").status_code == 404
    assert client.post(f"/phone/calls/{call.id}/dismiss").status_code == 404


def test_the_phone_page_links_to_the_calls_page(client, twilio_app, officer):
    page = client.get("/phone/new").get_data(as_text=True)
    assert 'href="/phone/calls"' in page


# -- missed calls and voicemails ------------------------------------------------------------------------------

def test_missed_call_becomes_a_call_back_ticket_and_the_caller_gets_its_number_by_sms(client, twilio_app, clock):
    missed_call(client, clock)
    call = only_call()
    ticket = db.session.scalars(select(Ticket)).one()
    assert (call.outcome, call.duration_seconds, call.ticket_id) == ("missed", 40, ticket.id)
    assert call.ended_at == OPEN + timedelta(seconds=40)
    assert ticket.channel == "phone" and ticket.flag == "call_back" and ticket.status == "new"
    assert ticket.subject == "Panggilan tak terjawab dari +62 812-3456-7890"
    assert ticket.received_at == OPEN and ticket.awaiting_follow_up
    assert ticket.follow_up_due_at == datetime(2026, 11, 25, 10, 0, tzinfo=WIB)
    requester = ticket.requester
    assert (requester.name, requester.phone) == ("Penelepon +62 812-3456-7890", CALLER)
    created = events(ticket, "created")[0]
    assert created.data["call_sid"] == "CA0001" and created.data["call_outcome"] == "missed"
    [sms] = texts()
    assert (sms.channel, sms.recipient, sms.template, sms.ticket_id) == ("sms", CALLER, "ticket-number", ticket.id)
    assert ticket.ref in sms.body and "LPSE Kabupaten Uji" in sms.body
    assert events(ticket, "text_queued")[0].data["outbox_id"] == sms.id


def test_missed_call_from_a_landline_gets_no_sms(client, twilio_app, clock):
    missed_call(client, clock, caller=LANDLINE)
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.flag == "call_back" and ticket.requester.phone == LANDLINE
    assert texts() == [] and events(ticket, "text_queued") == []


def test_missed_call_from_a_known_caller_goes_on_their_record(client, twilio_app, clock, make_requester):
    known = make_requester(name="Siti Aminah", phone="081234567890")
    missed_call(client, clock)
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.requester_id == known.id and ticket.requester.name == "Siti Aminah"


def test_hidden_callers_are_not_merged_into_one_requester(client, twilio_app, clock):
    missed_call(client, clock, sid="CA0001", caller="+266696687")
    missed_call(client, clock, sid="CA0002", caller="anonymous")
    found = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
    assert len(found) == 2 and found[0].requester_id != found[1].requester_id
    assert {t.requester.name for t in found} == {"Penelepon tanpa nomor"}
    assert found[0].subject == "Panggilan tak terjawab dari nomor tersembunyi"
    assert texts() == []


def test_voicemail_becomes_a_call_back_ticket_with_the_recording(client, twilio_app, clock):
    clock.now = CLOSED
    post(client, "/twilio/voice", call_params())
    clock.now = CLOSED + timedelta(seconds=50)
    recording = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE0001"
    root = twiml(post(client, "/twilio/voice/recorded", call_params(
        RecordingUrl=recording, RecordingSid="RE0001", RecordingDuration="42", CallStatus="in-progress")))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].get("language") == "id-ID" and "pesan Anda sudah kami terima" in root[0].text
    post(client, "/twilio/voice/status", call_params(CallStatus="completed", CallDuration="55"))
    ticket = db.session.scalars(select(Ticket)).one()  # one ticket, although two callbacks came
    call = only_call()
    assert (call.outcome, call.recording_url, call.recording_seconds, call.duration_seconds) == \
        ("voicemail", recording, 42, 55)
    assert call.ticket_id == ticket.id and ticket.flag == "call_back"
    assert ticket.subject == "Pesan suara dari +62 812-3456-7890" and recording in ticket.description
    assert ticket.received_at == CLOSED
    # received after hours: the clock starts at the next opening, Wednesday 07:30, and runs one working day
    assert ticket.follow_up_due_at == datetime(2026, 11, 26, 7, 30, tzinfo=WIB)
    assert events(ticket, "created")[0].data["recording_url"] == recording
    assert len(texts("sms")) == 1


def test_a_recording_that_comes_after_the_missed_call_ticket_joins_it(client, twilio_app, clock):
    clock.now = CLOSED
    post(client, "/twilio/voice", call_params())
    post(client, "/twilio/voice/status", call_params(CallStatus="completed", CallDuration="55"))
    recording = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE0002"
    post(client, "/twilio/voice/recorded", call_params(RecordingUrl=recording, RecordingSid="RE0002",
                                                       RecordingDuration="30", CallStatus="completed"))
    ticket = db.session.scalars(select(Ticket)).one()
    [message] = events(ticket, "message_received")
    assert message.data["recording_url"] == recording and recording in message.body
    assert only_call().outcome == "voicemail" and len(texts()) == 1


def test_the_call_back_ticket_page_shows_the_recording_and_the_texted_number(client, twilio_app, clock, officer):
    clock.now = CLOSED
    post(client, "/twilio/voice", call_params())
    recording = "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE0003"
    post(client, "/twilio/voice/recorded", call_params(RecordingUrl=recording, RecordingSid="RE0003",
                                                       RecordingDuration="12"))
    ticket = db.session.scalars(select(Ticket)).one()
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert f'href="{recording}"' in page
    assert 'data-event="text_queued"' in page and "+62 812-3456-7890" in page


# -- SMS and WhatsApp in ------------------------------------------------------------------------------------

def test_an_sms_becomes_a_ticket_on_the_sms_channel_and_the_sender_gets_its_number(client, twilio_app):
    root = twiml(post(client, "/twilio/messages", message_params(sender="+62 812-3456-7890")))
    assert list(root) == []  # the answer goes through the outbox, not the webhook
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.channel == "sms" and ticket.subject == "Bagaimana cara daftar akun SPSE?"
    assert ticket.received_at == OPEN and ticket.requester.phone == CALLER
    assert ticket.requester.name == "Pengirim +62 812-3456-7890"
    assert events(ticket, "created")[0].data["message_sid"] == "SM0001"
    [reply] = texts()
    assert (reply.channel, reply.recipient, reply.template) == ("sms", CALLER, "ticket-number")


def test_a_later_sms_from_the_same_number_joins_the_open_ticket(client, twilio_app, clock):
    post(client, "/twilio/messages", message_params("SM0001"))
    clock.now = OPEN + timedelta(minutes=5)
    post(client, "/twilio/messages", message_params("SM0002", sender="081234567890", body="Saya penyedia baru."))
    ticket = db.session.scalars(select(Ticket)).one()
    [message] = events(ticket, "message_received")
    assert message.body == "Saya penyedia baru." and message.data["via"] == "sms"
    assert message.data["message_sid"] == "SM0002"
    assert len(texts()) == 1  # the ticket number is sent once


def test_a_message_to_a_resolved_ticket_reopens_it_but_a_closed_one_is_not_joined(client, twilio_app, clock):
    post(client, "/twilio/messages", message_params("SM0001"))
    ticket = db.session.scalars(select(Ticket)).one()
    tickets.resolve(ticket, actor=None, solution="Daftar di menu Pendaftaran Penyedia.")
    db.session.commit()
    post(client, "/twilio/messages", message_params("SM0002", body="Belum bisa, muncul galat."))
    db.session.refresh(ticket)
    assert ticket.status == "open" and count_rows(Ticket) == 1
    tickets.resolve(ticket, actor=None, solution="Sudah dibantu.")
    tickets.change_status(ticket, "closed", actor=None)
    db.session.commit()
    post(client, "/twilio/messages", message_params("SM0003", body="Pertanyaan baru tentang e-Katalog."))
    newest = db.session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert count_rows(Ticket) == 2 and newest.id != ticket.id and newest.subject.startswith("Pertanyaan baru")


def test_an_sms_does_not_join_the_senders_phone_ticket(client, twilio_app, clock):
    missed_call(client, clock)
    post(client, "/twilio/messages", message_params("SM0001"))
    assert sorted(t.channel for t in db.session.scalars(select(Ticket))) == ["phone", "sms"]


def test_a_duplicate_message_sid_is_taken_once(client, twilio_app):
    post(client, "/twilio/messages", message_params("SM0001"))
    # Twilio's retry: the same message with another parameter set (and so another signature), not a replay
    again = post(client, "/twilio/messages", message_params("SM0001", ApiVersion="2010-04-01", SmsStatus="received"))
    assert again.status_code == 200
    ticket = db.session.scalars(select(Ticket)).one()
    assert events(ticket, "message_received") == [] and len(texts()) == 1


def test_a_whatsapp_message_becomes_a_whatsapp_ticket_with_its_media(client, twilio_app):
    media = "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM0001/Media/ME0001"
    post(client, "/twilio/messages", message_params(
        "MM0001", sender=f"whatsapp:{CALLER}", to=f"whatsapp:{WHATSAPP_NUMBER}", body="Ini tangkapan layarnya",
        ProfileName="Budi Santoso", WaId=CALLER.lstrip("+"), NumMedia="1", MediaUrl0=media,
        MediaContentType0="image/jpeg"))
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.channel == "whatsapp" and ticket.requester.phone == CALLER
    assert ticket.requester.name == "Budi Santoso"
    created = events(ticket, "created")[0]
    assert created.data["media"] == [{"url": media, "content_type": "image/jpeg"}]
    [reply] = texts()
    assert (reply.channel, reply.recipient) == ("whatsapp", CALLER)


def test_a_media_only_whatsapp_message_still_makes_a_ticket(client, twilio_app):
    post(client, "/twilio/messages", message_params(
        "MM0002", sender=f"whatsapp:{CALLER}", body="", NumMedia="2",
        MediaUrl0="https://api.twilio.com/m/0", MediaContentType0="image/png",
        MediaUrl1="https://api.twilio.com/m/1", MediaContentType1="application/pdf"))
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.subject == "(Pesan tanpa teks, 2 lampiran media)"
    assert len(events(ticket, "created")[0].data["media"]) == 2


def test_whatsapp_and_sms_from_one_number_are_separate_tickets(client, twilio_app):
    post(client, "/twilio/messages", message_params("SM0001"))
    post(client, "/twilio/messages", message_params("SM0002", sender=f"whatsapp:{CALLER}"))
    assert sorted(t.channel for t in db.session.scalars(select(Ticket))) == ["sms", "whatsapp"]
    assert count_rows(Requester) == 1


# -- texts out ------------------------------------------------------------------------------------------------

@pytest.fixture
def sms_ticket(make_ticket, make_requester):
    return make_ticket(channel="sms", requester=make_requester(name="Rina", email=None, phone="0812 3456 7890"))


def test_a_staff_reply_by_sms_goes_through_the_real_twilio_client(sender, api, sms_ticket, make_staff):
    officer = make_staff(name="Rina Wulandari")
    tickets.add_message(sms_ticket, direction="outbound", body="Silakan reset kata sandi di menu Lupa Password.",
                        actor=officer, via="sms")
    db.session.commit()
    report = deliver_due(sender, channel="sms")
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [request] = api.requests
    assert request.method == "POST" and request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.value("To") == CALLER and request.value("From") == OFFICE_NUMBER
    assert request.value("Body") == (f"[{sms_ticket.ref}] Silakan reset kata sandi di menu Lupa Password.\n"
                                     "- Rina Wulandari, Helpdesk LPSE")
    [message] = texts()
    assert message.status == "sent" and message.external_id == "SM" + "1".zfill(32)


def test_the_ticket_number_by_whatsapp_has_whatsapp_addresses(sender, api, make_ticket, make_requester):
    ticket = make_ticket(channel="whatsapp", requester=make_requester(name="Budi", email=None, phone=CALLER))
    queued = tickets.text_requester(ticket, "ticket-number")
    db.session.commit()
    assert deliver_due(sender, channel="whatsapp").sent == 1
    [request] = api.requests
    assert request.value("To") == f"whatsapp:{CALLER}" and request.value("From") == f"whatsapp:{WHATSAPP_NUMBER}"
    assert request.value("Body") == queued.body and ticket.ref in request.value("Body")
    assert db.session.get(OutboxMessage, queued.id).external_id.startswith("SM")


def test_a_twilio_outage_is_retried(sender, api, sms_ticket):
    queued = tickets.text_requester(sms_ticket, "ticket-number")
    db.session.commit()
    api.fail_next(500, code=20500, message="Internal Server Error")
    report = deliver_due(sender, channel="sms")
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    message = db.session.get(OutboxMessage, queued.id, populate_existing=True)
    assert message.status == "queued" and message.attempts == 1 and "HTTP 500" in message.last_error
    assert deliver_due(sender, channel="sms", now=utcnow() + timedelta(minutes=5)).sent == 1
    assert len(api.requests) == 2 and api.requests[0].form == api.requests[1].form


def test_a_number_twilio_refuses_fails_at_once_and_flags_the_ticket(sender, api, sms_ticket):
    queued = tickets.text_requester(sms_ticket, "ticket-number")
    db.session.commit()
    api.fail_next(400, code=21211, message="The 'To' number +6281234567890 is not a valid phone number.")
    report = deliver_due(sender, channel="sms")
    assert (report.sent, report.retried, report.failed) == (0, 0, 1)
    message = db.session.get(OutboxMessage, queued.id, populate_existing=True)
    assert message.status == "failed" and "21211" in message.last_error and message.external_id is None
    db.session.refresh(sms_ticket)
    assert sms_ticket.flag == "delivery_failed"


def test_an_unreachable_api_is_a_temporary_failure(sender, api, sms_ticket):
    tickets.text_requester(sms_ticket, "ticket-number")
    db.session.commit()
    api.stop()
    report = deliver_due(sender, channel="sms")
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    assert "cannot reach Twilio" in texts()[0].last_error


def test_an_sms_the_carrier_could_not_deliver_flags_the_ticket(client, twilio_app, api, sms_ticket):
    twilio_app.config.update(api.config(PUBLIC_BASE_URL=PUBLIC))
    queued = tickets.text_requester(sms_ticket, "ticket-number")
    db.session.commit()
    assert deliver_due(make_text_sender(twilio_app.config), channel="sms").sent == 1
    [request] = api.requests
    assert request.value("StatusCallback") == f"{PUBLIC}/twilio/messages/status"
    sid = db.session.get(OutboxMessage, queued.id, populate_existing=True).external_id
    path = "/twilio/messages/status"
    report = {"MessageSid": sid, "MessageStatus": "sent", "AccountSid": ACCOUNT_SID, "To": CALLER}
    assert post(client, path, report, url=PUBLIC + path).status_code == 200
    assert db.session.get(OutboxMessage, queued.id, populate_existing=True).status == "sent"
    failed = {**report, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post(client, path, failed, url=PUBLIC + path).status_code == 200
    message = db.session.get(OutboxMessage, queued.id, populate_existing=True)
    assert message.status == "failed" and message.last_error == "Twilio reported the message undelivered (error 30003)"
    db.session.refresh(sms_ticket)
    assert sms_ticket.flag == "delivery_failed" and len(events(sms_ticket, "email_failed")) == 1
    assert post(client, path, failed, signature="forged", url=PUBLIC + path).status_code == 403


def test_without_a_public_url_twilio_is_not_asked_for_delivery_reports(sender, api, sms_ticket):
    tickets.text_requester(sms_ticket, "ticket-number")
    db.session.commit()
    deliver_due(sender, channel="sms")
    assert "StatusCallback" not in api.requests[0].form


def test_without_a_whatsapp_sender_number_the_message_waits(twilio_app, api, make_ticket, make_requester):
    twilio_app.config.update(api.config(TWILIO_WHATSAPP_NUMBER=None))
    ticket = make_ticket(channel="whatsapp", requester=make_requester(name="Budi", email=None, phone=CALLER))
    tickets.text_requester(ticket, "ticket-number")
    db.session.commit()
    report = deliver_due(make_text_sender(twilio_app.config), channel="whatsapp")
    assert report.retried == 1 and api.requests == []
    assert "TWILIO_WHATSAPP_NUMBER" in texts()[0].last_error


def test_sms_deliver_command_sends_through_twilio(twilio_app, api, sms_ticket):
    twilio_app.config.update(api.config())
    tickets.text_requester(sms_ticket, "ticket-number")
    db.session.commit()
    result = CliRunner().invoke(cli, ["sms", "deliver"], obj=ScriptInfo(create_app=lambda: twilio_app))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["sms: sent 1, retrying 0, failed 0", "whatsapp: sent 0, retrying 0, failed 0"]
    assert [r.value("To") for r in api.requests] == [CALLER]


def test_sms_deliver_command_without_an_account_says_so(app):
    result = CliRunner().invoke(cli, ["sms", "deliver"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 1 and "no Twilio account configured" in result.output


# -- the ticket page ------------------------------------------------------------------------------------------

def test_reply_form_offers_sms_and_whatsapp_only_for_a_mobile_number(client, officer, make_ticket, make_requester):
    mobile = make_ticket(channel="sms", requester=make_requester(name="A", email=None, phone=CALLER))
    landline = make_ticket(channel="phone", requester=make_requester(name="B", email=None, phone=LANDLINE))

    def via_options(ticket: Ticket) -> list[str]:
        page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
        select_html = page.split('name="reply-via"')[1].split("</select>")[0]
        return [part.split('"')[0] for part in select_html.split('value="')[1:]]

    assert via_options(mobile) == ["sms", "whatsapp", "phone", "walkin"]
    assert '<option selected value="sms">' in client.get(f"/tickets/{mobile.ref}").get_data(as_text=True)
    assert via_options(landline) == ["phone", "walkin"]


def test_a_reply_sent_by_sms_from_the_ticket_page_is_queued(client, officer, make_ticket, make_requester):
    ticket = make_ticket(channel="sms", requester=make_requester(name="A", email=None, phone=CALLER))
    response = client.post(f"/tickets/{ticket.ref}/reply", data={"reply-body": "Sudah kami perbaiki.",
                                                                  "reply-via": "sms"})
    assert response.status_code == 302
    [message] = texts("sms")
    assert message.recipient == CALLER and "Sudah kami perbaiki." in message.body
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert f'data-outbox-id="{message.id}"' in page


def test_a_reply_by_sms_to_a_landline_is_refused(client, officer, make_ticket, make_requester):
    ticket = make_ticket(channel="phone", requester=make_requester(name="B", email=None, phone=LANDLINE))
    response = client.post(f"/tickets/{ticket.ref}/reply", data={"reply-body": "Halo", "reply-via": "sms"})
    assert response.status_code == 422 and texts() == []
