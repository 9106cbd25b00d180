"""Send email over SMTP (smtplib), and the outbox sender the delivery job is given for the email channel.

Errors come in two kinds, both with a message an officer can read and never the password:
``SmtpTemporaryError`` (no connection, a timeout, a 4xx reply, and everything that is wrong with our side rather
than with the message: TLS, login, STARTTLS not offered) and ``SmtpPermanentError`` (a 5xx reply to the message
itself: sender, recipient or content refused).
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage, Message
from email.utils import getaddresses
from typing import Any, Final

from helpdesk.delivery import PermanentDeliveryError, TemporaryDeliveryError
from helpdesk.models import OutboxMessage

from .compose import ComposeError, NoSenderAddress, compose, office_of, sender_address

log = logging.getLogger(__name__)

DEFAULT_PORTS: Final = {"ssl": 465, "starttls": 587, "plain": 25}


class SmtpError(Exception):
    """SMTP delivery failed; the message is meant for staff and never contains the password."""


class SmtpTemporaryError(SmtpError):
    """Trying again later may work: no connection, a timeout, a 4xx reply, a TLS or login problem."""


class SmtpPermanentError(SmtpError):
    """The server refused this message for good (a 5xx reply to its sender, recipients or content)."""


def send(msg: EmailMessage | Message, *, config: Mapping[str, Any]) -> None:
    """Send ``msg`` through the server of SMTP_HOST, SMTP_PORT and SMTP_SECURITY, logging in when SMTP_USER is set.

    The envelope sender is the address of From; the envelope recipients are the addresses of To, Cc and Bcc.
    Verifies the server's certificate (ssl and starttls) against the system's CAs. A failure after the server
    accepted the message (QUIT) is ignored. Raises SmtpTemporaryError or SmtpPermanentError.
    """
    host = config.get("SMTP_HOST")
    if not host:
        raise SmtpTemporaryError("no SMTP server is configured (SMTP_HOST)")
    security = str(config.get("SMTP_SECURITY") or "starttls").lower()
    if security not in DEFAULT_PORTS:
        raise SmtpTemporaryError(f"SMTP_SECURITY is {security!r}; use ssl, starttls or plain")
    port = int(config.get("SMTP_PORT") or DEFAULT_PORTS[security])
    timeout = float(config.get("MAIL_TIMEOUT_SECONDS") or 60)
    user, password = config.get("SMTP_USER"), config.get("SMTP_PASSWORD") or ""
    server = f"{host}:{port}"
    envelope_from = _addresses(msg, "From")
    recipients = _addresses(msg, "To", "Cc", "Bcc")
    if len(envelope_from) != 1 or not recipients:
        raise SmtpPermanentError("the message needs exactly one From address and at least one recipient")

    def scrub(text: str) -> str:
        return text.replace(password, "********") if password else text

    context = ssl.create_default_context()
    try:
        if security == "ssl":
            connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpTemporaryError(scrub(f"cannot connect to the SMTP server {server}: {_describe(exc)}")) from exc
    try:
        try:
            connection.ehlo()
            if security == "starttls":
                connection.starttls(context=context)
                connection.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            what = "STARTTLS" if security == "starttls" else "EHLO"
            raise SmtpTemporaryError(scrub(f"{what} with the SMTP server {server} failed: {_describe(exc)}")) from exc
        if user:
            try:
                connection.login(user, password)
            except (OSError, smtplib.SMTPException) as exc:
                # A refused login is our configuration, not the message: retry after the admin fixes it.
                raise SmtpTemporaryError(
                    scrub(f"the SMTP server {server} refused the login of {user}: {_describe(exc)}")) from exc
        try:
            refused = connection.send_message(msg, from_addr=envelope_from[0], to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = {rcpt: f"{code} {_text(reply)}" for rcpt, (code, reply) in exc.recipients.items()}
            error = _error_class(*(code for code, _ in exc.recipients.values()))
            raise error(scrub("the SMTP server refused the recipient: " + "; ".join(
                f"{rcpt}: {reply}" for rcpt, reply in replies.items()))) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _error_class(exc.smtp_code)(scrub(
                f"the SMTP server refused the sender {envelope_from[0]}: {_describe(exc)}")) from exc
        except smtplib.SMTPResponseException as exc:
            raise _error_class(exc.smtp_code)(scrub(
                f"the SMTP server {server} refused the message: {_describe(exc)}")) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. an internationalised address without SMTPUTF8
            raise SmtpPermanentError(scrub(f"the SMTP server {server} cannot take this message: {exc}")) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpTemporaryError(scrub(f"sending to the SMTP server {server} failed: {_describe(exc)}")) from exc
        if refused:  # some recipients accepted: they have the message, so it must not be sent again
            log.warning("SMTP server %s refused some recipients: %s", server, refused)
    finally:
        _close(connection)


def make_sender(config: Mapping[str, Any]) -> Callable[[OutboxMessage], None]:
    """The email sender for ``helpdesk.delivery.deliver_due``: compose the outbox row, send it over SMTP.

    Translates this module's errors into the delivery job's: SmtpPermanentError and a row that cannot be
    composed become PermanentDeliveryError; SmtpTemporaryError and a missing sender address (configuration)
    become TemporaryDeliveryError. Needs an app context (the row's ticket and office are looked up).
    """
    def send_outbox_message(message: OutboxMessage) -> None:
        try:
            sender = sender_address(office_of(message), config=config)
            mail = compose(message, sender=sender, loop_header=config["MAIL_LOOP_HEADER"])
        except NoSenderAddress as exc:
            raise TemporaryDeliveryError(str(exc)) from exc
        except ComposeError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        try:
            send(mail, config=config)
        except SmtpPermanentError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        except SmtpTemporaryError as exc:
            raise TemporaryDeliveryError(str(exc)) from exc
    return send_outbox_message


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [str(value) for name in names for value in msg.get_all(name, [])]
    return [addr for _, addr in getaddresses(values) if addr]


def _error_class(*codes: int) -> type[SmtpError]:
    """Permanent when every reply is 5xx; temporary when any is 4xx (or not a reply code at all)."""
    return SmtpPermanentError if codes and all(500 <= code < 600 for code in codes) else SmtpTemporaryError


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate could not be verified ({exc.verify_message})"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _close(connection: smtplib.SMTP) -> None:
    """QUIT politely; the message is already accepted, so a server that hangs up now changes nothing."""
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()
