"""The FAQ normaliser (faq/normalize.py): informal Indonesian, English, stemming, typo tolerance and bad input."""
from __future__ import annotations

import pytest

from faq.normalize import MAX_TOKENS, normalise, normalise_text, stem


@pytest.mark.parametrize("text, expected", [
    ("sy tdk bs login", ["tidak", "login"]),  # sy, bs: stop words after expansion; tdk -> tidak
    ("gk bisa", ["tidak"]),
    ("ga bisa", ["tidak"]),
    ("nggak bisa", ["tidak"]),
    ("pw sy lupa", ["password", "lupa"]),
    ("lupa kata sandi", ["lupa", "password"]),
    ("akun blm aktif", ["akun", "belum", "aktif"]),
    ("udh daftar tp blm diverifikasi", ["daftar", "belum", "verifikasi"]),
    ("gmn cara upload dokumen?", ["unggah", "dokumen"]),
    ("vendor ikut lelang", [stem("penyedia"), "ikut", "tender"]),
    ("rekanan", [stem("penyedia")]),
])
def test_slang_and_abbreviations_become_the_entries_words(text, expected):
    assert normalise(text) == expected


def test_case_punctuation_and_repeated_letters():
    assert normalise("TOLONGGG!!! Password LUPAAAA???") == normalise("tolong password lupa")
    assert normalise("lupaaa") == ["lupa"]
    assert normalise("langkah2 pendaftaran") == ["langkah", "daftar"]


def test_stemming_joins_word_forms():
    assert stem("pendaftaran") == stem("mendaftar") == stem("terdaftar") == "daftar"
    assert stem("mengunggah") == "unggah"
    assert normalise("dinonaktifkan") == normalise("nonaktif")
    assert normalise("meresetnya") == ["reset"]


def test_english_maps_to_indonesian():
    assert normalise("I forgot my password") == normalise("saya lupa password")
    assert normalise("How do I register as a supplier?") == normalise("daftar penyedia")
    assert "unggah" in normalise("cannot upload my bid")


def test_non_prefix_is_not_the_word_itself():
    assert stem("penyedia") not in normalise("non-penyedia")


def test_urls_emails_and_long_numbers_are_dropped():
    tokens = normalise("lihat https://lpse.example.go.id/eproc4 kirim ke budi@example.com NPWP 012345678901234")
    assert tokens == ["lihat", "kirim", "npwp"]
    assert normalise("call center 144") == ["callcenter", "144"]


def test_typo_tolerance_needs_the_vocabulary():
    vocabulary = frozenset({"password", "lupa", "daftar"})
    assert normalise("lupa passwod") == ["lupa", "passwod"]
    assert normalise("lupa passwod", vocabulary=vocabulary, choices=sorted(vocabulary)) == ["lupa", "password"]
    # short words and words far from the vocabulary are left alone
    assert normalise("printer", vocabulary=vocabulary, choices=sorted(vocabulary)) == ["printer"]


def test_colloquial_affixes_land_on_known_stems():
    vocabulary = frozenset({"nonaktif", "unggah"})
    assert normalise("dinonaktifin", vocabulary=vocabulary, choices=sorted(vocabulary)) == ["nonaktif"]
    assert normalise("keupload", vocabulary=vocabulary, choices=sorted(vocabulary)) == ["unggah"]


@pytest.mark.parametrize("bad", ["", "   ", None, 42, b"", b"\x00\x01\x02\xff\xfe" * 200, "\x00\x01\x02" * 100,
                                 "!!!???...", "\ufffd" * 50])
def test_bad_input_gives_no_tokens(bad):
    assert normalise(bad) == []


def test_huge_input_is_bounded():
    huge = "lupa password akun penyedia " * 200_000
    tokens = normalise(huge)
    assert 0 < len(tokens) <= MAX_TOKENS
    assert normalise_text("lupa  password") == "lupa password"


def test_utf8_bytes_are_read():
    assert normalise(b"lupa password") == ["lupa", "password"]
