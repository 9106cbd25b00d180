"""The optional HTTP mode of an escalation through LPSE Support: POST the fields as JSON to an integration gateway.

LPSE Support has no public API; some offices run a gateway that files the ticket for them. An escalation by TTS
with setting ``lkpp.gateway_url`` queues an outbox message of channel ``webhook`` (recipient: the URL, body: the
JSON, header ``escalation_id``); the ``outbox-webhook`` job delivers it with ``make_webhook_sender``. A 2xx answer
whose JSON carries ``ticket_number`` (or ``nomor_tiket``) records LKPP's number on the escalation, in the delivery
job's transaction.

Configuration: LKPP_GATEWAY_TIMEOUT (seconds, default 10) and LKPP_GATEWAY_TOKEN (sent as a bearer token; env
HELPDESK_LKPP_GATEWAY_TOKEN). Plain ``urllib``: the project does not depend on ``requests``.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from helpdesk import escalations, tickets
from helpdesk.delivery import PermanentDeliveryError, TemporaryDeliveryError
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import Escalation, OutboxMessage, Ticket

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES: Final = 1024 * 1024
RETRIED_STATUSES: Final = frozenset({408, 425, 429})


def make_webhook_sender(config: Mapping[str, Any]) -> Callable[[OutboxMessage], None]:
    """The sender for ``helpdesk.delivery.deliver_due(..., channel="webhook")``: POST the row's JSON body.

    Raises TemporaryDeliveryError for no connection, a timeout, a 5xx, 408, 425 or 429 answer (retried from the
    outbox), PermanentDeliveryError for a URL that is not http(s) and for other 4xx and 3xx answers. Needs an app
    context (a returned ticket number is recorded on the escalation).
    """
    timeout = float(config.get("LKPP_GATEWAY_TIMEOUT") or 10)
    token = config.get("LKPP_GATEWAY_TOKEN") or None

    def send_webhook(message: OutboxMessage) -> None:
        url = (message.recipient or "").strip()
        if not url.lower().startswith(("http://", "https://")):
            raise PermanentDeliveryError(f"the gateway address {url!r} is not an http(s) URL")
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
                   "User-Agent": "lpse-helpdesk", "Idempotency-Key": f"lpse-helpdesk-outbox-{message.id}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=(message.body or "").encode("utf-8"), headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme was checked above
                status, answer = response.status, response.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            detail = _text(exc.read(2000) if exc.fp is not None else b"")
            error = f"the LKPP gateway answered {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
            if exc.code >= 500 or exc.code in RETRIED_STATUSES:
                raise TemporaryDeliveryError(error) from exc
            raise PermanentDeliveryError(error) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise TemporaryDeliveryError(f"cannot reach the LKPP gateway {url}: {reason}") from exc
        if not 200 <= status < 300:
            raise PermanentDeliveryError(f"the LKPP gateway answered {status}")
        _record_number(message, answer)

    return send_webhook


def _record_number(message: OutboxMessage, answer: bytes) -> None:
    """Record the LKPP ticket number a gateway's answer carries, if any. Delivered is delivered: a number that is
    not one becomes a note for the officers, never a retry (which would file the ticket twice)."""
    try:
        data = json.loads(answer.decode("utf-8")) if answer.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return
    if not isinstance(data, dict):
        return
    number = data.get("ticket_number") or data.get("nomor_tiket")
    escalation_id = (message.headers or {}).get("escalation_id")
    if number in (None, "") or escalation_id is None:
        return
    escalation = db.session.get(Escalation, int(escalation_id))
    if escalation is None:
        log.warning("outbox %s: the gateway's ticket number %r names no escalation", message.id, number)
        return
    try:
        escalations.record_external_ref(escalation, str(number), source="gateway")
    except ValidationError as exc:
        ticket = db.session.get(Ticket, escalation.ticket_id)
        log.warning("%s: the LKPP gateway returned a ticket number that is not one: %s", ticket.ref, exc)
        tickets.add_note(ticket, actor=None, body=(
            f"Gateway LKPP mengembalikan nomor tiket {str(number)[:100]!r} yang tidak sesuai pola nomor tiket LKPP. "
            f"Catat nomor tiket LKPP yang benar pada eskalasi secara manual. ({exc})"))


def _text(data: bytes) -> str:
    return " ".join(data.decode("utf-8", errors="replace").split())[:300]
