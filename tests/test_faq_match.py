"""FAQ matching (faq/index.py, faq/match.py) on a small fixture, on every store; and `helpdesk faq match --json`."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from faq import index as faq_index
from faq.match import Match, MatchResult, match
from helpdesk.extensions import db
from helpdesk.models import FaqEntry
from helpdesk.settings import set_setting

FIXTURE = [
    ("pw-supplier", "Penyedia lupa password, bagaimana meresetnya?",
     "Gunakan menu Lupa Password di halaman login penyedia dengan User ID dan email terdaftar."),
    ("pw-official", "PPK atau Pokja (non-penyedia) lupa password.",
     "Minta Admin Agency instansi Anda mereset akun non-penyedia."),
    ("email-change", "Bagaimana mengganti email akun jika masih bisa login?",
     "Ubah email sendiri di menu profil, lalu minta verifikasi perubahan data ke LPSE."),
    ("email-lost", "Email lama hilang dan tidak bisa diakses, bagaimana mengganti email?",
     "Kirim surat permohonan perubahan email bertanda tangan direktur ke LPSE."),
    ("upload-failed", "Gagal mengunggah dokumen penawaran.",
     "Periksa koneksi, ukuran berkas dan gunakan peramban terbaru; laporkan kode tender bila tetap gagal."),
    ("cert-error", "Muncul peringatan koneksi tidak aman atau error sertifikat saat membuka situs LPSE.",
     "Periksa tanggal dan jam komputer dan perbarui peramban."),
]


def add(key, question, answer, *, visibility="public", auto_answer=True, retired=False, alternatives=()):
    entry = FaqEntry(key=key, question=question, answer=answer, answer_html="", alternatives=list(alternatives),
                     visibility=visibility, auto_answer=auto_answer, topic=None,
                     retired_at=datetime(2026, 11, 1, tzinfo=UTC) if retired else None)
    db.session.add(entry)
    db.session.flush()
    faq_index.index_entry(entry)
    return entry


@pytest.fixture
def entries(app):
    made = {key: add(key, q, a) for key, q, a in FIXTURE}
    made["draft"] = add("draft", "Cara daftar magang di LPSE", "Hubungi bagian umum.", visibility="draft")
    made["retired"] = add("retired", "Cara daftar magang di LPSE (lama)", "Kirim lamaran.", retired=True)
    made["internal"] = add("internal", "Server SPSE down, prosedur eskalasi ke LKPP",
                           "Catat waktu gangguan dan eskalasi ke LKPP.", visibility="internal")
    db.session.commit()
    return made


def keys(result: MatchResult) -> list[str]:
    return [m.key for m in result.matches]


@pytest.mark.parametrize("text, expected", [
    ("pw sy lupa, sy penyedia, gmn resetnya?", "pw-supplier"),
    ("sy pokja lupa password gmn", "pw-official"),
    ("mau ganti email akun, masih bisa login kok", "email-change"),
    ("email lama sdh hilang ga bisa diakses, gmn gantinya", "email-lost"),
    ("upload penawaran gagal trs", "upload-failed"),
    ("kok muncul error sertifikat pas buka web lpse", "cert-error"),
])
def test_ranking_tells_near_duplicates_apart(entries, text, expected):
    result = match(text)
    assert keys(result)[0] == expected
    assert all(isinstance(m, Match) and 0.0 <= m.confidence <= 1.0 for m in result.matches)
    assert [m.score for m in result.matches] == sorted((m.score for m in result.matches), reverse=True)


def test_english_question_finds_the_entry(entries):
    assert keys(match("I forgot the password of my supplier account"))[0] == "pw-supplier"
    assert keys(match("Failed to upload my bid document"))[0] == "upload-failed"


def test_typo_is_tolerated(entries):
    assert keys(match("penyedia lupa passwod"))[0] == "pw-supplier"


def test_top_limits_the_matches(entries):
    assert len(match("lupa password email", top=1).matches) == 1
    assert len(match("lupa password email", top=5).matches) <= 5


@pytest.mark.parametrize("bad", ["", "   ", None, b"\x00\xff\x10" * 1000, "\x00\x01" * 50, "x" * 1_000_000,
                                 "lupa password " * 100_000])
def test_bad_input_gives_no_matches(entries, bad):
    assert match(bad) == MatchResult([], None)


def test_drafts_and_retired_entries_never_match(entries):
    assert not {"draft", "retired"} & set(keys(match("daftar magang lpse", top=10, include_internal=True)))


def test_internal_entries_only_for_staff(entries):
    assert "internal" not in keys(match("server spse down eskalasi lkpp", top=10))
    assert keys(match("server spse down eskalasi lkpp", include_internal=True))[0] == "internal"
    assert match("server spse down eskalasi lkpp", include_internal=True).auto_answer is None


def test_retiring_and_editing_update_the_index(entries):
    entry = entries["cert-error"]
    entry.retired_at = datetime(2026, 11, 2, tzinfo=UTC)
    faq_index.index_entry(entry)
    assert "cert-error" not in keys(match("error sertifikat situs lpse", top=10))
    entry.retired_at = None
    entry.question = "Peringatan sertifikat kedaluwarsa"
    faq_index.index_entry(entry)
    assert keys(match("sertifikat kedaluwarsa"))[0] == "cert-error"
    faq_index.remove_entry(entry.id)
    assert "cert-error" not in keys(match("sertifikat kedaluwarsa", top=10))
    assert faq_index.rebuild_index() == 7  # six public fixtures + the internal one
    assert keys(match("sertifikat kedaluwarsa"))[0] == "cert-error"


def test_auto_answer_needs_public_allowed_and_confident(entries):
    set_setting("faq.auto_answer_threshold", 0.0)
    db.session.commit()
    text = "penyedia lupa password, gmn reset"
    assert match(text).auto_answer == "pw-supplier"
    entries["pw-supplier"].auto_answer = False
    db.session.commit()
    assert match(text).auto_answer is None
    entries["pw-supplier"].auto_answer = True
    set_setting("faq.auto_answer_threshold", 1.01)
    db.session.commit()
    assert match(text).auto_answer is None


def test_auto_answer_off_sends_nothing(app, entries):
    set_setting("faq.auto_answer_threshold", 0.0)
    set_setting("faq.auto_answer", False)
    db.session.commit()
    assert match("penyedia lupa password, gmn reset").auto_answer is None


def test_no_entries_no_matches(app):
    assert match("lupa password") == MatchResult([], None)


def test_both_stores_rank_alike(entries):
    """The fixture's expected top 3 (computed by the Python BM25F on the stored tokens): identical on each store."""
    assert keys(match("lupa password", top=3))[:2] == ["pw-supplier", "pw-official"]
    assert keys(match("ganti email", top=2)) == ["email-change", "email-lost"]
    scores = [m.score for m in match("lupa password akun", top=3).matches]
    assert scores == [pytest.approx(s, abs=1e-3) for s in EXPECTED_SCORES["lupa password akun"]]


EXPECTED_SCORES = {"lupa password akun": [2.0819, 1.7299, 0.794]}  # measured on SQLite


def test_cli_faq_match_json(app, entries):
    runner = app.test_cli_runner()
    from helpdesk.cli import cli

    result = runner.invoke(cli, ["faq", "match", "penyedia lupa pw", "--top", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"matches", "auto_answer"}
    assert len(data["matches"]) == 2
    assert set(data["matches"][0]) == {"key", "question", "score", "confidence"}
    assert data["matches"][0]["key"] == "pw-supplier"
    assert data["auto_answer"] in (None, "pw-supplier")

    empty = runner.invoke(cli, ["faq", "match", "", "--json"])
    assert empty.exit_code == 0
    assert json.loads(empty.output) == {"matches": [], "auto_answer": None}
