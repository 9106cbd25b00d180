"""The report figures (helpdesk/reports.py) against a hand-built event history on the real 2026 calendar.

February 2026 around Imlek: Mon 16 Feb is cuti bersama and Tue 17 Feb a national holiday, so a ticket received on
Fri 13 Feb is due on Wed 18 Feb. Office hours Mon-Thu 07:30-16:00, Fri 07:30-16:30 (WIB).

- A: received Fri 13 Feb 10:00, answered Wed 18 Feb 09:00 (met; 6.5 h Friday + 1.5 h Wednesday = 8 h).
- B: received Wed 18 Feb 08:00, answered 09:00 and set waiting; the requester replies Thu 19 Feb 08:30 (paused
  7 h + 1 h = 8 h); resolved Thu 10:30: 11 h in all, 8 h waiting on the requester, 3 h LPSE time.
- C: received Thu 19 Feb 09:00, escalated to LKPP (LPSE Support) at 10:00 with the requester told (the follow-up),
  answered by LKPP on Tue 24 Feb 10:00 — three working days later (Fri, Mon, Tue) — and resolved at 11:00:
  28 h in all, 26 h at LKPP, 2 h LPSE time.
- D: received Mon 23 Feb 08:00, resolved 10:00, reopened by the requester's reply on Tue 24 Feb 09:00.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from helpdesk import escalations, reports, tickets
from helpdesk.extensions import db
from helpdesk.reports import ReportError, daily_report, period_figures

from .conftest import WIB


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 2, day, hour, minute, tzinfo=WIB)


@pytest.fixture
def history(office, make_staff, make_requester):
    officer = make_staff(role="helpdesk", name="Rina Helpdesk")

    def open_ticket(subject: str, received: datetime, **classification):
        return tickets.open_ticket(office=office, requester=make_requester(), channel="email", subject=subject,
                                   body=subject, received_at=received, **classification)

    a = open_ticket("A: Jumat sebelum cuti bersama", at(13, 10), application="spse", ticket_type="problem")
    tickets.add_message(a, direction="outbound", body="Jawaban A", actor=officer, via="phone", at=at(18, 9))

    b = open_ticket("B: menunggu pelapor", at(18, 8), application="sikap", ticket_type="request")
    tickets.add_message(b, direction="outbound", body="Mohon kirim tangkapan layar", actor=officer, via="phone",
                        at=at(18, 9))
    tickets.change_status(b, "waiting", actor=officer, at=at(18, 9))
    tickets.add_message(b, direction="inbound", body="Ini tangkapan layarnya", at=at(19, 8, 30))
    tickets.resolve(b, actor=officer, solution="Hapus cache peramban.", at=at(19, 10, 30))

    c = open_ticket("C: eskalasi LKPP", at(19, 9), application="spse", ticket_type="problem")
    escalation = escalations.escalate_to_lkpp(c, actor=officer, channel="tts", reason="Perlu tim teknis LKPP",
                                              at=at(19, 10))
    escalations.record_answer(escalation, body="Sudah diperbaiki LKPP.", via="tts", at=at(24, 10), actor=officer)
    tickets.resolve(c, actor=officer, solution="Diperbaiki LKPP.", at=at(24, 11))

    d = open_ticket("D: dibuka kembali", at(23, 8))
    tickets.resolve(d, actor=officer, solution="Gunakan peramban lain.", at=at(23, 10))
    tickets.add_message(d, direction="inbound", body="Masih belum bisa", at=at(24, 9))
    db.session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "officer": officer}


def test_a_friday_ticket_before_cuti_bersama_is_due_after_it(history):
    assert history["a"].follow_up_due_at == at(18, 10)
    figures = period_figures(history["a"].office, date(2026, 2, 13), date(2026, 2, 13))
    assert figures["received"]["total"] == 1 and figures["received"]["by_channel"] == {"email": 1}
    assert figures["follow_up_due"]["total"] == 0  # nothing fell due on the Friday


def test_wednesday_counts_the_deadline_met_and_both_human_follow_ups(history):
    figures = period_figures(history["a"].office, date(2026, 2, 18), date(2026, 2, 18))
    assert figures["follow_up_due"] == {"total": 1, "met": 1, "late": 0, "missing": 0, "met_by_faq_answer": 0,
                                        "met_share": 1.0}
    assert figures["received"]["by_application"] == {"sikap": 1}
    assert figures["received"]["by_ticket_type"] == {"request": 1}
    follow_ups = figures["follow_ups"]
    assert (follow_ups["human"], follow_ups["faq_answer"]) == (2, 0)
    # A: 8 working hours (Friday 10:00-16:30, Wednesday 07:30-09:00); B: 1 hour.
    assert follow_ups["time_to_first_follow_up"] == {"count": 2, "median_hours": 1.0, "p90_hours": 8.0}


def test_thursday_splits_the_resolution_time_into_lpse_and_requester_time(history):
    figures = period_figures(history["a"].office, date(2026, 2, 19), date(2026, 2, 19))
    assert figures["follow_up_due"]["met"] == 1  # B, due Thu 08:00, answered Wed 09:00
    resolution = figures["resolution"]
    assert resolution["count"] == 1
    assert resolution["total"]["median_hours"] == 11.0
    assert resolution["requester"]["median_hours"] == 8.0
    assert resolution["lpse"]["median_hours"] == 3.0 and resolution["lkpp"]["median_hours"] == 0.0
    assert figures["follow_ups"]["time_to_first_follow_up"]["median_hours"] == 1.0  # C told at 10:00


def test_lkpp_time_is_told_apart_and_the_reopened_ticket_is_listed(history):
    figures = period_figures(history["a"].office, date(2026, 2, 24), date(2026, 2, 24))
    resolution = figures["resolution"]
    assert resolution["count"] == 1
    assert resolution["total"]["median_hours"] == 28.0
    assert resolution["lkpp"]["median_hours"] == 26.0 and resolution["lpse"]["median_hours"] == 2.0
    assert [r["ref"] for r in figures["reopened"]] == [history["d"].ref]
    assert figures["reopened"][0]["reason"] == "requester_replied"


def test_the_morning_report_lists_lkpp_escalations_with_their_age_in_working_days(history):
    office = history["a"].office
    report = daily_report(office, now=at(24, 7))  # Tuesday morning: the report covers Monday 23 Feb
    assert report["period"]["first"] == "2026-02-23"
    [open_at_lkpp] = report["lkpp_open"]
    assert open_at_lkpp["ref"] == history["c"].ref and open_at_lkpp["age_working_days"] == 3
    assert report["received"]["total"] == 1 and not report["empty"]


def test_the_report_after_cuti_bersama_covers_the_last_working_day(history):
    report = daily_report(history["a"].office, now=at(18, 7))  # Wed morning after Mon cuti bersama + Tue Imlek
    assert report["period"]["first"] == "2026-02-13"
    assert [t["ref"] for t in report["due_today"]] == [history["a"].ref]


def test_breaches_carry_their_holder_and_cause(history, office):
    from escalation import sweep

    late = tickets.open_ticket(office=office, requester=history["a"].requester, channel="phone", subject="E: lupa",
                               body="E", received_at=at(24, 9))
    tickets.assign(late, history["officer"], actor=None, at=at(24, 9, 5))
    db.session.commit()
    sweep.run_sweep(at(25, 9, 1))
    figures = period_figures(office, date(2026, 2, 25), date(2026, 2, 25))
    [breach] = [b for b in figures["breaches"] if b["ref"] == late.ref]
    assert breach["holder"] == "Rina Helpdesk" and breach["cause"] == "no_follow_up"
    assert figures["follow_up_due"]["missing"] == 1


def test_a_day_without_data_gives_an_empty_report_and_a_future_day_is_refused(office):
    report = daily_report(office, date(2026, 2, 10), now=at(24, 7))
    assert report["empty"] and report["received"]["total"] == 0 and report["follow_up_due"]["met_share"] is None
    with pytest.raises(ReportError, match="has not ended yet"):
        daily_report(office, date(2026, 2, 24), now=at(24, 7))


def test_percentile_is_nearest_rank():
    assert reports.percentile([], 0.5) is None
    assert reports.percentile([3, 1, 2], 0.5) == 2 and reports.percentile(list(range(1, 11)), 0.9) == 9
