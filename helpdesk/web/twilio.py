"""Twilio webhooks: voice calls, SMS and WhatsApp, each request's signature checked (channels/twilio.py does the work).

Every route is a POST from Twilio, exempt from CSRF because Twilio signs it instead. A request whose
X-Twilio-Signature is missing or wrong, or one already taken (a replay), gets an empty 403 and a log line, and
nothing is written; without TWILIO_AUTH_TOKEN every request is refused. A request taken is one transaction: its
receipt and the work it caused commit together. Responses are TwiML (text/xml).

The URL checked is the one Twilio requested: PUBLIC_BASE_URL + the path when configured (behind a reverse proxy the
server's own idea of its URL differs), else the request's URL.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.datastructures import MultiDict

from channels import twilio
from channels.twilio import BadWebhook, NoOffice, VoiceUrls, Webhook, WebhookRefused

from ..extensions import csrf, db
from ..timeutil import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/twilio")
csrf.exempt(bp)

TWIML = "text/xml"
_warned_unconfigured: set[int] = set()  # apps already told that TWILIO_AUTH_TOKEN is missing


def public_url(path: str) -> str:
    """The absolute URL of ``path`` (a path inside the app) as Twilio reaches it."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + path
    return request.host_url.rstrip("/") + request.script_root + path


def signed_url() -> str:
    """The URL Twilio requested and signed: PUBLIC_BASE_URL + path (and query) when configured, else request.url."""
    if not current_app.config.get("PUBLIC_BASE_URL"):
        return request.url
    query = request.query_string.decode("latin-1")
    return public_url(request.path) + (f"?{query}" if query else "")


def _voice_urls() -> VoiceUrls:
    def path(endpoint: str) -> str:
        return url_for(endpoint)[len(request.script_root):]

    return VoiceUrls(dial_done=public_url(path(".dial_done")), recorded=public_url(path(".recorded")),
                     desk_answered=public_url(path(".desk_answered")))


def _refuse(reason: str) -> Response:
    """An empty 403, with a log line naming the path, the client and the reason (never the parameters)."""
    if reason == "not_configured":
        app_id = id(current_app._get_current_object())
        if app_id not in _warned_unconfigured:
            _warned_unconfigured.add(app_id)
            log.error("Twilio webhooks are refused: TWILIO_AUTH_TOKEN is not configured")
    else:
        log.warning("Twilio webhook refused (%s): %s from %s", reason, request.path, request.remote_addr)
    return Response("", status=403, mimetype="text/plain")


def signed_webhook(handler: Callable[[Webhook], str | None]) -> Callable[[], Response]:
    """Verify the request, take its receipt, run ``handler`` and commit; its TwiML (or an empty one) is the answer."""

    @wraps(handler)
    def view() -> Response:
        hook = Webhook(url=signed_url(), params=MultiDict(request.form.items(multi=True)),
                       signature=request.headers.get("X-Twilio-Signature"))
        try:
            twilio.verify(hook, auth_token=current_app.config.get("TWILIO_AUTH_TOKEN"))
            twilio.take_receipt(hook, now=utcnow())
            twiml = handler(hook)
            db.session.commit()
        except WebhookRefused as exc:
            db.session.rollback()
            return _refuse(exc.reason)
        except BadWebhook as exc:
            db.session.rollback()
            log.warning("Twilio webhook %s refused as malformed: %s", request.path, exc)
            return Response("", status=400, mimetype="text/plain")
        except NoOffice as exc:
            db.session.rollback()
            log.error("Twilio webhook %s not taken: %s", request.path, exc)
            return Response("", status=503, mimetype="text/plain")
        except Exception:
            db.session.rollback()
            raise
        return Response(twiml or twilio.empty_twiml(), mimetype=TWIML)

    return view


@bp.post("/voice")
@signed_webhook
def voice(hook: Webhook) -> str:
    """An incoming call: greeting, then the desk phones during office hours, else a voicemail."""
    return twilio.answer_call(hook, urls=_voice_urls(), now=utcnow())


@bp.post("/voice/dial-done")
@signed_webhook
def dial_done(hook: Webhook) -> str:
    """<Dial action>: the desks' ringing ended, answered or not."""
    return twilio.dial_finished(hook, urls=_voice_urls(), now=utcnow())


@bp.post("/voice/desk-answered")
@signed_webhook
def desk_answered(hook: Webhook) -> None:
    """<Number statusCallback> (answered): which desk took the call."""
    twilio.desk_answered(hook, now=utcnow())


@bp.post("/voice/recorded")
@signed_webhook
def recorded(hook: Webhook) -> str:
    """<Record action>: the caller left a voicemail."""
    return twilio.voicemail_recorded(hook, now=utcnow())


@bp.post("/voice/status")
@signed_webhook
def status(hook: Webhook) -> None:
    """The number's call status callback: the call ended (its duration, and a missed call becomes a ticket)."""
    twilio.call_status(hook, now=utcnow())


@bp.post("/messages")
@signed_webhook
def messages(hook: Webhook) -> None:
    """An inbound SMS or WhatsApp message; the ticket number goes back through the outbox, not in the answer."""
    twilio.take_message(hook, now=utcnow())


@bp.post("/messages/status")
@signed_webhook
def message_status(hook: Webhook) -> None:
    """The status callback of a message we sent: a message the carrier could not deliver flags its ticket."""
    twilio.message_status(hook, now=utcnow())
