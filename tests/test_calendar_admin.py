"""Calendar administration: the service verbs, the admin page, review warnings and `helpdesk calendar show`.

The holidays library (>= 0.99, public + government) gives 2026: cuti bersama 20 Mar (Idul Fitri), 24 Dec.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

import helpdesk.web.calendar as calendar_web
from helpdesk import calendar_admin
from helpdesk.calendars import build_calendar, calendar_for, review_status
from helpdesk.cli import cli
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import CalendarReview, HolidayOverride, HoursPeriod

from .conftest import RECEIVED_AT

pytestmark = pytest.mark.usefixtures("english")  # these tests read messages in English

RAMADAN_HOURS = {"1": ["08:00", "15:00"], "2": ["08:00", "15:00"], "3": ["08:00", "15:00"],
                 "4": ["08:00", "15:00"], "5": ["08:00", "15:30"]}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Jakarta"))


@pytest.fixture
def admin(make_staff):
    return make_staff(role="admin", name="Admin Kantor")


@pytest.fixture
def admin_client(client, login, admin):
    login(client, admin)
    return client


def add(scope, **kw):
    """An override through the service (``scope``: an office, or None for national; ``office=`` in kw wins)."""
    values = {"day": date(2026, 11, 25), "kind": "libur_daerah", "name": "Hari Jadi Kabupaten",
              "source_ref": "Perbup 12/2026", "office": scope, "actor": None}
    values.update(kw)
    row = calendar_admin.add_override(**values)
    db.session.commit()
    return row


# -- service verbs ------------------------------------------------------------------------------------------------

def test_added_office_override_moves_the_deadline_and_removing_it_restores_it(office, admin):
    before = calendar_for(office)
    row = add(office, actor=admin)
    after = calendar_for(office)
    assert after is not before  # the cached calendar was dropped
    assert after.follow_up_due(RECEIVED_AT) == local("2026-11-26T10:00")
    assert (row.office_id, row.created_by_id) == (office.id, admin.id)
    calendar_admin.remove_override(row, actor=admin)
    db.session.commit()
    assert calendar_for(office).follow_up_due(RECEIVED_AT) == local("2026-11-25T10:00")
    assert db.session.query(HolidayOverride).count() == 0


def test_national_override_reaches_every_office(office, make_office):
    other = make_office()
    add(None, kind="libur_nasional", name="Pilkada serentak", source_ref="Keppres 9/2026")
    assert not calendar_for(office).is_working_day(date(2026, 11, 25))
    assert not calendar_for(other).is_working_day(date(2026, 11, 25))


@pytest.mark.parametrize(("changes", "message"), [
    ({"office": None, "kind": "libur_nasional", "source_ref": "  "}, "needs its source"),
    ({"office": None, "kind": "libur_daerah", "source_ref": "Perbup 1/2026"}, "belongs to one office"),
    ({"kind": "libur"}, "Unknown kind"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "limited to"),
    ({"day": date(1999, 12, 31)}, "between 2000 and 2100"),
])
def test_bad_override_is_refused_with_a_reason(office, changes, message):
    with pytest.raises(ValidationError, match=message):
        add(office, **changes)
    db.session.rollback()
    assert db.session.query(HolidayOverride).count() == 0


@pytest.mark.parametrize("scope", ["office", "national"])
def test_second_entry_for_the_same_day_and_scope_is_refused(office, scope):
    target = office if scope == "office" else None
    add(target, kind="libur_nasional", name="Pilkada", source_ref="Keppres 9/2026")
    with pytest.raises(ValidationError, match="2026-11-25 already has an entry"):
        add(target, kind="kerja", name="Piket", source_ref="SE Sekda")
    db.session.rollback()
    # The other scope may still have its own row for the same day.
    add(None if target else office, kind="kerja", name="Piket", source_ref="SE Sekda")
    assert db.session.query(HolidayOverride).count() == 2


def test_office_hours_are_validated_normalised_and_used(office, admin):
    hours = {str(d): ["7:30", "15:00"] for d in range(1, 5)} | {"5": ["07:30", "11:30"], "6": ["", ""]}
    calendar_admin.set_office_hours(office, hours, actor=admin)
    db.session.commit()
    assert office.hours["1"] == ["07:30", "15:00"] and office.hours["6"] is None and office.hours["7"] is None
    assert calendar_for(office).follow_up_due(local("2026-11-27T11:30")) == local("2026-12-01T07:30")


@pytest.mark.parametrize(("hours", "message"), [
    ({"1": ["16:00", "07:30"]}, "Monday: the closing time must be after the opening time"),
    ({"2": ["08:00", "08:00"]}, "Tuesday: the closing time must be after"),
    ({"3": ["07:30", ""]}, "Wednesday: give both"),
    ({"4": ["7.30", "16:00"]}, "Thursday: '7.30' is not a time"),
    ({"5": ["07:30", "24:00"]}, "not a time"),
    ({"8": ["07:30", "16:00"]}, "Unknown weekday"),
    ({}, "open on at least one weekday"),
])
def test_bad_office_hours_are_refused(office, hours, message):
    before = dict(office.hours)
    with pytest.raises(ValidationError, match=message):
        calendar_admin.set_office_hours(office, hours, actor=None)
    db.session.rollback()
    assert db.session.get(type(office), office.id).hours == before


def test_ramadan_hours_and_periods_reach_the_calendar(office, admin):
    calendar_admin.set_ramadan_hours(office, RAMADAN_HOURS, actor=admin)
    period = calendar_admin.add_period(office, start=date(2026, 2, 19), end=date(2026, 3, 20),
                                       source_ref="Sidang isbat Kemenag", actor=admin)
    db.session.commit()
    cal = calendar_for(office)
    assert cal.window(date(2026, 2, 19)) == (local("2026-02-19T08:00"), local("2026-02-19T15:00"))
    assert cal.follow_up_due(local("2026-02-18T15:30")) == local("2026-02-19T15:00")
    assert ";ramadan" in cal.version
    assert period.created_by_id == admin.id and period.profile == "ramadan"
    calendar_admin.remove_period(period, actor=admin)
    db.session.commit()
    assert calendar_for(office).window(date(2026, 2, 19))[1] == local("2026-02-19T16:00")


def test_closing_a_weekday_drops_its_ramadan_hours(office):
    calendar_admin.set_ramadan_hours(office, RAMADAN_HOURS, actor=None)
    calendar_admin.set_office_hours(office, {**office.hours, "5": None}, actor=None)
    assert office.ramadan_hours["5"] is None and office.ramadan_hours["4"] == ["08:00", "15:00"]
    calendar_admin.set_office_hours(office, {"6": ["08:00", "12:00"]}, actor=None)
    assert office.ramadan_hours is None


def test_ramadan_hours_on_a_closed_weekday_are_refused_and_blank_removes_them(office):
    with pytest.raises(ValidationError, match="Saturday: the office is closed"):
        calendar_admin.set_ramadan_hours(office, {**RAMADAN_HOURS, "6": ["08:00", "12:00"]}, actor=None)
    calendar_admin.set_ramadan_hours(office, RAMADAN_HOURS, actor=None)
    assert office.ramadan_hours["1"] == ["08:00", "15:00"]
    calendar_admin.set_ramadan_hours(office, {str(d): ["", ""] for d in range(1, 8)}, actor=None)
    assert office.ramadan_hours is None


@pytest.mark.parametrize(("start", "end", "message"), [
    (date(2026, 3, 20), date(2026, 2, 19), "ends before it starts"),
    (date(2026, 2, 19), date(2026, 12, 20), "at most 35 days"),
    (date(2026, 3, 10), date(2026, 3, 25), "overlaps the one from 2026-02-19 to 2026-03-20"),
    (date(2026, 2, 1), date(2026, 2, 19), "overlaps"),
])
def test_bad_periods_are_refused(office, start, end, message):
    calendar_admin.add_period(office, start=date(2026, 2, 19), end=date(2026, 3, 20), actor=None)
    with pytest.raises(ValidationError, match=message):
        calendar_admin.add_period(office, start=start, end=end, actor=None)
    db.session.rollback()


def test_periods_of_another_office_do_not_overlap_and_do_not_apply(office, make_office):
    other = make_office()
    calendar_admin.set_ramadan_hours(other, RAMADAN_HOURS, actor=None)
    calendar_admin.add_period(other, start=date(2026, 2, 19), end=date(2026, 3, 20), actor=None)
    calendar_admin.set_ramadan_hours(office, RAMADAN_HOURS, actor=None)
    calendar_admin.add_period(office, start=date(2026, 2, 18), end=date(2026, 3, 19), actor=None)
    db.session.commit()
    assert calendar_for(office).window(date(2026, 3, 20)) is None  # cuti bersama either way
    assert calendar_for(office).window(date(2026, 2, 18))[0] == local("2026-02-18T08:00")
    assert calendar_for(other).window(date(2026, 2, 18))[0] == local("2026-02-18T07:30")


def test_staffed_on_cuti_bersama_switch(office):
    assert not calendar_for(office).is_working_day(date(2026, 12, 24))
    calendar_admin.set_staffed_on_cuti_bersama(office, True, actor=None)
    db.session.commit()
    assert calendar_for(office).is_working_day(date(2026, 12, 24))
    assert not calendar_for(office).is_working_day(date(2026, 12, 25))


def test_ticket_keeps_its_deadline_when_the_calendar_changes_later(office, make_ticket):
    ticket = make_ticket()
    add(office)
    later = make_ticket()
    db.session.refresh(ticket)
    assert ticket.follow_up_due_at == local("2026-11-25T10:00")
    assert later.follow_up_due_at == local("2026-11-26T10:00")
    assert ticket.calendar_version != later.calendar_version == build_calendar(office).version


# -- reviews ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("today", "reviewed", "current_due", "next_due"), [
    (date(2026, 9, 30), {2026}, False, False),      # before October nobody asks for next year yet
    (date(2026, 10, 1), {2026}, False, True),       # from 1 October next year is due
    (date(2026, 12, 31), {2026, 2027}, False, False),
    (date(2026, 3, 1), set(), True, False),         # the current year unreviewed warns at any time
    (date(2026, 11, 1), set(), True, True),
])
def test_review_status(office, today, reviewed, current_due, next_due):
    for year in reviewed:
        calendar_admin.mark_reviewed(year=year, office=None, note="SKB 3 Menteri", actor=None)
    status = review_status(office, today)
    assert (status.current_due, status.next_due) == (current_due, next_due)
    assert status.warning == (current_due or next_due)


def test_office_review_covers_only_that_office_and_marking_again_updates(office, make_office, admin):
    other = make_office()
    first = calendar_admin.mark_reviewed(year=2027, office=office, note="Perbup hari jadi", actor=None)
    again = calendar_admin.mark_reviewed(year=2027, office=office, note="SKB perubahan", actor=admin)
    db.session.commit()
    assert again.id == first.id and again.note == "SKB perubahan" and again.reviewed_by_id == admin.id
    assert review_status(office, date(2026, 10, 2)).next is again
    assert review_status(other, date(2026, 10, 2)).next_due
    national = calendar_admin.mark_reviewed(year=2027, office=None, note="", actor=None)
    assert calendar_admin.mark_reviewed(year=2027, office=None, note="again", actor=None).id == national.id
    assert db.session.query(CalendarReview).count() == 2
    with pytest.raises(ValidationError, match="year between"):
        calendar_admin.mark_reviewed(year=26, office=None, note="", actor=None)


# -- the admin page -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["helpdesk", "kepala", "verifikator"])
def test_only_admins_see_and_change_the_calendar(client, login, make_staff, role):
    login(client, make_staff(role=role))
    assert client.get("/admin/kalender").status_code == 403
    response = client.post("/admin/kalender/libur", data={"day": "2026-11-25", "kind": "libur_daerah",
                                                          "scope": "office", "name": "Tutup"})
    assert response.status_code == 403
    assert client.post("/admin/kalender/tinjau", data={"review_scope": "national"}).status_code == 403
    assert db.session.query(HolidayOverride).count() == 0 and db.session.query(CalendarReview).count() == 0


def test_calendar_page_needs_a_login(client):
    response = client.get("/admin/kalender")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_page_lists_days_off_with_their_source(admin_client, office):
    add(None, day=date(2026, 11, 26), kind="libur_nasional", name="Pilkada serentak", source_ref="Keppres 9/2026")
    page = admin_client.get("/admin/kalender?tahun=2026").get_data(as_text=True)
    assert re.search(r'data-day="2026-03-20" data-kind="cuti_bersama" data-origin="library"', page)
    assert re.search(r'data-day="2026-11-26" data-kind="libur_nasional" data-origin="national"', page)
    assert "Keppres 9/2026" in page and "Pilkada serentak" in page
    assert 'data-day="2026-11-28"' not in page  # weekends are not listed
    assert 'id="calendar-applies-from-now"' in page
    assert re.search(r'name="open_1"[^>]*value="07:30"', page)


def test_page_refuses_a_junk_year(admin_client):
    assert admin_client.get("/admin/kalender?tahun=duaribu").status_code == 400
    assert admin_client.get("/admin/kalender?tahun=3000").status_code == 400


def test_adding_and_removing_an_override_through_the_page(admin_client, office, admin):
    response = admin_client.post("/admin/kalender/libur?tahun=2026", data={
        "day": "2026-11-25", "kind": "libur_daerah", "scope": "office", "name": "Hari Jadi Kabupaten",
        "source_ref": "Perbup 12/2026"})
    assert response.status_code == 302 and response.location == "/admin/kalender?tahun=2026"
    row = db.session.query(HolidayOverride).one()
    assert (row.office_id, row.created_by_id, row.source_ref) == (office.id, admin.id, "Perbup 12/2026")
    assert calendar_for(office).follow_up_due(RECEIVED_AT) == local("2026-11-26T10:00")
    page = admin_client.get(response.location).get_data(as_text=True)
    assert f'data-override-id="{row.id}"' in page and 'data-origin="office"' in page

    response = admin_client.post(f"/admin/kalender/libur/{row.id}/hapus?tahun=2026")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.query(HolidayOverride).count() == 0
    assert calendar_for(office).follow_up_due(RECEIVED_AT) == local("2026-11-25T10:00")


def test_refused_override_shows_the_reason_and_saves_nothing(admin_client):
    response = admin_client.post("/admin/kalender/libur?tahun=2026", data={
        "day": "2026-11-25", "kind": "libur_nasional", "scope": "national", "name": "Pilkada", "source_ref": ""})
    assert response.status_code == 422
    assert "needs its source" in response.get_data(as_text=True)
    response = admin_client.post("/admin/kalender/libur", data={"day": "", "kind": "kerja", "scope": "office",
                                                                "name": ""})
    assert response.status_code == 422
    assert db.session.query(HolidayOverride).count() == 0


def test_another_offices_override_cannot_be_removed(admin_client, make_office):
    other = make_office()
    row = add(other)
    assert admin_client.post(f"/admin/kalender/libur/{row.id}/hapus").status_code == 404
    assert db.session.query(HolidayOverride).count() == 1


def test_office_hours_form(admin_client, office):
    form = {f"open_{d}": "08:00" for d in range(1, 6)} | {f"close_{d}": "16:00" for d in range(1, 6)}
    response = admin_client.post("/admin/kalender/jam-kerja", data={**form, "close_3": "07:00"})
    assert response.status_code == 422 and "Wednesday: the closing time must be after" in response.get_data(True)
    db.session.expire_all()
    assert office.hours["1"] == ["07:30", "16:00"]
    assert admin_client.post("/admin/kalender/jam-kerja", data=form).status_code == 302
    db.session.expire_all()
    assert office.hours["5"] == ["08:00", "16:00"] and office.hours["6"] is None


def test_ramadan_forms_and_period_removal(admin_client, office, make_office):
    ramadan = {f"ramadan-open_{d}": "08:00" for d in range(1, 6)} | {f"ramadan-close_{d}": "15:00"
                                                                      for d in range(1, 6)}
    assert admin_client.post("/admin/kalender/ramadan", data=ramadan).status_code == 302
    assert admin_client.post("/admin/kalender/ramadan/periode", data={
        "start": "2026-02-19", "end": "2026-03-20", "period_source": "Sidang isbat"}).status_code == 302
    response = admin_client.post("/admin/kalender/ramadan/periode", data={"start": "2026-03-01", "end": "2026-03-05"})
    assert response.status_code == 422 and "overlaps" in response.get_data(as_text=True)
    db.session.expire_all()
    assert calendar_for(office).window(date(2026, 2, 19))[1] == local("2026-02-19T15:00")
    period = db.session.query(HoursPeriod).one()
    page = admin_client.get("/admin/kalender?tahun=2026").get_data(as_text=True)
    assert f'data-period-id="{period.id}"' in page and "Sidang isbat" in page
    foreign = HoursPeriod(office_id=make_office().id, start=date(2027, 2, 8), end=date(2027, 3, 9))
    db.session.add(foreign)
    db.session.commit()
    assert admin_client.post(f"/admin/kalender/ramadan/periode/{foreign.id}/hapus").status_code == 404
    assert admin_client.post(f"/admin/kalender/ramadan/periode/{period.id}/hapus").status_code == 302
    assert db.session.query(HoursPeriod).count() == 1


def test_cuti_bersama_switch_through_the_page(admin_client, office):
    assert admin_client.post("/admin/kalender/cuti-bersama", data={"staffed": "y"}).status_code == 302
    db.session.expire_all()
    assert office.staffed_on_cuti_bersama
    assert admin_client.post("/admin/kalender/cuti-bersama", data={}).status_code == 302
    db.session.expire_all()
    assert not office.staffed_on_cuti_bersama


@pytest.mark.parametrize("today", [date(2026, 3, 2), date(2026, 12, 6)], ids=["march", "december"])
def test_review_warning_shows_until_the_years_are_reviewed(admin_client, office, admin, monkeypatch, today):
    monkeypatch.setattr(calendar_web, "_today", lambda office: today)
    page = admin_client.get("/admin/kalender").get_data(as_text=True)
    assert 'id="calendar-review-warning"' in page and f'data-unreviewed="{today.year}"' in page
    response = admin_client.post(f"/admin/kalender/tinjau?tahun={today.year}",
                                 data={"review_scope": "national", "note": "SKB 3 Menteri dicek"})
    assert response.status_code == 302
    if today.month >= 10:  # from October next year is asked for too
        page = admin_client.get("/admin/kalender").get_data(as_text=True)
        assert f'data-unreviewed="{today.year + 1}"' in page
        admin_client.post(f"/admin/kalender/tinjau?tahun={today.year + 1}", data={"review_scope": "office"})
    page = admin_client.get(f"/admin/kalender?tahun={today.year}").get_data(as_text=True)
    assert 'id="calendar-review-warning"' not in page
    assert 'data-review-scope="national"' in page and "SKB 3 Menteri dicek" in page and "Admin Kantor" in page
    review = db.session.query(CalendarReview).filter_by(year=today.year).one()
    assert review.office_id is None and review.reviewed_by_id == admin.id


# -- `helpdesk calendar show` -------------------------------------------------------------------------------------

def test_calendar_show_prints_days_off_with_sources_and_hours(app, office):
    add(office, source_ref="Perbup Kabupaten Uji 12/2026")
    calendar_admin.set_ramadan_hours(office, RAMADAN_HOURS, actor=None)
    calendar_admin.add_period(office, start=date(2026, 2, 19), end=date(2026, 3, 20), source_ref="Sidang isbat",
                              actor=None)
    db.session.commit()
    result = app.test_cli_runner().invoke(cli, ["calendar", "show", "2026", "--office", "tst"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.search(r"^2026-03-20  Fri  cuti_bersama\s+Cuti Bersama Hari Raya Idul Fitri  \[holidays \d", result.output,
                     re.MULTILINE)
    assert "2026-11-25  Wed  libur_daerah    Hari Jadi Kabupaten  [override, this office: Perbup Kabupaten Uji 12/2026]" \
        in lines
    assert "  Fri  07:30-16:30" in lines and "  Fri  08:00-15:30" in lines
    assert "  period 2026-02-19 to 2026-03-20 [Sidang isbat]" in lines
    assert not any(line.startswith("2026-11-28") for line in lines)  # weekends are counted, not listed
    working = sum(info.working for info in calendar_for(office).describe_year(2026))
    assert f"Working days: {working} of 365 (19 with Ramadan hours)" in lines and working == 239


def test_calendar_show_lists_weekends_on_request_and_refuses_unknown_office(app, office):
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["calendar", "show", "2026", "--weekends"])
    assert result.exit_code == 0, result.output
    assert "2026-11-28  Sat  weekend" in result.output and "[weekend]" in result.output
    result = runner.invoke(cli, ["calendar", "show", "2026", "--office", "nope"])
    assert result.exit_code != 0 and "no office with code 'nope'" in result.output
    assert runner.invoke(cli, ["calendar", "show", "26"]).exit_code == 2


# -- in a browser -------------------------------------------------------------------------------------------------

def test_admin_adds_an_override_in_the_browser(page, site, office, admin):
    from .servers.live import browser_login

    browser_login(page, site, admin)
    page.goto(f"{site}/admin/kalender?tahun=2026")
    form = page.locator("#override-form")
    form.locator("#day").fill("2026-11-25")
    form.locator("#kind").select_option("libur_daerah")
    form.locator("#name").fill("Hari Jadi Kabupaten")
    form.locator("#source_ref").fill("Perbup 12/2026")
    form.get_by_role("button").click()
    page.locator('#overrides tr[data-day="2026-11-25"]').wait_for()
    assert page.locator('#days-off tr[data-day="2026-11-25"]').get_attribute("data-origin") == "office"
    assert "alert-success" in page.locator("main").inner_html()
    db.session.expire_all()
    assert calendar_for(office).follow_up_due(RECEIVED_AT) == local("2026-11-26T10:00")
