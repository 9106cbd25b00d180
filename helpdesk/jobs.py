"""Background work of a ``helpdesk serve`` process: the mail pollers and the outbox delivery jobs (email, texts).

The full scheduler (SLA sweep, reminders, reports, database locks between processes) comes with the
escalation work; until then this module starts what the email channel needs.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

log = logging.getLogger(__name__)

OUTBOX_INTERVAL_SECONDS = 30


def start_jobs(app: Flask) -> list[str]:
    """Start the pollers and the delivery jobs; returns one line per thing started, for the console."""
    from channels.email.poller import start_pollers
    from channels.twilio import text_configured

    lines = []
    _stop, threads = start_pollers(app)
    lines += [f"Mail poller started: {thread.name.removeprefix('mail-poll-')}" for thread in threads]
    if not threads:
        lines.append("No mailbox configured (HELPDESK_IMAP_HOST): email intake is off.")
    scheduler = BackgroundScheduler(timezone="UTC")
    if app.config.get("SMTP_HOST"):
        scheduler.add_job(_deliver_outbox, "interval", seconds=OUTBOX_INTERVAL_SECONDS, args=[app],
                          id="outbox", max_instances=1, coalesce=True)
        lines.append(f"Outbox delivery every {OUTBOX_INTERVAL_SECONDS} s through {app.config['SMTP_HOST']}.")
    else:
        lines.append("No SMTP server configured (HELPDESK_SMTP_HOST): outbound mail stays in the outbox, "
                     "readable at /admin/outbox.")
    if text_configured(app.config):
        scheduler.add_job(_deliver_texts, "interval", seconds=OUTBOX_INTERVAL_SECONDS, args=[app],
                          id="outbox-text", max_instances=1, coalesce=True)
        lines.append(f"SMS and WhatsApp delivery every {OUTBOX_INTERVAL_SECONDS} s through Twilio.")
    else:
        lines.append("No Twilio account configured (HELPDESK_TWILIO_ACCOUNT_SID, HELPDESK_TWILIO_AUTH_TOKEN): "
                     "SMS and WhatsApp messages stay in the outbox.")
    if scheduler.get_jobs():
        scheduler.start()
    return lines


def _deliver_outbox(app: Flask) -> None:
    from channels.email.smtp import make_sender

    from .delivery import deliver_due
    from .extensions import db

    with app.app_context():
        try:
            report = deliver_due(make_sender(app.config))
            if report.sent or report.failed or report.retried:
                log.info("outbox: sent %s, retrying %s, failed %s", report.sent, report.retried, report.failed)
        except Exception:
            log.exception("outbox delivery failed")
        finally:
            db.session.remove()


def _deliver_texts(app: Flask) -> None:
    """One run of the SMS and WhatsApp delivery through Twilio (channels/twilio.py)."""
    from channels.twilio import make_text_sender

    from .delivery import deliver_due
    from .extensions import db
    from .outbox import TEXT_CHANNELS

    with app.app_context():
        send = make_text_sender(app.config)
        for channel in TEXT_CHANNELS:
            try:
                deliver_due(send, channel=channel)
            except Exception:
                log.exception("outbox %s delivery failed", channel)
            finally:
                db.session.remove()
