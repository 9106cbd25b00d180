"""The head of the LPSE's dashboard: its figures on a hand-built history, its SVG charts, and its page."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from escalation.calendar import WorkingCalendar
from helpdesk import dashboard, escalations, tickets
from helpdesk.extensions import db
from helpdesk.models import DEFAULT_OFFICE_HOURS, FaqEntry
from helpdesk.states import Status
from helpdesk.svg import SVG_NS, Category, PercentSeries, Series, bar_chart, hbar_chart, nice_ticks
from helpdesk.timeutil import utcnow

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
UTC = ZoneInfo("UTC")
# Wednesday 25 November 2026, 12:00 WIB. The 30 days run from Tuesday 27 October; no holiday falls in them.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=WIB)
FIRST_DAY = date(2026, 10, 27)
SVG_TAG = f"{{{SVG_NS}}}"


def at(month: int, day: int, hour: int, minute: int = 0, tz: ZoneInfo = WIB) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def by_day(rows) -> dict[date, object]:
    return {row.day: row for row in rows}


def counts(row) -> tuple[int, int, int, int, int]:
    return row.met, row.late, row.missing, row.not_due, row.faq


@pytest.fixture
def officer(make_staff):
    return make_staff(role="helpdesk", name="Budi")


def reply(ticket, officer, when: datetime) -> None:
    tickets.add_message(ticket, direction="outbound", body="Sudah kami cek, silakan coba lagi.", actor=officer,
                        via="phone", at=when)
    db.session.commit()


def faq_answer(ticket, when: datetime) -> None:
    entry = db.session.query(FaqEntry).filter_by(key="lupa-password").one_or_none()
    if entry is None:
        entry = FaqEntry(key="lupa-password", question="Lupa password SPSE", answer="Gunakan menu Lupa Password.",
                         answer_html="", visibility="public", auto_answer=True, alternatives=[], version=1)
        db.session.add(entry)
        db.session.flush()
    tickets.record_faq_answer(ticket, entry=entry, score=12.0, confidence=0.95, answer_text=entry.answer,
                              link=lambda answer: f"https://helpdesk.example.go.id/faq/jawaban/{answer.id}", at=when)
    db.session.commit()


# -- 1. follow-ups within the SLA --------------------------------------------------------------------------------

def test_follow_ups_are_counted_on_the_local_day_their_deadline_fell(office, officer, make_ticket):
    met = make_ticket(received_at=at(11, 23, 9))                 # due Tue 24 09:00, replied Mon 10:00
    reply(met, officer, at(11, 23, 10))
    late = make_ticket(received_at=at(11, 23, 10))               # due Tue 24 10:00, replied Tue 11:00
    reply(late, officer, at(11, 24, 11))
    make_ticket(received_at=at(11, 23, 11))                      # due Tue 24 11:00, never followed up
    make_ticket(received_at=at(11, 24, 14))                      # due Wed 25 14:00: later today
    today = make_ticket(received_at=at(11, 24, 9))               # due Wed 25 09:00, replied Wed 08:00
    reply(today, officer, at(11, 25, 8))
    automatic = make_ticket(channel="email", received_at=at(11, 23, 13))  # due Tue 24 13:00, FAQ at once
    faq_answer(automatic, at(11, 23, 13, 5))
    first = make_ticket(received_at=at(10, 26, 10))              # due Tue 27 Oct, the period's first day
    tickets.resolve(first, actor=officer, solution="Sudah diperbaiki.", at=at(10, 27, 11))
    before = make_ticket(received_at=at(10, 23, 10))             # due Mon 26 Oct: before the period
    reply(before, officer, at(11, 2, 9))
    spam = make_ticket(received_at=at(11, 24, 13))               # closed from new before its deadline
    tickets.change_status(spam, Status.CLOSED, actor=officer, at=at(11, 24, 13, 30))
    db.session.commit()

    days = dashboard.follow_ups_by_day(office, now=NOW)

    assert [d.day for d in days] == [FIRST_DAY + timedelta(days=n) for n in range(30)]
    rows = by_day(days)
    assert counts(rows[date(2026, 11, 24)]) == (1, 1, 1, 0, 1)
    assert counts(rows[date(2026, 11, 25)]) == (1, 0, 0, 1, 0)
    assert counts(rows[FIRST_DAY]) == (0, 1, 0, 0, 0)
    assert sum(d.total for d in days) == 7
    assert rows[date(2026, 11, 24)].share_met == pytest.approx(1 / 3)
    assert rows[date(2026, 11, 25)].share_met == 1.0 and rows[FIRST_DAY].share_met == 0.0
    assert rows[date(2026, 11, 23)].share_met is None
    assert not rows[date(2026, 11, 21)].working and rows[date(2026, 11, 20)].working


def test_days_are_the_office_days_not_utc_days(make_office, make_ticket):
    # 07:45 WIT is 22:45 UTC the day before: the ticket belongs to Monday and its deadline to Tuesday, locally.
    papua = make_office(code="jayapura", name="LPSE Kota Jayapura", ticket_prefix="JPR", timezone="Asia/Jayapura")
    make_ticket(office=papua, channel="walkin", received_at=at(11, 23, 7, 45, tz=WIT))
    now = at(11, 25, 12, tz=WIT)

    follow_ups = by_day(dashboard.follow_ups_by_day(papua, now=now))
    volume = by_day(dashboard.volume_by_channel(papua, now=now))

    assert counts(follow_ups[date(2026, 11, 24)]) == (0, 0, 1, 0, 0)
    assert sum(d.total for d in follow_ups.values()) == 1
    assert volume[date(2026, 11, 23)].counts["walkin"] == 1
    assert sum(d.total for d in volume.values()) == 1


# -- 2. volume by channel -----------------------------------------------------------------------------------------

def test_tickets_received_per_channel_per_local_day(office, make_office, make_ticket):
    for hour in (9, 10, 15):
        make_ticket(channel="phone", received_at=at(11, 24, hour))
    make_ticket(channel="phone", received_at=at(11, 25, 5))       # 24 Nov 22:00 UTC: Wednesday in WIB
    make_ticket(channel="email", received_at=at(11, 20, 8))
    make_ticket(channel="email", received_at=at(11, 20, 23, 59))
    make_ticket(channel="walkin", received_at=at(10, 27, 0, 30))  # the first minutes of the period
    make_ticket(channel="walkin", received_at=at(10, 26, 23, 30))  # just before it
    other = make_office(code="lain", name="LPSE Lain", ticket_prefix="LAIN")
    make_ticket(office=other, channel="phone", received_at=at(11, 24, 9))

    volume = by_day(dashboard.volume_by_channel(office, now=NOW))

    assert volume[date(2026, 11, 24)].counts == {"email": 0, "phone": 3, "walkin": 0, "sms": 0, "whatsapp": 0,
                                                 "web": 0}
    assert volume[date(2026, 11, 25)].counts["phone"] == 1
    assert volume[date(2026, 11, 20)].counts["email"] == 2
    assert volume[FIRST_DAY].counts["walkin"] == 1
    assert sum(d.total for d in volume.values()) == 7
    assert dashboard.build(office, now=NOW).channels == ["email", "phone", "walkin"]


# -- 3. backlog by age --------------------------------------------------------------------------------------------

def test_backlog_counts_active_tickets_by_working_days_since_received(office, make_ticket):
    make_ticket(received_at=at(11, 24, 13))                              # 0-1
    make_ticket(status=Status.OPEN, received_at=at(11, 23, 13))          # 1-2
    make_ticket(status=Status.PENDING, received_at=at(11, 23, 11))       # 2-5
    make_ticket(status=Status.WAITING, received_at=at(11, 20, 17))       # after Friday's hours: clock from Mon
    make_ticket(status=Status.ESCALATED, received_at=at(11, 18, 12, 30))  # 2-5
    make_ticket(received_at=at(11, 17, 10))                              # 5-10
    make_ticket(received_at=at(11, 10, 10))                              # 10+
    make_ticket(received_at=at(9, 1, 10))                                # 10+
    make_ticket(status=Status.RESOLVED, received_at=at(11, 24, 9))       # not active
    make_ticket(status=Status.CLOSED, received_at=at(11, 2, 9))          # not active

    backlog = dashboard.backlog_by_age(office, now=NOW)

    assert [(b.key, b.count) for b in backlog] == [("0-1", 1), ("1-2", 1), ("2-5", 3), ("5-10", 1), ("10+", 2)]
    assert backlog[0].since == at(11, 24, 12) and backlog[0].until is None
    assert backlog[-1].since is None and backlog[-1].until == at(11, 11, 12)


def test_working_days_before_is_the_reverse_of_the_follow_up_rule():
    calendar = WorkingCalendar(tz="Asia/Jakarta", hours=DEFAULT_OFFICE_HOURS)
    monday = at(11, 30, 10)
    assert dashboard.working_days_before(calendar, monday, 1) == at(11, 27, 10)  # Friday, same time
    assert dashboard.working_days_before(calendar, monday, 5) == at(11, 23, 10)
    assert dashboard.working_days_before(calendar, monday, 0) == monday
    # Before Monday's opening no working time has passed since Friday's closing (16:30).
    assert dashboard.working_days_before(calendar, at(11, 30, 7), 1) == at(11, 26, 16)  # kept to Thu's 16:00
    assert dashboard.working_days_before(calendar, at(11, 28, 10), 2) == at(11, 25, 16)  # from a Saturday
    # The follow-up deadline of something received then is now: exactly one working day.
    assert calendar.follow_up_due(dashboard.working_days_before(calendar, monday, 1)) == monday
    # Christmas: 24 (cuti bersama) and 25 December are not working days.
    assert dashboard.working_days_before(calendar, at(12, 28, 9), 1) == at(12, 23, 9)


# -- 4. escalations at LKPP ---------------------------------------------------------------------------------------

def test_lkpp_escalations_open_by_age_awaiting_review_and_per_week(office, make_office, officer, make_ticket):
    def lkpp(received: datetime, sent: datetime, ticket_office=None):
        ticket = make_ticket(received_at=received, office=ticket_office or office)
        escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu tim LKPP",
                                                  at=sent)
        db.session.commit()
        return escalation

    lkpp(at(11, 9, 9), at(11, 10, 10))                               # open, 10+ working days
    lkpp(at(11, 23, 8), at(11, 24, 9))                               # open, 1-2
    lkpp(at(10, 19, 9), at(10, 20, 10))                              # open, sent before the period
    answered = lkpp(at(11, 18, 8), at(11, 19, 10))
    escalations.record_answer(answered, body="Sudah diperbaiki di server LKPP.", via="tts", at=at(11, 24, 10))
    closed = lkpp(at(11, 2, 8), at(11, 3, 10))
    escalations.record_answer(closed, body="Silakan coba lagi.", via="tts", at=at(11, 5, 10))
    escalations.review_answer(closed, actor=officer, at=at(11, 6, 9))
    internal = make_ticket(received_at=at(11, 24, 8))
    escalations.escalate_internal(internal, actor=officer, reason="Perlu verifikator", role="verifikator",
                                  at=at(11, 24, 9))
    other = make_office(code="lain", name="LPSE Lain", ticket_prefix="LAIN")
    lkpp(at(11, 23, 8), at(11, 24, 9), ticket_office=other)
    db.session.commit()

    figures = dashboard.lkpp_escalations(office, now=NOW)

    assert [(b.key, b.count) for b in figures.open_by_age] == [
        ("0-1", 0), ("1-2", 1), ("2-5", 0), ("5-10", 0), ("10+", 2)]
    assert figures.awaiting_review == 1
    assert [(w.start, w.end, w.opened, w.answered) for w in figures.weeks] == [
        (date(2026, 10, 27), date(2026, 11, 1), 0, 0),
        (date(2026, 11, 2), date(2026, 11, 8), 1, 1),
        (date(2026, 11, 9), date(2026, 11, 15), 1, 0),
        (date(2026, 11, 16), date(2026, 11, 22), 1, 0),
        (date(2026, 11, 23), date(2026, 11, 25), 1, 1),
    ]


# -- set-based ----------------------------------------------------------------------------------------------------

def test_the_figures_take_the_same_few_queries_however_many_tickets(office, officer, make_ticket):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def history(n: int) -> None:
        for k in range(n):
            ticket = make_ticket(channel=("phone", "email", "walkin")[k % 3], received_at=at(11, 2 + k % 20, 9))
            if k % 2:
                reply(ticket, officer, at(11, 3 + k % 20, 10))

    def queries() -> int:
        db.session.refresh(office)  # expired by the commits of the history, not the dashboard's doing
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            dashboard.build(office, now=NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    history(3)
    dashboard.build(office, now=NOW)  # loads the office calendar, cached for the app context
    few = queries()
    history(12)
    assert queries() == few == 5, statements


# -- the SVG helpers ----------------------------------------------------------------------------------------------

def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == SVG_TAG + "svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in root.iter(SVG_TAG + "text")]


def _no_external_references(svg: str) -> None:
    assert set(re.findall(r"https?://[^\s\"'<>)]+", svg)) <= {SVG_NS}
    assert "<script" not in svg and "style=" not in svg and "href" not in svg


def test_bar_chart_is_accessible_well_formed_and_prints_its_values():
    categories = [Category("23", "Nov"), Category("24", muted=True), Category("25")]
    svg = bar_chart(chart_id="test", title="Tindak <lanjut> & SLA", description="Deskripsi \"uji\"",
                    categories=categories,
                    series=[Series("Tepat waktu", [3, 0, 12]), Series("Terlambat <x>", [2, 0, 5])],
                    percent=PercentSeries("Tepat (%)", [0.6, None, 12 / 17]), y_label="Tenggat", x_label="Hari",
                    muted_label="Hari libur")

    root = _parse(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Tindak <lanjut> & SLA"
    assert root.find(SVG_TAG + "title").text == "Tindak <lanjut> & SLA"
    assert root.find(SVG_TAG + "desc").text == 'Deskripsi "uji"'
    assert root.get("aria-describedby") == root.find(SVG_TAG + "desc").get("id")
    texts = _texts(root)
    for value in ("5", "17", "12", "3", "2", "60", "71", "Tenggat", "Hari", "Nov", "Hari libur", "Terlambat <x>"):
        assert value in texts, value
    assert "–" in texts  # no share on a day without deadlines
    tips = ["".join(t.itertext()) for t in root.iter(SVG_TAG + "title")]
    assert "23 Nov — Terlambat <x>: 2" in tips
    _no_external_references(svg)
    # Patterns for black-and-white printing, referenced inside the document only.
    assert root.find(f"{SVG_TAG}defs/{SVG_TAG}pattern") is not None
    assert all(ref.startswith("#test-") for ref in re.findall(r"url\((#[^)]+)\)", svg))


def test_charts_are_deterministic_and_escape_their_text():
    def draw():
        return hbar_chart(chart_id="age", title="Umur", description="<script>alert(1)</script>",
                          labels=["0–1 hari kerja", "Lebih dari 10 & <lama>"], values=[4, 0], fills=[0, 1],
                          x_label="Tiket")

    svg = draw()
    assert svg == draw()
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp; &lt;lama&gt;" in svg
    root = _parse(svg)
    texts = _texts(root)
    assert {"4", "0", "Tiket", "Lebih dari 10 & <lama>"} <= set(texts)
    _no_external_references(svg)


def test_a_chart_of_zeros_still_draws():
    _parse(bar_chart(chart_id="empty", title="t", description="d", categories=[Category("1")],
                     series=[Series("a", [0])], stacked=False))
    _parse(hbar_chart(chart_id="empty-h", title="t", description="d", labels=["a"], values=[0]))
    assert nice_ticks(0) == [0, 1] and nice_ticks(7) == [0, 2, 4, 6, 8] and nice_ticks(1) == [0, 1]


# -- the page -----------------------------------------------------------------------------------------------------

def test_only_the_head_and_admins_see_the_dashboard(client, login, make_staff):
    assert client.get("/dasbor").status_code == 302
    for role, status in (("helpdesk", 403), ("verifikator", 403), ("trainer", 403), ("kepala", 200),
                         ("admin", 200)):
        staff = make_staff(role=role)
        with client:
            login(client, staff)
            assert client.get("/dasbor").status_code == status, role
            client.post("/logout")


def test_an_empty_office_shows_no_data_panels(client, login, make_staff, english):
    login(client, make_staff(role="kepala"))
    page = client.get("/dasbor").get_data(as_text=True)
    for panel in ("follow-ups", "volume", "backlog", "lkpp"):
        assert re.search(rf'id="panel-{panel}"[^>]*data-empty="true"', page), panel
    assert page.count("No data") == 4
    assert "<svg" not in page


def test_the_page_draws_four_panels_with_charts_and_tables(client, login, make_staff, make_ticket, officer, english):
    now = utcnow()
    for k, channel in enumerate(("phone", "phone", "email", "walkin")):
        make_ticket(channel=channel, received_at=now - timedelta(hours=2 + k))
    # Ten days back: its follow-up deadline has fallen whatever the hour and weekday the suite runs on (three
    # days back, from a Sunday evening, the deadline was still to come and the follow-ups panel was empty).
    old = make_ticket(channel="phone", received_at=now - timedelta(days=10))
    escalations.escalate_to_lkpp(old, actor=officer, channel="tts", reason="Perlu LKPP",
                                 at=now - timedelta(days=9))
    db.session.commit()
    login(client, make_staff(role="kepala"))

    response = client.get("/dasbor")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No data" not in page
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)
    assert len(svgs) == 5  # follow-ups, volume, backlog, LKPP open by age, LKPP per week
    for svg in svgs:
        _parse(svg)
        _no_external_references(svg)
    volume = page[page.index('id="table-volume"'):]
    assert re.search(r'data-channel-total="phone">3<', volume) and re.search(r'data-channel-total="walkin">1<', volume)
    assert re.search(r'data-channel-total="email">1<', volume)
    assert 'data-channel-total="sms"' not in volume  # unused channels are left out
    backlog = page[page.index('id="table-backlog"'):]
    assert sum(int(n) for n in re.findall(r"data-count>(\d+)<", backlog.split("</table>")[0])) == 5
    assert 'href="/static/dashboard.css"' in page and "<script>" not in page and " style=" not in page
    css = client.get("/static/dashboard.css")
    assert css.mimetype == "text/css" and b"@media print" in css.data and b"size: A4" in css.data
