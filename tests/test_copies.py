"""The printable consultation form (issue 4, item 4): the print page and the PDF stored with the ticket.

A bidding-room visitor (queue B-007) filled the form, the trainer went through the checklist and wrote the answer
and initialled it. The print page and the PDF both show the office's header, the reference, the visitor's text,
the checklist, the answer and the initials with the time in the office's zone, in Indonesian.
"""
from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask_babel import force_locale, gettext
from pypdf import PdfReader
from sqlalchemy import select

from helpdesk import tickets
from helpdesk.blobs import blob_path
from helpdesk.checklists import RESULT_LABELS, checklist_for
from helpdesk.copies import (
    PDF_CONTENT_TYPE,
    archive_pdf,
    archived_pdfs,
    consultation_copy,
    current_archive,
    render_pdf,
)
from helpdesk.extensions import db
from helpdesk.models import Attachment, TicketEvent, WalkinVisit
from helpdesk.timeutil import utcnow

from .conftest import RECEIVED_AT

DESCRIPTION = ("Saat mengunggah dokumen penawaran di ruang bidding muncul pesan galat.\n"
               "Sudah dicoba dua kali dengan Apendo terbaru.")
ANALYSIS = "Kunci publik paket belum diperbarui di perangkat penyedia."
ANSWER = "Unduh ulang kunci publik paket, enkripsi ulang dokumen, lalu unggah kembali. Berhasil pukul 10.28."
INITIALLED = "Selasa, 24 November 2026 10.30 WIB"  # RECEIVED_AT + 30 minutes, in the office's zone
HOSTILE = 'Pesan <script>alert("x")</script> dengan <b>tebal</b> & “kutip” — Ünïcödé'


def _id(text: Any) -> str:
    """A translatable label as the form prints it (Indonesian, whether or not the catalogue has it yet)."""
    with force_locale("id"):
        return gettext(text) if isinstance(text, str) else str(text)


@pytest.fixture
def officer(make_staff):
    return make_staff(role="trainer", name="Dewi Lestari", email="dewi@lpse.example.go.id")


@pytest.fixture
def walkin(office, make_requester, make_ticket):
    """A walk-in ticket for bidding-room assistance with its queue number B-007; nothing recorded yet."""
    office.address = "Jl. Pemuda No. 1, Kabupaten Uji"
    office.phone = "+622851234567"
    office.email = "lpse@ujikab.example.go.id"
    visitor = make_requester(name="Siti Aminah", organization="CV Maju Jaya", spse_role="penyedia",
                             phone="0812-3456-7890", email="siti@majujaya.example.co.id",
                             address="Jl. Merdeka 10, Batang")
    ticket = make_ticket(channel="walkin", requester=visitor, subject="Gagal unggah dokumen penawaran",
                         body=DESCRIPTION, application="spse", tender_code="10012345000",
                         error_code="Gagal enkripsi: kunci publik tidak valid")
    db.session.add(WalkinVisit(office_id=office.id, ticket_id=ticket.id, service_type="bidding_room",
                               service_day=date(2026, 11, 24), queue_letter="B", queue_number=7,
                               arrived_at=RECEIVED_AT - timedelta(minutes=5), status="called"))
    db.session.commit()
    return ticket


def _checklist(ticket, officer, **changes):
    items = {"training_attended": {"result": "yes"}, "qualification_filled": {"result": "yes"},
             "documents_uploaded": {"result": "no", "note": "Koneksi terputus, dicoba ulang"},
             "offer_uploaded": {"result": "yes"}}
    items.update(changes)
    return tickets.record_checklist(ticket, service_type="bidding_room", items=items, actor=officer,
                                    at=RECEIVED_AT + timedelta(minutes=20))


def _consult(ticket, officer, *, answer=ANSWER, minutes=30):
    return tickets.record_consultation(ticket, analysis=ANALYSIS, answer=answer, outcome="solved", officer=officer,
                                       service_type="bidding_room", at=RECEIVED_AT + timedelta(minutes=minutes))


@pytest.fixture
def consulted(walkin, officer):
    """The walk-in ticket with its checklist and the officer's initialled answer."""
    _checklist(walkin, officer)
    _consult(walkin, officer)
    db.session.commit()
    return walkin


def _pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    """Text with every run of whitespace as one space (PDF lines wrap where the page does)."""
    return " ".join(text.split())


def _expected_checklist() -> list[tuple[str, str]]:
    results = {"training_attended": "yes", "qualification_filled": "yes", "documents_uploaded": "no",
               "offer_uploaded": "yes"}
    return [(_id(item.label), _id(RESULT_LABELS[results[item.key]])) for item in checklist_for("bidding_room")]


# -- the copy -------------------------------------------------------------------------------------------------

def test_the_copy_gathers_the_whole_form(consulted, officer):
    copy = consultation_copy(consulted)
    assert (copy.office_name, copy.office_address, copy.office_email) == (
        "LPSE Kabupaten Uji", "Jl. Pemuda No. 1, Kabupaten Uji", "lpse@ujikab.example.go.id")
    assert copy.office_phone.startswith("+62 285")
    assert copy.ref == consulted.ref and copy.queue_label == "B-007" and copy.service_type == "bidding_room"
    assert copy.arrived_at_label == "Selasa, 24 November 2026 09.55 WIB"
    assert (copy.visitor_name, copy.visitor_organization, copy.visitor_email) == (
        "Siti Aminah", "CV Maju Jaya", "siti@majujaya.example.co.id")
    assert copy.visitor_phone == "+62 812-3456-7890"
    assert copy.visitor_role == _id("Supplier (Penyedia)") == "Penyedia"
    assert (copy.application, copy.tender_code, copy.error_message, copy.description) == (
        "SPSE", "10012345000", "Gagal enkripsi: kunci publik tidak valid", DESCRIPTION)
    assert [(line.label, line.result_label) for line in copy.checklist] == _expected_checklist()
    assert copy.checklist[2].note == "Koneksi terputus, dicoba ulang"
    assert copy.checklist[0].answered_at == "24/11/2026 10.20"
    assert (copy.analysis, copy.answer, copy.outcome) == (ANALYSIS, ANSWER, "solved")
    assert copy.initials == f"Dewi Lestari, {INITIALLED}"
    consultation = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "consultation_recorded"))
    assert copy.source_event_id == consultation.id


def test_the_copy_before_the_officer_wrote_anything(walkin):
    copy = consultation_copy(walkin)
    assert copy.description == DESCRIPTION and copy.checklist == ()
    assert (copy.answer, copy.analysis, copy.outcome, copy.initials, copy.initialled) == ("", "", None, "", False)
    assert copy.source_event_id is None
    _reader, text = _pdf_text(render_pdf(copy))
    assert "FORMULIR KONSULTASI" in text and walkin.ref in text and "Siti Aminah" in text
    assert "Sudah dicoba dua kali dengan Apendo terbaru." in text


def test_files_attached_to_the_ticket_are_listed_but_not_inline_images_nor_the_form_itself(walkin):
    from helpdesk.blobs import store_blob

    blob = store_blob(b"%PDF-1.4 surat kuasa", content_type="application/pdf")
    tickets.attach(walkin, None, blob=blob, filename="surat-kuasa.pdf", content_type="application/pdf")
    image = store_blob(b"\x89PNG logo", content_type="image/png")
    tickets.attach(walkin, None, blob=image, filename="logo.png", content_type="image/png", inline=True)
    archive_pdf(walkin)
    db.session.commit()
    assert consultation_copy(walkin).attachments == ("surat-kuasa.pdf",)


# -- the print page -------------------------------------------------------------------------------------------

def test_print_page_shows_the_filled_form(client, login, consulted, officer):
    login(client, officer)
    response = client.get(f"/tickets/{consulted.ref}/formulir")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("LPSE Kabupaten Uji", "Jl. Pemuda No. 1, Kabupaten Uji", "lpse@ujikab.example.go.id",
                 "FORMULIR KONSULTASI", consulted.ref, "B-007", "Siti Aminah", "CV Maju Jaya", "+62 812-3456-7890",
                 "10012345000", "Gagal enkripsi: kunci publik tidak valid", DESCRIPTION, ANALYSIS, ANSWER,
                 "Dewi Lestari", INITIALLED, "Selasa, 24 November 2026 09.55 WIB", "Koneksi terputus, dicoba ulang"):
        assert text in html, text
    for item_label, result_label in _expected_checklist():
        assert item_label in html and result_label in html
    assert re.search(r'data-item="documents_uploaded" data-result="no"', html)
    assert 'id="officer-name">Dewi Lestari<' in html
    # Its own print layout: A4 stylesheet and the print script from static files, no inline script, no navbar.
    assert "/static/print.css" in html and "/static/print.js" in html and "navbar" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert 'data-print id="print-button"' in html
    assert f'action="/tickets/{consulted.ref}/formulir/arsip"' in html
    assert response.headers["Content-Language"] == "id"
    css = client.get("/static/print.css").get_data(as_text=True)
    assert "size: A4" in css and "@media print" in css
    assert "window.print()" in client.get("/static/print.js").get_data(as_text=True)


def test_print_page_before_the_consultation_leaves_the_answer_empty(client, login, walkin, officer):
    login(client, officer)
    html = client.get(f"/tickets/{walkin.ref.lower()}/formulir", follow_redirects=True).get_data(as_text=True)
    assert DESCRIPTION in html and "B-007" in html
    assert 'id="answer"></div>' in html and 'id="officer-name"' not in html


def test_print_page_is_in_the_office_language_even_when_the_officer_reads_english(client, login, consulted,
                                                                                  officer):
    login(client, officer)
    client.get("/language/en")
    html = client.get(f"/tickets/{consulted.ref}/formulir").get_data(as_text=True)
    assert '<html lang="id">' in html and INITIALLED in html


def test_hostile_markup_is_escaped_on_the_page_and_printed_as_text_in_the_pdf(client, login, officer, office,
                                                                              make_ticket):
    ticket = make_ticket(channel="walkin", subject="<b>Subjek</b> & co", body=HOSTILE,
                         error_code="<img src=x onerror=alert(1)>")
    tickets.record_consultation(ticket, analysis="a < b && c > d", answer="<i>Jawab</i> & selesai",
                                outcome="solved", officer=officer, service_type="consultation")
    db.session.commit()
    login(client, officer)
    html = client.get(f"/tickets/{ticket.ref}/formulir").get_data(as_text=True)
    assert "<script>alert" not in html and "<b>tebal</b>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "&lt;b&gt;tebal&lt;/b&gt; &amp;" in html
    assert "&lt;i&gt;Jawab&lt;/i&gt; &amp; selesai" in html
    response = client.get(f"/tickets/{ticket.ref}/formulir.pdf")
    assert response.status_code == 200
    _reader, text = _pdf_text(response.data)
    flat = _flat(text)
    assert '<script>alert("x")</script>' in flat and "<b>tebal</b> &" in flat and "“kutip” — Ünïcödé" in flat
    assert "<b>Subjek</b> & co" in flat and "<i>Jawab</i> & selesai" in flat and "a < b && c > d" in flat


def test_unknown_ticket_and_other_office_are_404(client, login, officer, make_office, make_ticket):
    login(client, officer)
    other = make_ticket(office=make_office(name="LPSE Lain"), channel="walkin")
    for path in ("/tickets/TST-2026-999999/formulir", "/tickets/TST-2026-999999/formulir.pdf",
                 f"/tickets/{other.ref}/formulir", f"/tickets/{other.ref}/formulir.pdf"):
        assert client.get(path).status_code == 404, path
    assert client.post("/tickets/TST-2026-999999/formulir/arsip").status_code == 404
    assert db.session.scalar(select(db.func.count()).select_from(Attachment)) == 0


def test_not_logged_in_goes_to_the_login_page(client, consulted):
    for path in (f"/tickets/{consulted.ref}/formulir", f"/tickets/{consulted.ref}/formulir.pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(f"/tickets/{consulted.ref}/formulir/arsip")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert archived_pdfs(consulted) == []


# -- the PDF --------------------------------------------------------------------------------------------------

def test_pdf_is_a4_and_shows_the_form(consulted):
    data = render_pdf(consultation_copy(consulted))
    assert data.startswith(b"%PDF")
    reader, text = _pdf_text(data)
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.28) < 1 and abs(float(box.height) - 841.89) < 1
    flat = _flat(text)
    for expected in ("LPSE Kabupaten Uji", "Jl. Pemuda No. 1, Kabupaten Uji", "lpse@ujikab.example.go.id",
                     "FORMULIR KONSULTASI", consulted.ref, "B-007", "Siti Aminah", "CV Maju Jaya", "Penyedia",
                     "+62 812-3456-7890", "10012345000", "Gagal enkripsi: kunci publik tidak valid",
                     _flat(DESCRIPTION), ANALYSIS, ANSWER, "Dewi Lestari", INITIALLED,
                     "Koneksi terputus, dicoba ulang", "24/11/2026 10.20"):
        assert expected in flat, expected
    for item_label, result_label in _expected_checklist():
        assert _flat(item_label) in flat and result_label in flat
    assert reader.metadata.title == f"FORMULIR KONSULTASI {consulted.ref}"


def test_a_long_form_runs_over_pages_with_the_reference_on_each(walkin, officer):
    long_answer = "\n\n".join(f"Langkah {n}: " + "periksa pengaturan peramban dan koneksi " * 12 for n in range(40))
    word = "x" * 3000  # one unbroken "word" (a pasted log line) must not break the layout
    tickets.record_consultation(walkin, analysis=word, answer=long_answer, outcome="pending", officer=officer,
                                service_type="bidding_room")
    db.session.commit()
    reader, text = _pdf_text(render_pdf(consultation_copy(walkin)))
    assert len(reader.pages) > 1
    for page in reader.pages:
        assert walkin.ref in page.extract_text()
    assert "Langkah 39:" in text


def test_archive_pdf_stores_the_form_with_the_ticket(consulted, app):
    consultation = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "consultation_recorded"))
    attachment = archive_pdf(consulted, event=consultation)
    db.session.commit()
    stored = db.session.get(Attachment, attachment.id)
    assert stored.ticket_id == consulted.id and stored.event_id == consultation.id
    assert stored.filename == f"formulir-konsultasi-{consulted.ref}.pdf"
    assert stored.content_type == PDF_CONTENT_TYPE and stored.inline is False
    data = blob_path(stored.blob_sha256).read_bytes()
    assert stored.size == len(data) == stored.blob.size and data.startswith(b"%PDF")
    assert str(blob_path(stored.blob_sha256)).startswith(app.config["DATA_DIR"])
    assert ANSWER in _flat(_pdf_text(data)[1])
    assert current_archive(consulted).id == stored.id
    again = archive_pdf(consulted)  # defaults to the newest consultation/checklist event
    assert again.event_id == consultation.id and again.filename == f"formulir-konsultasi-{consulted.ref}-2.pdf"


def test_archive_pdf_of_the_visitors_part_alone_goes_stale_when_the_officer_records(walkin, officer):
    first = archive_pdf(walkin)
    db.session.commit()
    assert first.event_id is None and current_archive(walkin).id == first.id
    _checklist(walkin, officer)
    db.session.commit()
    assert current_archive(walkin) is None


def test_pdf_route_reuses_the_stored_pdf_until_a_new_consultation(client, login, consulted, officer):
    login(client, officer)
    first = client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    assert first.status_code == 200 and first.mimetype == PDF_CONTENT_TYPE and first.data.startswith(b"%PDF")
    disposition = first.headers["Content-Disposition"]
    assert disposition.startswith("inline") and f"formulir-konsultasi-{consulted.ref}.pdf" in disposition
    assert len(archived_pdfs(consulted)) == 1

    again = client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    assert again.data == first.data and len(archived_pdfs(consulted)) == 1

    _consult(consulted, officer, answer="Jawaban yang diperbarui: gunakan Apendo versi 5.", minutes=45)
    db.session.commit()
    fresh = client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    stored = archived_pdfs(consulted)
    assert len(stored) == 2 and fresh.data != first.data
    assert f"formulir-konsultasi-{consulted.ref}-2.pdf" in fresh.headers["Content-Disposition"]
    flat = _flat(_pdf_text(fresh.data)[1])
    assert "Jawaban yang diperbarui: gunakan Apendo versi 5." in flat and "Selasa, 24 November 2026 10.45 WIB" in flat
    latest_consultation = db.session.scalars(select(TicketEvent).where(
        TicketEvent.kind == "consultation_recorded").order_by(TicketEvent.id.desc())).first()
    assert stored[-1].event_id == latest_consultation.id

    # A changed checklist makes it stale too; an unchanged one records nothing and the PDF stays.
    assert _checklist(consulted, officer, offer_uploaded={"result": "yes"}) is None
    assert client.get(f"/tickets/{consulted.ref}/formulir.pdf").data == fresh.data
    _checklist(consulted, officer, offer_uploaded={"result": "no", "note": "Waktu habis"})
    db.session.commit()
    client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    assert len(archived_pdfs(consulted)) == 3


def test_pdf_route_regenerates_when_the_stored_file_is_missing(client, login, consulted, officer):
    login(client, officer)
    client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    blob_path(archived_pdfs(consulted)[0].blob_sha256).unlink()
    response = client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert len(archived_pdfs(consulted)) == 2


def test_archive_route_stores_a_fresh_pdf_and_goes_back_to_the_ticket(client, login, consulted, officer):
    login(client, officer)
    client.get(f"/tickets/{consulted.ref}/formulir.pdf")
    response = client.post(f"/tickets/{consulted.ref}/formulir/arsip")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tickets/{consulted.ref}")
    stored = archived_pdfs(consulted)
    assert [a.filename for a in stored] == [f"formulir-konsultasi-{consulted.ref}.pdf",
                                            f"formulir-konsultasi-{consulted.ref}-2.pdf"]
    assert all(a.created_at <= utcnow() for a in stored)


def test_archive_route_needs_the_csrf_token(client, login, app, consulted, officer):
    app.config["WTF_CSRF_ENABLED"] = True
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page)[1]
    client.post("/login", data={"email": officer.email, "password": "rahasia123", "csrf_token": token})
    assert client.post(f"/tickets/{consulted.ref}/formulir/arsip").status_code == 400
    page = client.get(f"/tickets/{consulted.ref}/formulir").get_data(as_text=True)
    token = re.search(r'id="form-archive">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page)[1]
    assert client.post(f"/tickets/{consulted.ref}/formulir/arsip", data={"csrf_token": token}).status_code == 302
    assert len(archived_pdfs(consulted)) == 1


# -- in a browser -------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_print_page_in_chromium_prints_an_a4_form_without_the_toolbar(browser, app, consulted, officer):
    from .servers.live import live_server

    app.config["WTF_CSRF_ENABLED"] = True
    with live_server(app) as site:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        try:
            tab = context.new_page()
            tab.set_default_timeout(10_000)
            errors: list[str] = []
            outside: list[str] = []
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.on("request", lambda request: outside.append(request.url)
                   if not request.url.startswith(site) else None)
            tab.goto(f"{site}/login")
            tab.fill("#email", officer.email)
            tab.fill("#password", "rahasia123")
            tab.keyboard.press("Enter")
            tab.wait_for_url(f"{site}/tickets")

            tab.add_init_script("window.print = function () { window.__printed = (window.__printed || 0) + 1; };")
            tab.goto(f"{site}/tickets/{consulted.ref}/formulir")
            assert tab.inner_text("#queue-label") == "B-007"
            assert tab.inner_text("#officer-name") == "Dewi Lestari"
            assert tab.inner_text("#initialled-at") == INITIALLED
            tab.get_by_role("button", name=re.compile("Print|Cetak")).click()
            assert tab.evaluate("window.__printed") == 1

            tab.screenshot(path=str(_artifact("consultation-form.png")), full_page=True)
            tab.emulate_media(media="print")
            assert tab.locator(".toolbar").is_hidden()
            printed = tab.pdf(prefer_css_page_size=True, print_background=True)
            _artifact("consultation-form-printed.pdf").write_bytes(printed)
            reader, text = _pdf_text(printed)
            box = reader.pages[0].mediabox
            assert abs(float(box.width) - 595.28) < 2 and abs(float(box.height) - 841.89) < 2
            flat = _flat(text)
            assert "FORMULIR KONSULTASI" in flat and consulted.ref in flat and ANSWER in flat
            assert len(reader.pages) <= 2
            assert errors == [] and outside == []
        finally:
            context.close()


def _artifact(name: str):
    """Where browser tests leave screenshots: HELPDESK_TEST_ARTIFACTS, else instance/test-artifacts."""
    import os
    from pathlib import Path

    folder = Path(os.environ.get("HELPDESK_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "instance"
                                 / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
