"""The daily SLA report produced on schedule, archived, sent by email with its CSV, shown on the web and by the CLI;
and the quarterly report with its PDF."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from channels.email.smtp import make_sender
from helpdesk import report_archive, tickets
from helpdesk.cli import cli
from helpdesk.delivery import deliver_due
from helpdesk.extensions import db
from helpdesk.models import ReportArchive
from helpdesk.settings import set_setting

from .conftest import WIB
from .servers.smtp import refuse_other_hosts


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


@pytest.fixture
def day_of_work(office, make_staff, make_requester):
    """Wed 18 Feb 2026 (the first working day after Imlek): two tickets, one answered on time."""
    officer = make_staff(role="helpdesk", name="Rina Helpdesk")
    head = make_staff(role="kepala", name="Kepala LPSE", email="kepala@lpse-uji.example.go.id")
    first = tickets.open_ticket(office=office, requester=make_requester(), channel="email", subject="Lupa sandi",
                                body="Lupa kata sandi", received_at=at(2, 18, 8))
    tickets.add_message(first, direction="outbound", body="Silakan reset.", actor=officer, via="phone",
                        at=at(2, 18, 9))
    tickets.open_ticket(office=office, requester=make_requester(), channel="phone", subject="Unggah gagal",
                        body="Unggah gagal", received_at=at(2, 18, 10))
    db.session.commit()
    return {"officer": officer, "head": head, "first": first}


def test_the_job_waits_for_its_time_then_archives_and_sends_once(app, office, day_of_work):
    assert report_archive.run_daily_reports(at(2, 19, 7, 0)) == 0  # before 07:30
    assert report_archive.run_daily_reports(at(2, 19, 7, 31)) == 1
    assert report_archive.run_daily_reports(at(2, 19, 8, 0)) == 0  # once
    [report] = db.session.scalars(select(ReportArchive)).all()
    assert (report.kind, report.period_start) == ("daily", date(2026, 2, 18))
    assert report.data["received"]["total"] == 2
    [delivery] = report_archive.deliveries(report)
    assert delivery.recipient == "kepala@lpse-uji.example.go.id"  # no recipients set: the head of the LPSE
    message = delivery.outbox
    assert message.body_html and "Laporan harian SLA" in message.body_html and message.attachments[0]["filename"] \
        == f"laporan-harian-{office.code}-2026-02-18.csv"


def test_no_report_on_a_day_off(app, office, day_of_work):
    assert report_archive.run_daily_reports(at(2, 21, 9)) == 0  # Saturday
    assert report_archive.run_daily_reports(at(2, 17, 9)) == 0  # Imlek


def test_the_email_goes_out_with_the_csv_and_a_bouncing_recipient_does_not_stop_the_others(
        app, office, day_of_work, smtp, monkeypatch):
    refuse_other_hosts(monkeypatch)
    app.config.update(smtp.config(), MAIL_FROM="helpdesk@lpse-uji.example.go.id")
    set_setting("reports.daily_recipients", ["kepala@lpse-uji.example.go.id", "hilang@lpse-uji.example.go.id",
                                              "ukpbj@lpse-uji.example.go.id"])
    db.session.commit()
    smtp.reject("hilang@lpse-uji.example.go.id", "550 5.1.1 No such user")
    report_archive.run_daily_reports(at(2, 19, 7, 45))
    deliver_due(make_sender(app.config), now=at(2, 19, 7, 46))
    db.session.expire_all()
    report = db.session.scalar(select(ReportArchive))
    statuses = {d.recipient: d.outbox.status for d in report_archive.deliveries(report)}
    assert statuses == {"kepala@lpse-uji.example.go.id": "sent", "hilang@lpse-uji.example.go.id": "failed",
                        "ukpbj@lpse-uji.example.go.id": "sent"}
    received = {mail.message["To"]: mail.message for mail in smtp.received}
    assert set(received) == {"kepala@lpse-uji.example.go.id", "ukpbj@lpse-uji.example.go.id"}
    mail = received["ukpbj@lpse-uji.example.go.id"]
    assert mail["Subject"].startswith("Laporan harian SLA helpdesk") and mail["Auto-Submitted"]
    [attachment] = [part for part in mail.iter_attachments()]
    rows = list(csv.reader(io.StringIO(attachment.get_payload(decode=True).decode("utf-8-sig"))))
    assert rows[0] == ["bagian", "butir", "nilai", "keterangan"]
    assert ["laporan masuk", "jumlah", "2", ""] in rows
    html = mail.get_body(("html",)).get_content()
    assert "Laporan harian SLA" in html and day_of_work["first"].ref not in html  # answered: not on any list


def test_the_page_opens_an_archived_day_and_computes_others(app, client, login, office, day_of_work):
    report_archive.run_daily_reports(at(2, 19, 7, 31))
    db.session.commit()
    login(client, day_of_work["head"])
    page = client.get("/laporan/harian?tanggal=2026-02-18").get_data(as_text=True)
    assert 'id="daily-report"' in page and 'data-day="2026-02-18"' in page and 'id="report-deliveries"' in page
    other = client.get("/laporan/harian?tanggal=2026-02-13")
    assert other.status_code == 200 and 'id="report-empty"' in other.get_data(as_text=True)
    future = client.get("/laporan/harian?tanggal=2099-01-01")
    assert future.status_code == 422 and 'id="report-error"' in future.get_data(as_text=True)
    assert client.get("/laporan/harian?tanggal=kemarin").status_code == 400
    data = json.loads(client.get("/laporan/harian?tanggal=2026-02-18&format=json").get_data(as_text=True))
    assert data["follow_up_due"]["total"] == 0 and data["received"]["total"] == 2
    csv_text = client.get("/laporan/harian?tanggal=2026-02-18&format=csv").get_data(as_text=True)
    assert csv_text.startswith("bagian,butir,nilai,keterangan")


def test_only_readers_open_the_reports(client, login, make_staff):
    login(client, make_staff(role="verifikator"))
    assert client.get("/laporan/harian").status_code == 403
    assert client.get("/laporan/triwulan").status_code == 403


def test_the_cli_prints_each_format_and_refuses_a_future_day(app, office, day_of_work):
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["report", "daily", "--date", "2026-02-18", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["received"]["total"] == 2
    result = runner.invoke(cli, ["report", "daily", "--date", "2026-02-18", "--format", "csv"])
    assert result.exit_code == 0 and "laporan masuk,jumlah,2," in result.output
    result = runner.invoke(cli, ["report", "daily", "--date", "2026-02-18", "--format", "html"])
    assert result.exit_code == 0 and "<html" in result.output
    result = runner.invoke(cli, ["report", "daily", "--date", "2099-01-01"])
    assert result.exit_code != 0 and "has not ended yet" in result.output


def test_the_quarterly_report_compares_with_the_quarter_before_and_prints_as_pdf(client, login, office, day_of_work):
    from helpdesk.reports import quarterly_report

    report = quarterly_report(office, 2026, 1, now=at(4, 6, 9))
    received = next(h for h in report["headlines"] if h["name"] == "received")
    assert (received["current"], received["previous"], received["change"]) == (2, 0, 2)
    assert not report["partial"]
    login(client, day_of_work["head"])
    page = client.get("/laporan/triwulan?tahun=2026&triwulan=1").get_data(as_text=True)
    assert 'id="quarterly-headlines"' in page and 'data-figure="breaches"' in page
    pdf = client.get("/laporan/triwulan?tahun=2026&triwulan=1&format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert client.get("/laporan/triwulan?tahun=2099&triwulan=1").status_code == 422
    assert client.get("/laporan/triwulan?tahun=2026&triwulan=5").status_code == 400
