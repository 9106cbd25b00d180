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
from collections.abc import Mapping
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
    with SmtpSession(config) as session:
        session.send(msg)


class _ConnectionLost(Exception):
    """The connection broke while sending (not a reply from the server): a kept connection may have gone stale."""

    def __init__(self, error: SmtpTemporaryError) -> None:
        super().__init__(str(error))
        self.error = error


class SmtpSession:
    """One connection to the SMTP server, opened at the first message and kept for the next ones until ``close``.

    A delivery run sends its messages over one connection (one TLS handshake and login, not one per message).
    A refusal of one message leaves the connection usable; a broken connection is dropped, and a kept one that
    went stale is reopened once before the message counts as failed.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = config.get("SMTP_HOST")
        self.security = str(config.get("SMTP_SECURITY") or "starttls").lower()
        self.port = int(config.get("SMTP_PORT") or DEFAULT_PORTS.get(self.security, 0))
        self.timeout = float(config.get("MAIL_TIMEOUT_SECONDS") or 60)
        self.user, self.password = config.get("SMTP_USER"), config.get("SMTP_PASSWORD") or ""
        self.server = f"{self.host}:{self.port}"
        self.connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, msg: EmailMessage | Message) -> None:
        """Send one message; raises SmtpTemporaryError or SmtpPermanentError (see the module's docstring)."""
        if not self.host:
            raise SmtpTemporaryError("no SMTP server is configured (SMTP_HOST)")
        if self.security not in DEFAULT_PORTS:
            raise SmtpTemporaryError(f"SMTP_SECURITY is {self.security!r}; use ssl, starttls or plain")
        envelope_from = _addresses(msg, "From")
        recipients = _addresses(msg, "To", "Cc", "Bcc")
        if len(envelope_from) != 1 or not recipients:
            raise SmtpPermanentError("the message needs exactly one From address and at least one recipient")
        reused = self.connection is not None
        try:
            self._transmit(msg, envelope_from[0], recipients)
        except _ConnectionLost as lost:
            self.close()
            if not reused:
                raise lost.error from lost
            log.info("SMTP server %s: the kept connection was gone (%s); connecting again", self.server, lost)
            try:
                self._transmit(msg, envelope_from[0], recipients)
            except _ConnectionLost as again:
                self.close()
                raise again.error from again

    def close(self) -> None:
        if self.connection is not None:
            _close(self.connection)
            self.connection = None

    def _scrub(self, text: str) -> str:
        return text.replace(self.password, "********") if self.password else text

    def _open(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            if self.security == "ssl":
                connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpTemporaryError(
                self._scrub(f"cannot connect to the SMTP server {self.server}: {_describe(exc)}")) from exc
        try:
            try:
                connection.ehlo()
                if self.security == "starttls":
                    connection.starttls(context=context)
                    connection.ehlo()
            except (OSError, smtplib.SMTPException) as exc:
                what = "STARTTLS" if self.security == "starttls" else "EHLO"
                raise SmtpTemporaryError(
                    self._scrub(f"{what} with the SMTP server {self.server} failed: {_describe(exc)}")) from exc
            if self.user:
                try:
                    connection.login(self.user, self.password)
                except (OSError, smtplib.SMTPException) as exc:
                    # A refused login is our configuration, not the message: retry after the admin fixes it.
                    raise SmtpTemporaryError(self._scrub(
                        f"the SMTP server {self.server} refused the login of {self.user}: {_describe(exc)}")) from exc
        except SmtpTemporaryError:
            _close(connection)
            raise
        return connection

    def _transmit(self, msg: EmailMessage | Message, envelope_from: str, recipients: list[str]) -> None:
        if self.connection is None:
            self.connection = self._open()
        server, scrub = self.server, self._scrub
        try:
            refused = self.connection.send_message(msg, from_addr=envelope_from, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = {rcpt: f"{code} {_text(reply)}" for rcpt, (code, reply) in exc.recipients.items()}
            error = _error_class(*(code for code, _ in exc.recipients.values()))
            raise error(scrub("the SMTP server refused the recipient: " + "; ".join(
                f"{rcpt}: {reply}" for rcpt, reply in replies.items()))) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _error_class(exc.smtp_code)(scrub(
                f"the SMTP server refused the sender {envelope_from}: {_describe(exc)}")) from exc
        except smtplib.SMTPResponseException as exc:
            raise _error_class(exc.smtp_code)(scrub(
                f"the SMTP server {server} refused the message: {_describe(exc)}")) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. an internationalised address without SMTPUTF8
            raise SmtpPermanentError(scrub(f"the SMTP server {server} cannot take this message: {exc}")) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _ConnectionLost(SmtpTemporaryError(
                scrub(f"sending to the SMTP server {server} failed: {_describe(exc)}"))) from exc
        if refused:  # some recipients accepted: they have the message, so it must not be sent again
            log.warning("SMTP server %s refused some recipients: %s", server, refused)


class OutboxSender:
    """The email sender for ``helpdesk.delivery.deliver_due``: compose the outbox row, send it over SMTP.

    Translates this module's errors into the delivery job's: SmtpPermanentError and a row that cannot be
    composed become PermanentDeliveryError; SmtpTemporaryError and a missing sender address (configuration)
    become TemporaryDeliveryError. Keeps one SMTP connection for the run; ``deliver_due`` closes it at the end.
    Needs an app context (the row's ticket and office are looked up).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.session = SmtpSession(config)

    def __call__(self, message: OutboxMessage) -> None:
        try:
            sender = sender_address(office_of(message), config=self.config)
            mail = compose(message, sender=sender, loop_header=self.config["MAIL_LOOP_HEADER"])
        except NoSenderAddress as exc:
            raise TemporaryDeliveryError(str(exc)) from exc
        except ComposeError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        try:
            self.session.send(mail)
        except SmtpPermanentError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        except SmtpTemporaryError as exc:
            raise TemporaryDeliveryError(str(exc)) from exc

    def close(self) -> None:
        self.session.close()


def make_sender(config: Mapping[str, Any]) -> OutboxSender:
    """The email sender for ``helpdesk.delivery.deliver_due`` (an ``OutboxSender``)."""
    return OutboxSender(config)


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
