"""Background work of a ``helpdesk serve`` process: the mail pollers and the outbox delivery job.

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
    """Start the pollers and the delivery job; returns one line per thing started, for the console."""
    from channels.email.poller import start_pollers

    lines = []
    _stop, threads = start_pollers(app)
    lines += [f"Mail poller started: {thread.name.removeprefix('mail-poll-')}" for thread in threads]
    if not threads:
        lines.append("No mailbox configured (HELPDESK_IMAP_HOST): email intake is off.")
    if app.config.get("SMTP_HOST"):
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(_deliver_outbox, "interval", seconds=OUTBOX_INTERVAL_SECONDS, args=[app],
                          id="outbox", max_instances=1, coalesce=True)
        scheduler.start()
        lines.append(f"Outbox delivery every {OUTBOX_INTERVAL_SECONDS} s through {app.config['SMTP_HOST']}.")
    else:
        lines.append("No SMTP server configured (HELPDESK_SMTP_HOST): outbound mail stays in the outbox, "
                     "readable at /admin/outbox.")
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
