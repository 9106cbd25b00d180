"""The pages people use, in headless Chromium (Debian's package, driven by Playwright; no browser download).

An officer logs in, logs a phone call from the keyboard alone while the caller is looked up as the number is
typed, and finds the call in the queue with its one-working-day deadline. CSRF protection is on, as in
production.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from helpdesk.calendars import calendar_for
from helpdesk.extensions import db
from helpdesk.formatting import short_datetime
from helpdesk.models import Ticket

from .conftest import RECEIVED_AT
from .servers.live import browser_login

pytestmark = pytest.mark.browser

def test_officer_logs_a_call_from_the_keyboard_and_finds_it_in_the_queue(
        page, site, office, make_staff, make_requester, make_ticket):
    officer = make_staff(name="Dewi Lestari", email="dewi@lpse.example.go.id")
    caller = make_requester(name="Hendra Wijaya", organization="CV Bangun Persada", phone="0813-7777-8888",
                            spse_role="penyedia", email="hendra@bangun.example.co.id")
    earlier = make_ticket(requester=caller, subject="Lupa password SPSE", status="closed")

    page.goto(f"{site}/login")
    page.fill("#email", officer.email)
    page.fill("#password", "rahasia123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/tickets")

    page.get_by_role("link", name="Catat telepon").first.click()
    page.wait_for_url(f"{site}/phone/new")
    # The number field has focus: type it and the caller is found as it is typed.
    page.keyboard.type("0813 7777 8888")
    page.locator("#caller-tickets").get_by_text(earlier.ref).wait_for()
    assert page.input_value("#name") == "Hendra Wijaya"
    assert page.input_value("#organization") == "CV Bangun Persada"
    page.keyboard.press("Tab")          # name (filled by the lookup)
    page.keyboard.press("Tab")          # question
    page.keyboard.type("Dokumen penawaran gagal diunggah, muncul pesan 'file terenkripsi rusak'.")
    page.keyboard.press("Tab")          # what was answered
    page.keyboard.type("Diminta mengenkripsi ulang dengan SPAMKodok versi terbaru; akan kami cek ke LKPP.")
    page.keyboard.press("Tab")          # outcome: "answered now" has focus
    page.keyboard.press("ArrowRight")   # pending
    page.keyboard.press("Tab")          # the save button (the hidden escalation choice is skipped)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/tickets/TST-*")

    ticket = db.session.query(Ticket).filter(Ticket.id != earlier.id).one()
    assert ticket.status == "pending" and ticket.requester_id == caller.id and ticket.channel == "phone"
    assert page.locator("#ticket-ref").inner_text() == ticket.ref
    assert "Pending" in page.locator("[data-status]").first.inner_text()

    page.get_by_role("link", name="Antrean").first.click()
    row = page.locator(f'tr[data-ref="{ticket.ref}"]')
    row.wait_for()
    due = ticket.follow_up_due_at
    assert due == calendar_for(office).follow_up_due(ticket.received_at)
    assert short_datetime(due, office.timezone) in row.inner_text()
    assert "Hendra Wijaya" in row.inner_text()
    page.screenshot(path=str(_artifact("queue-after-phone-call.png")), full_page=True)


def test_ctrl_enter_saves_the_phone_form_and_marks_missing_fields(page, site, make_staff):
    officer = make_staff()
    page.goto(f"{site}/login")
    page.fill("#email", officer.email)
    page.fill("#password", "rahasia123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/tickets")
    page.goto(f"{site}/phone/new")
    page.keyboard.type("0812 1234 5678")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # name left empty on purpose
    page.keyboard.type("Bagaimana cara melihat jadwal tender?")
    page.keyboard.press("Control+Enter")
    page.locator("#name.is-invalid").wait_for()
    assert page.input_value("#question") == "Bagaimana cara melihat jadwal tender?"  # nothing typed is lost
    assert db.session.query(Ticket).count() == 0



def test_kiosk_marks_missing_fields_then_gives_a_queue_number_and_receipt(page, site, office):
    page.goto(f"{site}/kiosk/{office.code}")
    tender_mark = page.locator('[data-field="tender_code"] .req-mark')
    assert not tender_mark.is_visible()
    page.check("#service_type-1")  # bidding-room assistance needs the tender code
    assert tender_mark.is_visible()
    page.check("#service_type-0")
    assert not tender_mark.is_visible()
    page.fill("#name", "Siti Rahma")
    page.fill("#organization", "CV Maju Jaya")
    page.select_option("#spse_role", "penyedia")
    page.select_option("#application", "spse")
    page.fill("#description", "Tidak bisa mengunggah dokumen kualifikasi, muncul galat 500.")
    page.click("#kiosk-submit")  # the phone number is missing
    page.locator("#phone.is-invalid").wait_for()
    assert page.locator("#phone-error").is_visible()
    assert page.input_value("#name") == "Siti Rahma"  # what was filled in is kept
    assert page.evaluate("document.activeElement.id") == "phone"  # the first missing field has the focus
    assert db.session.query(Ticket).count() == 0
    page.fill("#phone", "0812-3456-7890")
    page.click("#kiosk-submit")
    page.wait_for_url(f"{site}/kiosk/{office.code}/tanda-terima/*")
    ticket = db.session.query(Ticket).one()
    assert page.locator("#queue-number").inner_text() == "A-001"
    assert page.locator("#ticket-ref").inner_text() == ticket.ref
    assert "/status/" in page.locator("#status-link").get_attribute("href")
    page.screenshot(path=str(_artifact("kiosk-receipt.png")), full_page=True)


def test_call_next_updates_the_now_serving_display(browser, site, office, make_staff):
    from channels import walkin
    from channels.base import Contact

    officer = make_staff(name="Dewi Lestari")
    walkin.register_visit(walkin.ConsultationRequest(
        contact=Contact(name="Siti", organization="CV Maju", spse_role="penyedia", phone="0812-3456-7890"),
        description="Lupa kata sandi akun SPSE penyedia.", application="spse"), office=office)
    db.session.commit()
    screen_context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="id-ID")
    desk_context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    try:
        screen = screen_context.new_page()
        screen.goto(f"{site}/display/{office.code}")
        assert screen.locator("#current-number").inner_text() == "\u2014"
        desk = desk_context.new_page()
        desk.set_default_timeout(10_000)
        browser_login(desk, site, officer)
        desk.goto(f"{site}/walkin")
        desk.locator('tr[data-visit="A-001"]').wait_for()
        desk.fill("#desk", "Meja 1")
        desk.click("#call-next")
        desk.wait_for_url(f"{site}/walkin/konsultasi/*")
        expect(screen.locator("#current-number")).to_have_text("A-001", timeout=10_000)  # the display polls
        assert screen.locator("#current-desk").inner_text() == "Meja 1"
        assert screen.locator("#waiting-count").inner_text() == "0"
        screen.screenshot(path=str(_artifact("now-serving-display.png")))
    finally:
        screen_context.close()
        desk_context.close()



def test_an_answered_twilio_call_is_completed_from_its_draft(page, site, office, make_staff, make_requester,
                                                             make_ticket):
    from werkzeug.datastructures import MultiDict

    from channels import twilio
    from helpdesk.models import CallLog

    officer = make_staff(name="Dewi Lestari")
    caller = make_requester(name="Hendra Wijaya", organization="CV Bangun Persada", phone="0813-7777-8888")
    earlier = make_ticket(requester=caller, subject="Lupa password SPSE", status="closed")
    urls = twilio.VoiceUrls(dial_done="", recorded="", desk_answered="")
    for params in ({"CallSid": "CA100", "From": "+6281377778888"},
                   {"CallSid": "CA100", "DialCallStatus": "completed"}):
        twilio.dial_finished(twilio.Webhook(url="", params=MultiDict(params), signature=None), urls=urls,
                             now=RECEIVED_AT)
    db.session.commit()

    browser_login(page, site, officer)
    page.goto(f"{site}/phone/calls")
    page.locator('#calls-to-log tr[data-call-sid="CA100"] .complete-call-link').click()
    page.wait_for_url(f"{site}/phone/new?call=*")
    assert page.input_value("#phone") == "+6281377778888"  # prefilled from the call
    page.locator("#caller-tickets").get_by_text(earlier.ref).wait_for()  # the caller's earlier tickets, at once
    assert page.input_value("#name") == "Hendra Wijaya"
    page.fill("#question", "Menanyakan cara mengganti email akun SPSE.")
    page.fill("#answer", "Dijelaskan langkah mengganti email melalui menu profil.")
    page.click("form#phone-form button[type=submit]")
    page.wait_for_url(f"{site}/tickets/TST-*")
    call = db.session.query(CallLog).filter_by(call_sid="CA100").one()
    db.session.refresh(call)
    assert call.ticket is not None and call.ticket.requester_id == caller.id and call.logged_by_id == officer.id
    assert call.ticket.status == "resolved"


def _artifact(name: str):
    from pathlib import Path

    folder = Path(os.environ.get("HELPDESK_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "instance"
                                 / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
