"""The FAQ pages: the public page (no login, public entries only, search) and the editors' pages."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from faq import entries, packs
from helpdesk import tickets
from helpdesk.extensions import db
from helpdesk.models import FaqEntry
from helpdesk.states import Status

ENTRY_FORM = {"question": "Bagaimana cara mengganti email akun penyedia?",
              "alternatives": "ganti email penyedia\nubah alamat email",
              "answer": "Ajukan perubahan ke **verifikator** <script>alert(1)</script>",
              "topic": "akun", "application": "spse", "spse_version": "4.5", "visibility": "draft",
              "source": "lpse", "review_by": "2027-06-30", "auto_answer": "y"}


@pytest.fixture
def knowledge_base(app, make_staff):
    """The seed pack plus one entry of every other kind, all on the same subject."""
    editor = make_staff()
    packs.import_seed()
    made = {}
    for visibility in ("internal", "draft", "retired"):
        made[visibility] = entries.create_entry(
            actor=editor, key=f"rahasia-{visibility}", topic="rahasia",
            question=f"Kode rahasia brankas kantor ({visibility})", answer=f"Jawaban {visibility} zebra",
            visibility="draft" if visibility == "draft" else "internal" if visibility == "internal" else "public")
    entries.retire(made["retired"], actor=editor)
    db.session.commit()
    return made


def test_public_page_needs_no_login_and_shows_only_public_entries(client, knowledge_base):
    response = client.get("/faq")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    keys = set(re.findall(r'data-faq-key="([^"]+)"', page))
    assert len(keys) == 41 and "faq-004" in keys
    assert "zebra" not in page and "rahasia" not in page
    assert "Registrasi penyedia" in page  # grouped by topic
    assert 'content="index, follow"' in page
    assert "script-src" not in response.headers["Content-Security-Policy"]  # no script at all
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert client.get("/faq/faq-004").status_code == 200
    for key in ("rahasia-internal", "rahasia-draft", "rahasia-retired", "no-such-entry"):
        assert client.get(f"/faq/{key}").status_code == 404, key


def test_public_search_finds_public_answers_only(client, knowledge_base):
    page = client.get("/faq?q=lupa+password+penyedia").get_data(as_text=True)
    found = re.findall(r'data-faq-key="([^"]+)"', page)
    assert found[0] == "faq-004" and len(found) <= 10
    page = client.get("/faq?q=kode+rahasia+brankas+zebra").get_data(as_text=True)
    assert "Jawaban" not in page and 'data-faq-key="rahasia' not in page
    page = client.get("/faq?q=qwxzv+blorft").get_data(as_text=True)
    assert 'id="faq-no-results"' in page
    assert client.get("/faq?q=" + "x" * 5000).status_code == 200


def test_public_answers_are_sanitised(client, make_staff):
    editor = make_staff()
    entries.create_entry(actor=editor, key="xss", topic="uji", question="Uji", visibility="public",
                         answer='Klik <a href="javascript:alert(1)" onmouseover="x()">ini</a><script>alert(2)</script>')
    db.session.commit()
    page = client.get("/faq/xss").get_data(as_text=True)
    assert "javascript:" not in page and "onmouseover" not in page and "alert(2)" not in page


def test_staff_pages_need_login_and_editing_needs_an_editor(client, login, make_staff, knowledge_base):
    entry = knowledge_base["internal"]
    for url in ("/faq/admin", "/faq/admin/new", f"/faq/admin/{entry.id}"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login"), url
    login(client, make_staff(role="trainer"))
    page = client.get("/faq/admin").get_data(as_text=True)  # every officer reads the knowledge base
    assert "rahasia-internal" in page and 'id="faq-new"' not in page
    page = client.get(f"/faq/admin/{entry.id}").get_data(as_text=True)
    assert "Jawaban internal zebra" in page and 'id="faq-form"' not in page
    assert client.get("/faq/admin/new").status_code == 403
    assert client.post("/faq/admin/new", data=ENTRY_FORM).status_code == 403
    assert client.post(f"/faq/admin/{entry.id}", data={**ENTRY_FORM, "visibility": "public"}).status_code == 403
    assert client.post(f"/faq/admin/{entry.id}/publish").status_code == 403
    assert client.post(f"/faq/admin/{entry.id}/retire").status_code == 403
    db.session.refresh(entry)
    assert (entry.version, entry.visibility, entry.retired_at) == (1, "internal", None)


def test_editor_creates_edits_publishes_and_retires(client, login, make_staff):
    editor = make_staff(role="helpdesk", name="Sari Editor")
    login(client, editor)
    assert client.get("/faq/admin/new").status_code == 200
    assert client.post("/faq/admin/new", data={**ENTRY_FORM, "question": ""}).status_code == 422
    response = client.post("/faq/admin/new", data=ENTRY_FORM)
    assert response.status_code == 302
    entry = db.session.scalar(select(FaqEntry))
    assert response.location == f"/faq/admin/{entry.id}"
    assert entry.key == "bagaimana-cara-mengganti-email-akun-penyedia"
    assert entry.alternatives == ["ganti email penyedia", "ubah alamat email"]
    assert (entry.visibility, entry.application, entry.review_by.isoformat(), entry.auto_answer) == (
        "draft", "spse", "2027-06-30", True)
    page = client.get(response.location).get_data(as_text=True)
    assert "<strong>verifikator</strong>" in page and "<script>alert(1)" not in page  # the preview, sanitised
    assert client.get(f"/faq/{entry.key}").status_code == 404  # a draft is not public

    response = client.post(f"/faq/admin/{entry.id}", data={**ENTRY_FORM, "answer": "Ajukan ke verifikator LPSE.",
                                                           "auto_answer": ""})
    assert response.status_code == 302
    client.post(f"/faq/admin/{entry.id}/publish", data={"visibility": "public"})
    db.session.refresh(entry)
    assert (entry.version, entry.visibility, entry.auto_answer) == (3, "public", False)
    assert client.get(f"/faq/{entry.key}").status_code == 200

    client.post(f"/faq/admin/{entry.id}/retire")
    db.session.refresh(entry)
    assert entry.retired_at is not None and entry.version == 4
    assert client.get(f"/faq/{entry.key}").status_code == 404
    page = client.get(f"/faq/admin/{entry.id}").get_data(as_text=True)
    history = re.findall(r'<tr data-version="(\d+)" data-change="([a-z]+)">', page)
    assert history == [("4", "retired"), ("3", "published"), ("2", "edited"), ("1", "created")]
    assert page.count("Sari Editor") >= 4


def test_publishing_an_incomplete_draft_is_refused_with_a_message(client, login, make_staff):
    editor = make_staff(role="admin")
    login(client, editor)
    client.post("/faq/admin/new", data={"question": "Belum ada jawaban", "visibility": "draft", "source": "lpse"})
    entry = db.session.scalar(select(FaqEntry))
    response = client.post(f"/faq/admin/{entry.id}/publish", data={"visibility": "public"}, follow_redirects=True)
    assert "alert-danger" in response.get_data(as_text=True)
    db.session.refresh(entry)
    assert entry.visibility == "draft" and entry.version == 1


def test_admin_list_filters_and_shows_entries_due_for_review(client, login, make_staff, knowledge_base):
    editor = make_staff()
    entries.update_entry(entries.get_by_key("faq-010"), {"review_by": "2020-01-01"}, actor=editor)
    db.session.commit()
    login(client, editor)
    page = client.get("/faq/admin").get_data(as_text=True)
    due = page[page.index('id="faq-review-due"'):page.index('id="faq-filter"')]
    assert 'data-faq-key="faq-010"' in due and "2020-01-01" in due
    page = client.get("/faq/admin?visibility=draft").get_data(as_text=True)
    table = page[page.index('id="faq-entries"'):]
    assert re.findall(r'data-faq-key="([^"]+)"', table) == ["rahasia-draft"]
    page = client.get("/faq/admin?visibility=retired").get_data(as_text=True)
    assert re.findall(r'data-faq-key="([^"]+)"', page[page.index('id="faq-entries"'):]) == ["rahasia-retired"]
    page = client.get("/faq/admin?q=brankas%25&topic=rahasia").get_data(as_text=True)
    assert "faq-entries" in page and not re.findall(r'data-faq-key="([^"]+)"', page[page.index('id="faq-entries"'):])
    page = client.get("/faq/admin?q=BRANKAS&topic=rahasia").get_data(as_text=True)
    assert len(re.findall(r'data-faq-key="([^"]+)"', page[page.index('id="faq-entries"'):])) == 3


def test_jadikan_faq_from_a_resolved_ticket_opens_a_prefilled_draft(client, login, make_staff, make_ticket):
    editor = make_staff(role="helpdesk")
    ticket = make_ticket(status=Status.OPEN, subject="Aplikasi Apendo tidak bisa membuka dokumen",
                         body="Dokumen pengadaan tidak bisa dibuka di Apendo versi lama.")
    tickets.add_message(ticket, direction="outbound", body="Perbarui SPAMKODOK ke versi terbaru.", actor=editor,
                        via="phone")
    db.session.commit()
    login(client, editor)
    assert 'id="make-faq-form"' not in client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    response = client.post(f"/faq/admin/dari-tiket/{ticket.ref}")  # not resolved yet: refused
    assert response.location == f"/tickets/{ticket.ref}"
    assert db.session.query(FaqEntry).count() == 0

    tickets.resolve(ticket, actor=editor, solution="Selesai.")
    db.session.commit()
    assert 'id="make-faq-form"' in client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    response = client.post(f"/faq/admin/dari-tiket/{ticket.ref.lower()}")
    entry = db.session.scalar(select(FaqEntry))
    assert response.location == f"/faq/admin/{entry.id}"
    page = client.get(response.location).get_data(as_text=True)
    assert "Aplikasi Apendo tidak bisa membuka dokumen" in page
    assert "Perbarui SPAMKODOK ke versi terbaru." in page
    assert 'id="faq-source-ticket"' in page and ticket.ref in page
    assert (entry.visibility, entry.source, entry.source_ticket_id) == ("draft", "ticket", ticket.id)
    assert client.get(f"/faq/{entry.key}").status_code == 404  # never published by itself

    ticket_page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert f'href="/faq/admin/{entry.id}"' in ticket_page and 'id="make-faq-form"' not in ticket_page
    client.post(f"/faq/admin/dari-tiket/{ticket.ref}")
    assert db.session.query(FaqEntry).count() == 1


def test_jadikan_faq_needs_an_editor_and_the_officers_office(client, login, make_staff, make_ticket, make_office):
    ticket = make_ticket(status=Status.RESOLVED)
    login(client, make_staff(role="verifikator"))
    assert 'id="make-faq"' not in client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert client.post(f"/faq/admin/dari-tiket/{ticket.ref}").status_code == 403
    client.post("/logout")
    login(client, make_staff(role="helpdesk", office=make_office()))
    assert client.post(f"/faq/admin/dari-tiket/{ticket.ref}").status_code == 404
    assert client.post("/faq/admin/dari-tiket/TST-2026-999999").status_code == 404
    assert db.session.query(FaqEntry).count() == 0
