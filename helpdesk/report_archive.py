"""Producing, archiving and sending the daily SLA report (and archiving quarterly reports).

A report is archived the first time it is produced for its period (``report_archive``: its figures as JSON), so
any past day can be opened again as it was sent. The daily job (``run_daily_reports``) produces the report of the
previous working day once the office's ``reports.daily_time`` has passed on a working day, archives it and sends
it by email — an HTML body with the CSV attached, one outbox message per recipient (``report_delivery``), so a
recipient whose mail bounces is recorded on that delivery while the others are still sent.
"""
from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, time
from typing import Any

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import settings
from .blobs import store_blob
from .calendars import calendar_for
from .extensions import db
from .mail_ids import make_message_id
from .models import Office, OutboxMessage, ReportArchive, ReportDelivery
from .reports import daily_report, local_today, previous_working_day
from .staff_notices import office_heads
from .timeutil import as_utc, utcnow

log = logging.getLogger(__name__)


def archived(office: Office, kind: str, first: date) -> ReportArchive | None:
    return db.session.scalar(select(ReportArchive).where(
        ReportArchive.office_id == office.id, ReportArchive.kind == kind, ReportArchive.period_start == first))


def archive_daily(office: Office, day: date | None = None, *, now: datetime | None = None) -> ReportArchive:
    """The archived daily report of ``day`` (default: the previous working day), produced and stored if it is
    not archived yet. Flushes, never commits."""
    now = as_utc(now) if now is not None else utcnow()
    day = day or previous_working_day(office, local_today(office, now))
    existing = archived(office, "daily", day)
    if existing is not None:
        return existing
    report = ReportArchive(office_id=office.id, kind="daily", period_start=day, period_end=day,
                           data=daily_report(office, day, now=now), generated_at=now)
    db.session.add(report)
    db.session.flush()
    return report


def daily_recipients(office: Office) -> list[str]:
    """``reports.daily_recipients``, or the heads of the LPSE when that is empty."""
    configured = [address.strip().lower() for address in settings.get_setting("reports.daily_recipients") or ()
                  if address and address.strip()]
    return configured or [staff.email.lower() for staff in office_heads(office.id) if staff.email]


def send_daily(report: ReportArchive, recipients: list[str], *, now: datetime | None = None) -> list[ReportDelivery]:
    """Queue the report to each recipient not sent to yet: HTML body, plain-text summary, the CSV attached."""
    now = as_utc(now) if now is not None else utcnow()
    office = db.session.get(Office, report.office_id)
    done = set(db.session.scalars(select(ReportDelivery.recipient).where(ReportDelivery.report_id == report.id)))
    csv_name = f"laporan-harian-{office.code}-{report.period_start.isoformat()}.csv"
    blob = store_blob(report_csv(report.data).encode("utf-8-sig"), content_type="text/csv")
    with force_locale("id"):
        subject = " ".join(render_template("mail/daily-report/subject.txt", report=report.data, office=office).split())
        body = render_template("mail/daily-report/body.txt", report=report.data, office=office)
        html = render_template("mail/daily-report/body.html", report=report.data, office=office)
    deliveries = []
    for address in recipients:
        if address in done:
            continue
        message = OutboxMessage(
            channel="email", recipient=address, subject=subject, body=body, body_html=html, automatic=True,
            template="daily-report", created_at=now, next_attempt_at=now,
            message_id=make_message_id(None, office_email=office.email),
            attachments=[{"blob": blob.sha256, "filename": csv_name, "content_type": "text/csv"}])
        db.session.add(message)
        db.session.flush()
        delivery = ReportDelivery(report_id=report.id, recipient=address, outbox_id=message.id, created_at=now)
        db.session.add(delivery)
        deliveries.append(delivery)
    db.session.flush()
    return deliveries


def deliveries(report: ReportArchive) -> list[ReportDelivery]:
    return list(db.session.scalars(select(ReportDelivery).where(ReportDelivery.report_id == report.id)
                                   .order_by(ReportDelivery.id)))


def due_time(office: Office, today: date) -> datetime:
    """When the daily report goes out on ``today`` (office local time ``reports.daily_time``)."""
    return as_utc(datetime.combine(today, time.fromisoformat(settings.get_setting("reports.daily_time")),
                                   calendar_for(office).tz))


def run_daily_reports(now: datetime | None = None) -> int:
    """The scheduler's job: on a working day after ``reports.daily_time``, archive and send each office's report
    of the previous working day, once. Commits per office; returns how many reports were sent."""
    now = as_utc(now) if now is not None else utcnow()
    sent = 0
    for office in db.session.scalars(select(Office).order_by(Office.id)).all():
        today = local_today(office, now)
        if not calendar_for(office).is_working_day(today) or now < due_time(office, today):
            continue
        day = previous_working_day(office, today)
        if archived(office, "daily", day) is not None:
            continue
        try:
            report = archive_daily(office, day, now=now)
            send_daily(report, daily_recipients(office), now=now)
            db.session.commit()
        except IntegrityError:  # another process archived it first
            db.session.rollback()
            continue
        sent += 1
        log.info("daily report of %s for %s archived and queued", office.code, day.isoformat())
    return sent


# -- CSV ----------------------------------------------------------------------------------------------------

def report_csv(data: dict[str, Any]) -> str:
    """The report as CSV rows ``section, item, value, detail`` (Indonesian section names)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["bagian", "butir", "nilai", "keterangan"])
    received = data["received"]
    writer.writerow(["laporan masuk", "jumlah", received["total"], ""])
    for group, name in (("by_channel", "kanal"), ("by_application", "aplikasi"), ("by_requester_role", "peran"),
                        ("by_ticket_type", "jenis tiket")):
        for key, count in received[group].items():
            writer.writerow(["laporan masuk", f"{name}: {key}", count, ""])
    due = data["follow_up_due"]
    for key in ("total", "met", "late", "missing", "met_by_faq_answer", "met_share"):
        writer.writerow(["tindak lanjut jatuh tempo", key, "" if due[key] is None else due[key], ""])
    follow_ups = data["follow_ups"]
    writer.writerow(["tindak lanjut", "oleh petugas", follow_ups["human"], ""])
    writer.writerow(["tindak lanjut", "jawaban FAQ otomatis", follow_ups["faq_answer"], ""])
    for key, label in (("time_to_first_follow_up", "waktu ke tindak lanjut pertama (jam kerja)"),):
        summary = follow_ups[key]
        writer.writerow(["tindak lanjut", f"{label} median", _blank(summary["median_hours"]), summary["count"]])
        writer.writerow(["tindak lanjut", f"{label} p90", _blank(summary["p90_hours"]), summary["count"]])
    for part in ("total", "lpse", "requester", "lkpp"):
        summary = data["resolution"][part]
        writer.writerow(["penyelesaian", f"{part} median (jam kerja)", _blank(summary["median_hours"]),
                         summary["count"]])
        writer.writerow(["penyelesaian", f"{part} p90 (jam kerja)", _blank(summary["p90_hours"]), summary["count"]])
    for breach in data["breaches"]:
        writer.writerow(["pelanggaran SLA", breach["ref"], breach["cause"], f"{breach['holder']}; {breach['due']}"])
    for item in data["reopened"]:
        writer.writerow(["dibuka kembali", item["ref"], item["at"], item.get("reason") or ""])
    for item in data.get("due_today", ()):
        writer.writerow(["jatuh tempo hari ini", item["ref"], item["due"], item.get("holder") or ""])
    for item in data.get("pending", ()):
        writer.writerow(["pending", item["ref"], item["age_working_days"], item.get("holder") or ""])
    for item in data.get("lkpp_open", ()):
        writer.writerow(["eskalasi LKPP terbuka", item["ref"], item["age_working_days"], item.get("lkpp_ref") or ""])
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value
