"""The FAQ knowledge base service: versions and history, sanitised answers, review dates, drafts from tickets."""
from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from faq import entries
from faq.match import match
from helpdesk import tickets
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import FaqEntry, FaqVersion
from helpdesk.states import Status


def versions(entry: FaqEntry) -> list[tuple[int, str]]:
    return [(v.version, v.change) for v in db.session.scalars(
        select(FaqVersion).where(FaqVersion.entry_id == entry.id).order_by(FaqVersion.version))]


@pytest.fixture(autouse=True)
def english(app):
    """These tests read the services' messages in their English source wording (the catalogue translates them)."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"  # for contexts the test opens later (CLI, requests)
    with force_locale("en"):
        yield


@pytest.fixture
def editor(make_staff):
    return make_staff(role="helpdesk", name="Sari Editor")


def test_every_change_is_a_version_with_who_and_what(editor, make_staff):
    other = make_staff(role="admin", name="Budi Admin")
    entry = entries.create_entry(actor=editor, question="Bagaimana reset password penyedia?",
                                 answer="Gunakan menu *Lupa Password*.", topic="password")
    db.session.commit()
    assert (entry.version, entry.visibility, entry.key) == (1, "draft", "bagaimana-reset-password-penyedia")
    assert entry.answer_html == "<p>Gunakan menu <em>Lupa Password</em>.</p>"

    assert entries.update_entry(entry, {"answer": "Klik **Lupa Password** di halaman login.",
                                        "alternatives": "lupa kata sandi\n\nlupa password\nLUPA PASSWORD"},
                                actor=other) is not None
    assert entries.update_entry(entry, {"topic": "password"}, actor=other) is None  # nothing changed
    entries.publish(entry, actor=editor)
    assert entries.publish(entry, actor=editor) is None  # already public
    entries.retire(entry, actor=other)
    db.session.commit()

    assert entry.version == 4
    assert entry.alternatives == ["lupa kata sandi", "lupa password"]
    assert "<strong>Lupa Password</strong>" in entry.answer_html
    assert entry.retired_at is not None and entry.updated_by_id == other.id
    assert versions(entry) == [(1, "created"), (2, "edited"), (3, "published"), (4, "retired")]
    first = db.session.scalar(select(FaqVersion).where(FaqVersion.entry_id == entry.id, FaqVersion.version == 1))
    assert first.data["answer"] == "Gunakan menu *Lupa Password*." and first.data["visibility"] == "draft"
    items = entries.history(entry)
    assert [(i.version, i.change, i.changed_by.name) for i in items] == [
        (4, "retired", "Budi Admin"), (3, "published", "Sari Editor"), (2, "edited", "Budi Admin"),
        (1, "created", "Sari Editor")]
    assert set(items[2].fields) == {"alternatives", "answer"}
    assert items[1].fields == ("visibility",) and items[0].fields == ("retired_at",)


def test_publish_brings_back_a_retired_entry_and_matching_follows(editor):
    entry = entries.create_entry(actor=editor, question="Cara mengganti email perusahaan di SPSE",
                                 answer="Ajukan perubahan data ke verifikator LPSE.", topic="akun")
    db.session.commit()
    assert match("mengganti email perusahaan").matches == []  # drafts are never matched
    entries.publish(entry, actor=editor)
    db.session.commit()
    assert [m.key for m in match("mengganti email perusahaan").matches][:1] == [entry.key]
    entries.retire(entry, actor=editor)
    db.session.commit()
    assert match("mengganti email perusahaan").matches == []
    entries.publish(entry, actor=editor, visibility="internal")
    db.session.commit()
    assert entry.retired_at is None and entry.visibility == "internal"
    assert match("mengganti email perusahaan").matches == []
    assert [m.key for m in match("mengganti email perusahaan", include_internal=True).matches][:1] == [entry.key]


@pytest.mark.parametrize("markdown, forbidden", [
    ("Lihat <script>alert('x')</script> panduan.", ["<script", "alert("]),
    ('Gambar <img src="x" onerror="alert(1)"> dan <a href="https://lpse.go.id" onclick="x()">LPSE</a>',
     ["onerror", "onclick", "<img"]),
    ("[Klik di sini](javascript:alert(1)) atau <a href='JavaScript:alert(2)'>ini</a>", ["javascript:", "alert"]),
    ("<iframe src='https://evil.example'></iframe><style>body{display:none}</style><p style='color:red'>x</p>",
     ["<iframe", "<style", "style=", "display:none"]),
    ("[data](data:text/html;base64,PHNjcmlwdD4=) <svg onload=alert(1)>", ["data:", "<svg", "onload"]),
])
def test_render_answer_sanitises(markdown, forbidden):
    html = entries.render_answer(markdown)
    for bad in forbidden:
        assert bad.lower() not in html.lower(), (bad, html)


def test_render_answer_keeps_markdown_and_safe_links():
    html = entries.render_answer("Langkah:\n\n1. Buka [LPSE](https://lpse.example.go.id)\n2. Kirim email ke "
                                 "<helpdesk@lpse.example.go.id>\n\n**Penting**: `Ctrl+F5`")
    assert '<a href="https://lpse.example.go.id" rel="noopener noreferrer">LPSE</a>' in html
    assert "<ol>" in html and "<strong>Penting</strong>" in html and "<code>Ctrl+F5</code>" in html
    assert "mailto:" in html


def test_pathological_markdown_is_shown_as_plain_text():
    html = entries.render_answer("[" * 5000 + "<script>x</script>")
    assert html.startswith("<p>[[[") and "&lt;script&gt;" in html
    assert entries.render_answer("- " * 5000 + "x").startswith("<p>")  # too deep for Python-Markdown


@pytest.mark.parametrize("changes, message", [
    ({"question": "  "}, "question"),
    ({"visibility": "secret"}, "Visibility"),
    ({"source": "kemenkeu"}, "Source"),
    ({"application": "lpse-x"}, "application"),
    ({"review_by": "31/12/2026"}, "review-by"),
    ({"answer": "x" * (entries.ANSWER_MAX + 1)}, "longer"),
    ({"owner": "me"}, "Unknown FAQ field"),
])
def test_bad_input_is_refused_before_anything_changes(editor, changes, message):
    entry = entries.create_entry(actor=editor, question="Apa itu SIKaP?", answer="Sistem Informasi Kinerja "
                                 "Penyedia.", topic="sikap", visibility="public")
    db.session.commit()
    with pytest.raises(ValidationError, match=message):
        entries.update_entry(entry, changes, actor=editor)
    db.session.rollback()
    assert entry.version == 1 and versions(entry) == [(1, "created")]


def test_published_entries_need_an_answer_and_keys_are_unique(editor):
    with pytest.raises(ValidationError, match="answer"):
        entries.create_entry(actor=editor, question="Tanpa jawaban", visibility="public")
    draft = entries.create_entry(actor=editor, question="Tanpa jawaban")
    with pytest.raises(ValidationError, match="answer"):
        entries.publish(draft, actor=editor)
    entries.update_entry(draft, {"answer": "Ada."}, actor=editor)
    with pytest.raises(ValidationError, match="topic"):
        entries.publish(draft, actor=editor)
    with pytest.raises(ValidationError, match="key"):
        entries.create_entry(actor=editor, question="Lain", key=draft.key)
    with pytest.raises(ValidationError, match="key"):
        entries.create_entry(actor=editor, question="Lain", key="admin")
    assert entries.create_entry(actor=editor, question="Tanpa jawaban!").key == "tanpa-jawaban-2"


def test_entries_past_their_review_date_are_listed(editor):
    def make(question, review_by, **kw):
        return entries.create_entry(actor=editor, question=question, answer="a", review_by=review_by,
                                    topic="umum", visibility="public", **kw)
    late = make("Lama sekali", date(2026, 1, 10))
    today = make("Hari ini", date(2026, 11, 24))
    make("Nanti", date(2026, 12, 1))
    make("Tanpa tanggal", None)
    retired = make("Sudah pensiun", date(2026, 1, 1))
    entries.retire(retired, actor=editor)
    db.session.commit()
    assert entries.entries_due_for_review(date(2026, 11, 24)) == [late, today]


def test_draft_from_a_resolved_ticket(editor, make_ticket):
    ticket = make_ticket(status=Status.OPEN, subject="Re: Fwd: [#X-1] Tidak bisa unggah dokumen penawaran",
                         body="Saat unggah dokumen penawaran muncul pesan galat 'file terlalu besar'.",
                         application="spse", spse_version="4.5")
    with pytest.raises(ValidationError, match="resolved"):
        entries.draft_from_ticket(ticket, actor=editor)
    tickets.add_message(ticket, direction="outbound", body="Kompres dokumen menjadi di bawah 20 MB lalu unggah "
                        "ulang.", actor=editor, via="phone")
    tickets.resolve(ticket, actor=editor, solution="Sudah dijawab.")
    db.session.commit()

    entry = entries.draft_from_ticket(ticket, actor=editor)
    db.session.commit()
    assert entry.question == "Tidak bisa unggah dokumen penawaran"
    assert entry.alternatives == ["Saat unggah dokumen penawaran muncul pesan galat 'file terlalu besar'."]
    assert entry.answer == "Kompres dokumen menjadi di bawah 20 MB lalu unggah ulang."  # the reply, not the note
    assert (entry.visibility, entry.source, entry.source_ticket_id, entry.auto_answer) == (
        "draft", "ticket", ticket.id, False)
    assert (entry.application, entry.spse_version) == ("spse", "4.5")
    assert entries.is_public(entry) is False
    assert entries.draft_from_ticket(ticket, actor=editor) is entry  # a second click opens the same draft
    assert db.session.query(FaqEntry).count() == 1


def test_draft_falls_back_to_the_resolution_note(editor, make_ticket):
    ticket = make_ticket(status=Status.CLOSED)  # resolved by the system with a solution, then closed
    entry = entries.draft_from_ticket(ticket, actor=editor)
    assert entry.answer == "Gunakan peramban terbaru."
    assert entries.staff_answer(make_ticket(status=Status.NEW)) == ""
