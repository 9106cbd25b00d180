"""Twilio: phone calls, SMS and WhatsApp through the official ``twilio`` library, as an adapter over the ticket service.

Inbound, Twilio posts signed webhooks; helpdesk/web/twilio.py hands each one here as a ``Webhook``. ``verify``
checks its X-Twilio-Signature with the library's RequestValidator and ``take_receipt`` refuses a request already
taken (a replay), in the same transaction as the work it causes. Then:

- ``answer_call`` logs the call (``CallLog``) and answers with TwiML: a greeting in Indonesian, then during office
  hours the desk phones ring for ``phone.ring_seconds`` (the SOP's three rings); outside office hours, or without
  desk phones, the caller may leave a voicemail. ``dial_finished`` offers the voicemail when no desk answered,
  ``voicemail_recorded`` takes the message, ``call_status`` closes the log when the call ends.
- An answered call waits as a draft until an officer completes its phone log (``complete_call_log``) or dismisses
  it. A missed call or a voicemail becomes a phone ticket flagged ``call_back`` (exactly one per call), and a mobile
  caller is sent the ticket number by SMS through the outbox.
- ``take_message`` turns an SMS or WhatsApp message into a ticket on the ``sms`` or ``whatsapp`` channel, or joins
  it to the sender's open ticket on that channel. Media are recorded as Twilio's URLs, not downloaded.

Outbound, ``make_text_sender`` is the delivery job's sender for the ``sms`` and ``whatsapp`` outbox channels: the
REST API through ``twilio.rest.Client``. Functions here flush, never commit: the caller owns the transaction.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import requests
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, VoiceResponse
from werkzeug.datastructures import MultiDict

from helpdesk import settings, tickets
from helpdesk.calendars import calendar_for
from helpdesk.delivery import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from helpdesk.errors import HelpdeskError, ValidationError
from helpdesk.extensions import db
from helpdesk.formatting import short_datetime, zone_abbreviation
from helpdesk.models import CallLog, Office, OutboxMessage, Requester, Staff, Ticket, WebhookReceipt
from helpdesk.requesters import find_or_create_requester, find_requester, format_phone, normalise_phone
from helpdesk.states import Status

log = logging.getLogger(__name__)

SOURCE: Final = "twilio"
MESSAGE_SOURCE: Final = "twilio_message"  # a receipt per Message SID: the same message is taken once
LANGUAGE: Final = "id-ID"  # what <Say> speaks
WHATSAPP_PREFIX: Final = "whatsapp:"
CALL_BACK: Final = "call_back"  # the flag of a missed call or a voicemail
FINAL_CALL_STATUSES: Final = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
FAILED_MESSAGE_STATUSES: Final = frozenset({"failed", "undelivered"})
MESSAGE_STATUS_PATH: Final = "/twilio/messages/status"  # where Twilio reports on the messages we send
MAX_DESK_NUMBERS: Final = 10  # Twilio dials at most ten <Number>s at once
MAX_MEDIA: Final = 10  # Twilio sends at most ten media per message
RECORD_SILENCE_SECONDS: Final = 5
HTTP_TIMEOUT_SECONDS: Final = 30
UNKNOWN_CALLER: Final = "Penelepon tanpa nomor"
# What Twilio puts in From when the caller ID is withheld: its stand-in numbers, and words from some carriers.
HIDDEN_CALLER_IDS: Final = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "anonymous",
                                      "restricted", "blocked", "unavailable", "unknown", "private"})

# What the caller hears. Indonesian, spoken with language="id-ID".
SAY_CONNECTING: Final = "Mohon tunggu, panggilan Anda sedang kami sambungkan dengan petugas helpdesk."
SAY_CLOSED: Final = "Saat ini di luar jam layanan kami."
SAY_UNSTAFFED: Final = "Mohon maaf, saat ini petugas kami belum dapat menerima panggilan Anda."
SAY_NO_ANSWER: Final = "Mohon maaf, petugas kami sedang melayani pengguna lain."
SAY_LEAVE_MESSAGE: Final = ("Silakan tinggalkan pesan setelah nada berikut. Sebutkan nama Anda, instansi atau "
                            "perusahaan, nomor telepon, dan pertanyaan Anda. Kami akan menghubungi Anda kembali "
                            "melalui telepon atau email.")
SAY_NO_MESSAGE: Final = "Tidak ada pesan yang terekam. Terima kasih telah menghubungi kami."
SAY_THANKS: Final = ("Terima kasih, pesan Anda sudah kami terima. Kami akan menghubungi Anda kembali melalui "
                     "telepon atau email.")


class WebhookRefused(Exception):
    """A webhook that must not be acted on; ``reason`` (not_configured, unsigned, bad_signature, replay) is for the
    log line, never for the response."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadWebhook(ValueError):
    """A correctly signed webhook that lacks what its endpoint needs (a CallSid, a MessageSid...)."""


class NoOffice(HelpdeskError):
    """No office exists yet, so a call or a message has nowhere to go."""


SID: Final = re.compile(r"[A-Z]{2}[0-9A-Za-z]{1,62}")  # Twilio: two letters and 32 hex digits; fits the columns


@dataclass(frozen=True, eq=False)
class Webhook:
    """One request from Twilio as it was signed: the URL Twilio requested, its POST parameters, the signature."""

    url: str
    params: MultiDict
    signature: str | None

    def get(self, name: str) -> str:
        """A parameter's value, stripped; empty when Twilio did not send it."""
        return (self.params.get(name) or "").strip()

    def sid(self, name: str) -> str:
        """A Twilio SID parameter (letters and digits, at most 64); empty when absent, BadWebhook when malformed."""
        value = self.get(name)
        if value and not SID.fullmatch(value):
            raise BadWebhook(f"{name} is not a Twilio SID")
        return value


@dataclass(frozen=True)
class VoiceUrls:
    """Where Twilio posts what happened next in a call: absolute URLs, because Twilio signs them."""

    dial_done: str
    recorded: str
    desk_answered: str


@dataclass(frozen=True)
class MessageResult:
    """What became of an inbound SMS or WhatsApp message: ``ticket`` (a new one), ``reply`` or ``duplicate``."""

    outcome: str
    ticket_ref: str | None = None


# -- signatures and replays ---------------------------------------------------------------------------------

def verify(hook: Webhook, *, auth_token: str | None) -> None:
    """Raise WebhookRefused unless ``hook`` carries Twilio's valid signature for its URL and parameters.

    Without an auth token nothing can be verified, so everything is refused.
    """
    if not auth_token:
        raise WebhookRefused("not_configured")
    if not hook.signature:
        raise WebhookRefused("unsigned")
    if not RequestValidator(auth_token).validate(hook.url, hook.params, hook.signature):
        raise WebhookRefused("bad_signature")


def receipt_digest(hook: Webhook) -> str:
    """sha256 of the URL, the sorted parameters and the signature: the same request again has the same digest."""
    pairs = sorted((name, value) for name in hook.params for value in hook.params.getlist(name))
    text = "\n".join([hook.url, *(f"{name}={value}" for name, value in pairs), hook.signature or ""])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def take_receipt(hook: Webhook, *, now: datetime) -> None:
    """Record that ``hook`` was taken, or raise WebhookRefused("replay") when it was taken before. Flushes.

    The receipt is the transaction's first write, so on SQLite the request holds the write lock before it reads
    anything, and requests about the same call are handled one after the other. A replay caught by the unique
    index leaves the session to be rolled back by the caller.
    """
    db.session.add(WebhookReceipt(source=SOURCE, digest=receipt_digest(hook), received_at=now))
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise WebhookRefused("replay") from exc


# -- voice: TwiML -------------------------------------------------------------------------------------------

def salutation(local: datetime) -> str:
    """"Selamat pagi/siang/sore/malam" for a local time of day."""
    if local.hour < 11:
        return "Selamat pagi"
    if local.hour < 15:
        return "Selamat siang"
    if local.hour < 18:
        return "Selamat sore"
    return "Selamat malam"


def greeting(office: Office, *, now: datetime) -> str:
    """The SOP's greeting: "Selamat pagi, dengan Pusat Layanan Pengadaan Secara Elektronik, <office>."."""
    local = calendar_for(office).local(now)
    return f"{salutation(local)}, dengan Pusat Layanan Pengadaan Secara Elektronik, {office.name}."


def ring_desks_twiml(intro: str, desks: list[str], *, ring_seconds: int, urls: VoiceUrls) -> str:
    """Say ``intro`` and ring every desk number at once for ``ring_seconds``; the first to answer takes the call."""
    response = VoiceResponse()
    response.say(f"{intro} {SAY_CONNECTING}", language=LANGUAGE)
    dial = Dial(action=urls.dial_done, method="POST", timeout=ring_seconds)
    for number in desks:
        dial.number(number, status_callback=urls.desk_answered, status_callback_event="answered",
                    status_callback_method="POST")
    response.append(dial)
    return str(response)


def voicemail_twiml(intro: str, *, max_seconds: int, urls: VoiceUrls) -> str:
    """Say ``intro``, invite a message and record it (at most ``max_seconds``); say goodbye if nothing came."""
    response = VoiceResponse()
    response.say(f"{intro} {SAY_LEAVE_MESSAGE}", language=LANGUAGE)
    response.record(action=urls.recorded, method="POST", max_length=max_seconds, play_beep=True,
                    timeout=RECORD_SILENCE_SECONDS)
    response.say(SAY_NO_MESSAGE, language=LANGUAGE)
    response.hangup()
    return str(response)


def goodbye_twiml(text: str | None = None) -> str:
    """Say ``text`` (if any) and hang up."""
    response = VoiceResponse()
    if text:
        response.say(text, language=LANGUAGE)
    response.hangup()
    return str(response)


def empty_twiml() -> str:
    """An empty <Response/>: nothing more to do (status callbacks, messages answered through the outbox)."""
    return str(MessagingResponse())


# -- voice: the call's webhooks -----------------------------------------------------------------------------

def answer_call(hook: Webhook, *, urls: VoiceUrls, now: datetime) -> str:
    """An incoming call: log it, greet the caller, ring the desks during office hours, else take a voicemail."""
    call = _call_for(hook, now=now)
    office = db.session.get(Office, call.office_id)
    intro = greeting(office, now=now)
    desks = desk_numbers()
    max_seconds = int(settings.get_setting("phone.voicemail_max_seconds"))
    if not office_open(office, now):
        log.info("call %s from %s outside office hours: voicemail", call.call_sid, call.from_number)
        return voicemail_twiml(f"{intro} {SAY_CLOSED}", max_seconds=max_seconds, urls=urls)
    if not desks:
        log.warning("call %s: no desk numbers configured (phone.desk_numbers): voicemail", call.call_sid)
        return voicemail_twiml(f"{intro} {SAY_UNSTAFFED}", max_seconds=max_seconds, urls=urls)
    ring_seconds = int(settings.get_setting("phone.ring_seconds"))
    log.info("call %s from %s: ringing %d desk(s) for %d s", call.call_sid, call.from_number, len(desks), ring_seconds)
    return ring_desks_twiml(intro, desks, ring_seconds=ring_seconds, urls=urls)


def dial_finished(hook: Webhook, *, urls: VoiceUrls, now: datetime) -> str:
    """The desks' ringing ended: an answered call is done; otherwise the caller may leave a voicemail."""
    call = _call_for(hook, now=now)
    status = hook.get("DialCallStatus")
    if status == "completed":
        _mark_answered(call, desk=None)
        return goodbye_twiml()
    log.info("call %s: no desk answered (%s): voicemail", call.call_sid, status or "no status")
    max_seconds = int(settings.get_setting("phone.voicemail_max_seconds"))
    return voicemail_twiml(SAY_NO_ANSWER, max_seconds=max_seconds, urls=urls)


def desk_answered(hook: Webhook, *, now: datetime) -> None:
    """A desk phone picked up (its leg's status callback): note which desk took the call."""
    parent_sid = hook.sid("ParentCallSid")
    if not parent_sid:
        raise BadWebhook("ParentCallSid is missing")
    call = _locked_call(parent_sid)
    if call is None:
        log.warning("desk answered call %s, which was never logged", parent_sid)
        return
    phone = normalise_phone(hook.get("To"))
    _mark_answered(call, desk=phone.value if phone is not None else None)


def voicemail_recorded(hook: Webhook, *, now: datetime) -> str:
    """The caller left a voicemail: the call's ticket (one per call) gets the recording's link."""
    call = _call_for(hook, now=now)
    url = hook.get("RecordingUrl")
    if not url:
        return goodbye_twiml(SAY_NO_MESSAGE)
    recording_sid = hook.sid("RecordingSid") or None
    if call.recording_url == url and call.recording_sid == recording_sid:
        return goodbye_twiml(SAY_THANKS)  # the same recording told twice
    call.recording_url, call.recording_sid = url, recording_sid
    call.recording_seconds = _int(hook.get("RecordingDuration"))
    previous, call.outcome = call.outcome, "voicemail"
    if call.ticket_id is None:
        _open_call_back_ticket(call, now=now)
    else:
        _add_voicemail(call, was=previous, now=now)
    db.session.flush()
    log.info("call %s: voicemail of %s s recorded", call.call_sid, call.recording_seconds)
    return goodbye_twiml(SAY_THANKS)


def call_status(hook: Webhook, *, now: datetime) -> None:
    """The call's status callback: a final status closes the log; a call nobody took becomes a missed call ticket."""
    call = _call_for(hook, now=now)
    status = hook.get("CallStatus")
    if status not in FINAL_CALL_STATUSES:
        return
    call.duration_seconds = _int(hook.get("CallDuration"))
    call.ended_at = now
    if call.outcome == "ringing":
        call.outcome = "missed"
        _open_call_back_ticket(call, now=now)
    db.session.flush()
    log.info("call %s ended (%s, %s s): %s", call.call_sid, status, call.duration_seconds, call.outcome)


def office_open(office: Office, now: datetime) -> bool:
    """Whether ``now`` falls within the office's hours on a working day (half-open: closing time is closed)."""
    calendar = calendar_for(office)
    local = calendar.local(now)
    window = calendar.window(local.date())
    return window is not None and window[0] <= local < window[1]


def desk_numbers() -> list[str]:
    """The desk phones to ring (setting ``phone.desk_numbers``), as E.164; numbers that do not parse are skipped."""
    numbers: list[str] = []
    for raw in settings.get_setting("phone.desk_numbers") or []:
        phone = normalise_phone(str(raw))
        if phone is None or not phone.valid:
            log.warning("desk number %r is not a phone number; it is not rung", raw)
        elif phone.value not in numbers:
            numbers.append(phone.value)
    return numbers[:MAX_DESK_NUMBERS]


# -- the staff side of answered calls -----------------------------------------------------------------------

def calls_to_log(office: Office) -> list[CallLog]:
    """Answered calls of the office whose phone log is still to be written, oldest first."""
    return list(db.session.scalars(
        select(CallLog).where(CallLog.office_id == office.id, CallLog.outcome == "answered",
                              CallLog.logged_at.is_(None), CallLog.ticket_id.is_(None))
        .order_by(CallLog.started_at, CallLog.id)))


def recent_calls(office: Office, *, limit: int = 100) -> list[CallLog]:
    """The office's latest calls, newest first."""
    return list(db.session.scalars(
        select(CallLog).where(CallLog.office_id == office.id)
        .order_by(CallLog.started_at.desc(), CallLog.id.desc()).limit(limit)))


def needs_log(call: CallLog) -> bool:
    """Whether ``call`` is an answered call still waiting for its phone log."""
    return call.outcome == "answered" and call.logged_at is None and call.ticket_id is None


def complete_call_log(call: CallLog, *, ticket: Ticket | None, officer: Staff, now: datetime) -> None:
    """Close an answered call's draft: linked to the ticket of its phone log, or dismissed (``ticket`` None).

    One atomic UPDATE, so two officers completing the same call cannot both succeed: the second gets a
    ValidationError (and rolls back the ticket it opened). Flushes, never commits.
    """
    if call.outcome != "answered":
        raise ValidationError(_l("Only an answered call waits for its phone log."))
    db.session.flush()
    result = db.session.execute(
        update(CallLog)
        .where(CallLog.id == call.id, CallLog.logged_at.is_(None), CallLog.ticket_id.is_(None))
        .values(logged_at=now, logged_by_id=officer.id, ticket_id=ticket.id if ticket is not None else None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise ValidationError(_l("This call has already been logged or dismissed."))
    db.session.refresh(call)
    log.info("call %s %s by %s", call.call_sid, f"logged as {ticket.ref}" if ticket else "dismissed", officer.email)


# -- SMS and WhatsApp in ------------------------------------------------------------------------------------

def split_address(value: str) -> tuple[str, str]:
    """``("whatsapp", "+62...")`` for "whatsapp:+62...", ``("sms", "+62...")`` for a plain number."""
    value = (value or "").strip()
    if value.lower().startswith(WHATSAPP_PREFIX):
        return "whatsapp", value[len(WHATSAPP_PREFIX):].strip()
    return "sms", value


def take_message(hook: Webhook, *, now: datetime) -> MessageResult:
    """An inbound SMS or WhatsApp message: a new ticket on its channel, or a message on the sender's open one.

    The same Message SID is taken once. A new ticket's sender is texted the ticket number through the outbox.
    Media stay at Twilio: their URLs and types are recorded on the event, not downloaded. Flushes.
    """
    sid = hook.sid("MessageSid") or hook.sid("SmsMessageSid")
    sender = hook.get("From")
    if not sid or not sender:
        raise BadWebhook("MessageSid or From is missing")
    if not _claim_message(sid, now=now):
        log.info("message %s was already taken", sid)
        return MessageResult("duplicate")
    channel, number = split_address(sender)
    office = office_for(hook.get("To"))
    media = _media(hook)
    body = hook.get("Body") or _media_only_text(len(media))
    data: dict[str, Any] = {"message_sid": sid, "from": sender}
    if media:
        data["media"] = media
    if hook.get("ProfileName"):
        data["profile_name"] = hook.get("ProfileName")
    requester = _requester_for(number, fallback_name=hook.get("ProfileName") or f"Pengirim {_shown(number)}")
    ticket = _open_ticket_of(requester, office=office, channel=channel)
    if ticket is not None:
        tickets.add_message(ticket, direction="inbound", body=body, via=channel, at=now, data=data)
        log.info("%s message %s joined %s", channel, sid, ticket.ref)
        return MessageResult("reply", ticket.ref)
    ticket = tickets.open_ticket(office=office, requester=requester, channel=channel, subject="", body=body,
                                 received_at=now, event_data=data)
    tickets.text_requester(ticket, "ticket-number", at=now)
    log.info("%s message %s opened %s", channel, sid, ticket.ref)
    return MessageResult("ticket", ticket.ref)


def office_for(number: str) -> Office:
    """The office whose phone number Twilio was called or texted at, else the first office."""
    _, raw = split_address(number)
    wanted = normalise_phone(raw)
    offices = db.session.scalars(select(Office).order_by(Office.id)).all()
    if not offices:
        raise NoOffice("no office yet: run `helpdesk init`")
    if wanted is not None and wanted.valid:
        for office in offices:
            phone = normalise_phone(office.phone)
            if phone is not None and phone.value == wanted.value:
                return office
    return offices[0]


def message_status(hook: Webhook, *, now: datetime) -> None:
    """Twilio's delivery report on a message we sent: one that finally failed is marked so and its ticket flagged.

    Twilio took the message (the outbox row is ``sent``) but the carrier or WhatsApp could not deliver it
    (``failed``, ``undelivered``); any other status is only logged. Flushes.
    """
    sid, status = hook.sid("MessageSid"), hook.get("MessageStatus")
    if not sid or not status:
        raise BadWebhook("MessageSid or MessageStatus is missing")
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.external_id == sid).with_for_update())
    if message is None:
        log.info("status %s for message %s, which is not in the outbox", status, sid)
        return
    if status not in FAILED_MESSAGE_STATUSES or message.status == "failed":
        log.info("outbox %s (%s): %s", message.id, sid, status)
        return
    code = hook.get("ErrorCode")
    error = f"Twilio reported the message {status}" + (f" (error {code})" if code else "")
    message.status, message.last_error = "failed", error
    tickets.record_delivery(message, outcome="failed", error=error, at=now)
    log.warning("outbox %s (%s) to %s: %s", message.id, sid, message.recipient, error)


# -- SMS and WhatsApp out -----------------------------------------------------------------------------------

def text_configured(config: Mapping[str, Any]) -> bool:
    """Whether a Twilio account is configured, so the delivery job can send SMS and WhatsApp messages."""
    return bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"))


class BaseUrlHttpClient(TwilioHttpClient):
    """The library's HTTP client, sending what it would send to Twilio's hosts to ``base_url`` instead.

    For TWILIO_API_BASE_URL: a local stand-in that records requests in tests, or a gateway in front of Twilio.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base_url.rstrip("/"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def rest_client(config: Mapping[str, Any]) -> Client:
    """A ``twilio.rest.Client`` for the configured account, with a timeout, pointed at TWILIO_API_BASE_URL if set."""
    base_url = config.get("TWILIO_API_BASE_URL")
    http_client = (BaseUrlHttpClient(base_url, timeout=HTTP_TIMEOUT_SECONDS) if base_url
                   else TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS))
    return Client(config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN"), http_client=http_client)


def make_text_sender(config: Mapping[str, Any]) -> Callable[[OutboxMessage], None]:
    """The sender for ``helpdesk.delivery.deliver_due`` on the ``sms`` and ``whatsapp`` channels.

    Sends the outbox row through the Messages API (``whatsapp:`` addresses for WhatsApp) and keeps Twilio's Message
    SID in ``external_id``. With PUBLIC_BASE_URL, Twilio is asked to report the delivery to ``message_status``.
    Twilio's refusal of the message (HTTP 4xx: a bad number, an unreachable recipient...) is
    a PermanentDeliveryError; a 5xx answer, a connection problem, a rejected login (401), rate limiting (429) or a
    missing sender number (configuration, fixable by an admin) is a TemporaryDeliveryError.
    """
    client = rest_client(config) if text_configured(config) else None
    base = (config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    status_callback = base + MESSAGE_STATUS_PATH if base else None

    def send_text(message: OutboxMessage) -> None:
        if client is None:
            raise TemporaryDeliveryError("no Twilio account is configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)")
        sender = _sender_number(message.channel, config)
        to = _address(message.channel, message.recipient)
        with _delivery_errors():
            sent = client.messages.create(to=to, from_=sender, body=message.body, status_callback=status_callback)
        message.external_id = sent.sid
        log.info("outbox %s handed to Twilio as %s (%s)", message.id, sent.sid, sent.status)

    return send_text


def alert_twiml(text: str, *, repeat: int = 2) -> str:
    """An alert call: say ``text`` in Indonesian ``repeat`` times, with a pause between, then hang up."""
    response = VoiceResponse()
    for index in range(max(1, repeat)):
        if index:
            response.pause(length=1)
        response.say(text, language=LANGUAGE)
    response.hangup()
    return str(response)


def make_voice_sender(config: Mapping[str, Any]) -> Callable[[OutboxMessage], None]:
    """The sender for ``helpdesk.delivery.deliver_due`` on the ``voice`` channel: an alert call through Twilio.

    The outbox row's body is the text to say; the call is placed from TWILIO_PHONE_NUMBER with the TwiML inline
    (``<Say language="id-ID">``), so it needs no webhook. Twilio's Call SID is kept in ``external_id``. Errors are
    classified as for texts: a refused number is permanent, an outage or a missing configuration temporary.
    """
    client = rest_client(config) if text_configured(config) else None

    def send_call(message: OutboxMessage) -> None:
        if client is None:
            raise TemporaryDeliveryError("no Twilio account is configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)")
        sender = config.get("TWILIO_PHONE_NUMBER")
        if not sender:
            raise TemporaryDeliveryError("no Twilio phone number is configured (TWILIO_PHONE_NUMBER)")
        with _delivery_errors():
            call = client.calls.create(to=message.recipient, from_=sender, twiml=alert_twiml(message.body))
        message.external_id = call.sid
        log.info("outbox %s: alert call placed as %s", message.id, call.sid)

    return send_call


# -- internals ----------------------------------------------------------------------------------------------

@contextmanager
def _delivery_errors() -> Iterator[None]:
    """Turn what the Twilio client raises into the outbox's delivery errors (permanent or temporary)."""
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as exc:
        raise _delivery_error(exc) from exc
    except requests.RequestException as exc:
        raise TemporaryDeliveryError(f"cannot reach Twilio: {type(exc).__name__}: {exc}") from exc
    except TwilioException as exc:
        raise TemporaryDeliveryError(f"Twilio client error: {type(exc).__name__}") from exc


def _call_for(hook: Webhook, *, now: datetime) -> CallLog:
    """The call's log, locked for this transaction; created from the webhook the first time the call is heard of."""
    sid = hook.sid("CallSid")
    if not sid:
        raise BadWebhook("CallSid is missing")
    call = _locked_call(sid)
    if call is not None:
        return call
    raw = hook.get("From")
    phone = normalise_phone(raw)
    duration = _int(hook.get("CallDuration"))  # only when the status callback is the first we hear of the call
    call = CallLog(
        office_id=office_for(hook.get("To")).id, call_sid=sid, direction="inbound",
        from_number=(phone.value if phone is not None and phone.valid else raw)[:40], to_number=hook.get("To")[:40],
        started_at=now - timedelta(seconds=duration or 0), outcome="ringing")
    db.session.add(call)
    db.session.flush()
    return call


def _locked_call(sid: str) -> CallLog | None:
    """The call log of ``sid``, row-locked on PostgreSQL (SQLite: the receipt already holds the write lock)."""
    return db.session.scalar(select(CallLog).where(CallLog.call_sid == sid).with_for_update())


def _mark_answered(call: CallLog, *, desk: str | None) -> None:
    if call.outcome == "ringing":
        call.outcome = "answered"
    if desk and not call.answered_by:
        call.answered_by = desk
    db.session.flush()


def _open_call_back_ticket(call: CallLog, *, now: datetime) -> Ticket:
    """The phone ticket of a missed call or a voicemail: flagged call_back, the caller texted its number."""
    office = db.session.get(Office, call.office_id)
    shown = _shown(call.from_number)
    requester = _requester_for(call.from_number, fallback_name=f"Penelepon {shown}")
    when = f"{short_datetime(call.started_at, office.timezone)} {zone_abbreviation(office.timezone)}"
    data: dict[str, Any] = {"call_sid": call.call_sid, "call_log_id": call.id, "call_outcome": call.outcome,
                            "from": call.from_number}
    if call.outcome == "voicemail":
        subject = f"Pesan suara dari {shown}"
        body = (f"Penelepon {shown} meninggalkan pesan suara ({call.recording_seconds or 0} detik) pada {when}.\n"
                f"Rekaman: {call.recording_url}\nDengarkan pesannya, lalu hubungi kembali penelepon.")
        data.update(recording_url=call.recording_url, recording_sid=call.recording_sid,
                    recording_seconds=call.recording_seconds)
    else:
        subject = f"Panggilan tak terjawab dari {shown}"
        body = f"Panggilan dari {shown} pada {when} tidak terjawab. Hubungi kembali penelepon."
    ticket = tickets.open_ticket(office=office, requester=requester, channel="phone", subject=subject, body=body,
                                 received_at=call.started_at, event_data=data)
    tickets.flag(ticket, CALL_BACK, at=now)
    tickets.text_requester(ticket, "ticket-number", at=now)
    call.ticket_id = ticket.id
    db.session.flush()
    log.info("call %s (%s) became %s", call.call_sid, call.outcome, ticket.ref)
    return ticket


def _add_voicemail(call: CallLog, *, was: str, now: datetime) -> None:
    """A recording that arrived after the call's ticket was opened as a missed call: add it to that ticket."""
    ticket = db.session.get(Ticket, call.ticket_id)
    if ticket is None or ticket.status == Status.CLOSED:
        log.warning("call %s: voicemail %s kept on the call log only (ticket closed)", call.call_sid,
                    call.recording_url)
        return
    tickets.add_message(
        ticket, direction="inbound", via="phone", at=now,
        body=f"Pesan suara ({call.recording_seconds or 0} detik): {call.recording_url}",
        data={"call_sid": call.call_sid, "call_outcome": "voicemail", "recording_url": call.recording_url,
              "recording_sid": call.recording_sid, "recording_seconds": call.recording_seconds, "was": was})


def _requester_for(number: str, *, fallback_name: str) -> Requester:
    """The requester behind a caller's or sender's number; a new one named ``fallback_name`` when unknown.

    A known requester keeps their name. A hidden caller ID always makes a new requester, so anonymous callers are
    not merged into one person. A sender name that is not a number (an SMS from "TELKOMSEL") is kept as typed.
    """
    if _is_hidden(number):
        return find_or_create_requester(name=UNKNOWN_CALLER)
    known = find_requester(phone=number)
    if known is not None:
        return known
    return find_or_create_requester(name=fallback_name, phone=number)


def _is_hidden(number: str) -> bool:
    """Whether Twilio's From is no number at all: empty, or one of its stand-ins for a withheld caller ID."""
    return not (number or "").strip() or number.strip().lower() in HIDDEN_CALLER_IDS


def _open_ticket_of(requester: Requester, *, office: Office, channel: str) -> Ticket | None:
    """The requester's latest ticket on ``channel`` that is not closed (a resolved one is reopened by a reply)."""
    return db.session.scalar(
        select(Ticket).where(Ticket.requester_id == requester.id, Ticket.office_id == office.id,
                             Ticket.channel == channel, Ticket.status != Status.CLOSED.value)
        .order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(1))


def _claim_message(sid: str, *, now: datetime) -> bool:
    """Record the Message SID as taken; False when it was taken before. Flushes."""
    digest = hashlib.sha256(f"{MESSAGE_SOURCE}:{sid}".encode()).hexdigest()
    if db.session.scalar(select(WebhookReceipt.id).where(WebhookReceipt.digest == digest)) is not None:
        return False
    db.session.add(WebhookReceipt(source=MESSAGE_SOURCE, digest=digest, received_at=now))
    db.session.flush()
    return True


def _media(hook: Webhook) -> list[dict[str, str]]:
    """The message's media as Twilio sent them: ``[{"url", "content_type"}]`` (at most ten)."""
    count = min(_int(hook.get("NumMedia")) or 0, MAX_MEDIA)
    items = []
    for index in range(count):
        url = hook.get(f"MediaUrl{index}")
        if url:
            items.append({"url": url, "content_type": hook.get(f"MediaContentType{index}")})
    return items


def _media_only_text(count: int) -> str:
    """The body of a message that has no text, only media (or nothing at all)."""
    return f"(Pesan tanpa teks, {count} lampiran media)" if count else "(Pesan kosong)"


def _shown(number: str) -> str:
    """A number for people ("+62 812-3456-7890"), or words when the caller ID was withheld."""
    return "nomor tersembunyi" if _is_hidden(number) else format_phone(number)


MAX_WEBHOOK_INT: Final = 7 * 24 * 3600  # a week of seconds: no call, recording or media count is longer


def _int(value: str | None) -> int | None:
    """A count or duration Twilio sent, within [0, a week]; None when absent or not a number."""
    try:
        return min(max(int(value), 0), MAX_WEBHOOK_INT) if value not in (None, "") else None
    except ValueError:
        return None


def _sender_number(channel: str, config: Mapping[str, Any]) -> str:
    key = "TWILIO_WHATSAPP_NUMBER" if channel == "whatsapp" else "TWILIO_PHONE_NUMBER"
    number = (config.get(key) or "").strip()
    if not number:
        raise TemporaryDeliveryError(f"no sender number is configured for {channel} ({key})")
    return _address(channel, number)


def _address(channel: str, number: str) -> str:
    """``whatsapp:+62...`` on the WhatsApp channel, the plain E.164 number for SMS."""
    _, number = split_address(number)
    return f"{WHATSAPP_PREFIX}{number}" if channel == "whatsapp" else number


def _delivery_error(exc: TwilioRestException | TwilioServiceException) -> DeliveryError:
    """The delivery job's error for Twilio's answer: permanent for a refused message, temporary otherwise."""
    status = int(getattr(exc, "status", 0) or 0)
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None) or ""
    code = getattr(exc, "code", None)
    text = f"Twilio answered HTTP {status}" + (f" (error {code})" if code and code != status else "")
    text += f": {detail}" if detail else ""
    if status >= 500 or status in (0, 401, 429):
        return TemporaryDeliveryError(text)
    return PermanentDeliveryError(text)
