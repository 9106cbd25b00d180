"""Log lines never carry secrets or whole NPWP/NIK (helpdesk/logsafe.py): real flows run with known secrets
configured — a sign-in with a wrong password, a poll of the real Dovecot with a wrong password, an outbox send the
real SMTP server refuses, a Twilio webhook with a bad signature — and every log line is read: the expected lines are
there, the secrets and the whole numbers are not."""
from __future__ import annotations

import logging

import pytest

from helpdesk.extensions import db
from helpdesk.logsafe import REDACTED, RedactingFilter, sanitize
from helpdesk.outbox import enqueue_email
from helpdesk.scheduler import run_scheduled

NPWP = "01.234.567.8-901.000"
NIK = "3201234567890123"
SECRETS = {
    "SECRET_KEY": "kunci-rahasia-aplikasi-0123456789abcdef",
    "IMAP_PASSWORD": "Sandi-IMAP-Salah-777",
    "SMTP_PASSWORD": "Sandi-SMTP-Rahasia-555",
    "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
    "METRICS_TOKEN": "token-metrik-rahasia-42",
    "LKPP_GATEWAY_TOKEN": "token-gateway-lkpp-99",
}
MAILBOX_PASSWORD = "Sandi-Kotak-Kedua-314"
DB_PASSWORD = "Sandi-Basisdata-2718"
LOGGERS = ("", "werkzeug", "waitress", "helpdesk", "channels", "escalation", "imapclient", "sqlalchemy")


@pytest.fixture
def all_logs(caplog):
    """Every record at DEBUG from every logger the app and its servers use."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def secrets_everywhere(app) -> list[str]:
    return [*SECRETS.values(), MAILBOX_PASSWORD, DB_PASSWORD]


def assert_clean(caplog, app) -> str:
    """All the captured output, checked: no secret, no whole NPWP or NIK (messages and tracebacks)."""
    text = "\n".join(caplog.handler.format(record) for record in caplog.records)
    for secret in secrets_everywhere(app):
        assert secret not in text, secret
    digits = text.replace(".", "").replace("-", "")
    assert NPWP not in text and NPWP.replace(".", "").replace("-", "") not in digits and NIK not in text
    return text


@pytest.fixture
def secret_app(app):
    app.config.update(SECRETS)
    app.config["MAILBOXES"] = [{"name": "kedua", "host": "127.0.0.1", "port": 1, "user": "x",
                                "password": MAILBOX_PASSWORD, "security": "plain"}]
    app.config["RATELIMIT_STORAGE_URI_BACKUP"] = f"redis://:{DB_PASSWORD}@127.0.0.1:6379/0"
    return app


def test_a_failed_sign_in_logs_the_refusal_without_the_password(secret_app, client, make_staff, all_logs):
    officer = make_staff()
    # An officer who typed a password into the email box: the line says what was typed, redacted.
    client.post("/login", data={"email": SECRETS["SMTP_PASSWORD"], "password": SECRETS["IMAP_PASSWORD"]})
    client.post("/login", data={"email": officer.email, "password": f"NIK saya {NIK}"})
    text = assert_clean(all_logs, secret_app)
    assert f"sign-in refused (invalid) for '{REDACTED}'" in text
    assert f"sign-in refused (invalid) for '{officer.email}'" in text


def test_a_poll_with_a_wrong_imap_password_logs_the_failure_only(secret_app, office, dovecot, all_logs):
    secret_app.config.update(IMAP_HOST=dovecot.host, IMAP_PORT=dovecot.port, IMAP_USER=dovecot.user,
                             IMAP_SECURITY="plain", IMAP_OFFICE=office.code, MAILBOXES=None)
    run_scheduled(secret_app, "mail-poll")  # as the scheduler runs it: the failure is logged, not raised
    text = assert_clean(all_logs, secret_app)
    assert "job mail-poll: " in text and "Authentication failed" in text
    assert "LOGIN **REDACTED**" in text  # imapclient's own protocol log hides the password too


def test_a_refused_outbox_send_logs_the_refusal_and_masks_identity_numbers(secret_app, smtp, make_ticket, all_logs):
    secret_app.config.update(**smtp.config(SMTP_PASSWORD=SECRETS["SMTP_PASSWORD"], SMTP_USER=None),
                             MAIL_FROM="helpdesk@lpse-uji.example.go.id", OUTBOX_MAX_ATTEMPTS=1)
    ticket = make_ticket(channel="email", subject=f"NPWP {NPWP} tidak dikenali")
    smtp.reject("budi@cvmaju.example.co.id", f"550 5.1.1 no mailbox for NPWP {NPWP} NIK {NIK}")
    enqueue_email(to="budi@cvmaju.example.co.id", template="acknowledgement", ticket=ticket)
    db.session.commit()
    run_scheduled(secret_app, "outbox-email")
    text = assert_clean(all_logs, secret_app)
    assert "failed" in text and "550" in text and "••.•••.•••.•-••1.000" in text


def test_a_twilio_webhook_with_a_bad_signature_is_logged_without_the_token(secret_app, client, all_logs):
    response = client.post("/twilio/voice", data={"CallSid": "CA1", "From": "+6281234567890"},
                           headers={"X-Twilio-Signature": SECRETS["TWILIO_AUTH_TOKEN"]})
    assert response.status_code == 403
    text = assert_clean(all_logs, secret_app)
    assert "Twilio webhook refused" in text


def test_a_child_loggers_own_handler_gets_clean_records_too(secret_app, capsys):
    logger = logging.getLogger("helpdesk.test.isolated")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        url = f"postgresql://helpdesk:{DB_PASSWORD}@db.internal/helpdesk"
        logger.error("connecting to %s with key %s for NPWP %s", url, SECRETS["SECRET_KEY"], NPWP)
        try:
            raise RuntimeError(f"login {SECRETS['IMAP_PASSWORD']} refused for NIK {NIK}")
        except RuntimeError:
            logger.exception("mailbox %s failed", MAILBOX_PASSWORD)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    err = capsys.readouterr().err
    assert "connecting to postgresql://helpdesk:[redacted]@db.internal/helpdesk with key [redacted]" in err
    assert "RuntimeError: login [redacted] refused for NIK ••••••••••••0123" in err
    assert "mailbox [redacted] failed" in err
    for secret in secrets_everywhere(secret_app):
        assert secret not in err
    assert NPWP not in err and NIK not in err


def test_the_filter_cleans_records_made_without_the_factory(secret_app):
    record = logging.makeLogRecord({"msg": "token %s npwp %s", "args": (SECRETS["METRICS_TOKEN"], NPWP)})
    RedactingFilter().filter(record)
    assert record.getMessage() == f"token {REDACTED} npwp ••.•••.•••.•-••1.000"
    assert sanitize("short ab12") == "short ab12"  # ordinary text is left alone
