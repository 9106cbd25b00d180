"""Email parsing on real RFC 5322 files in tests/email/: charsets, headers, MIME structure, attachments, breakage."""
from __future__ import annotations

import base64
import hashlib
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from channels.email.parse import Address, ParsedEmail, decode_bytes, parse_email

FIXTURES = Path(__file__).parent / "email"
WIB = timezone(timedelta(hours=7))
# sha256 of the PDF and PNG the fixtures carry, computed from the original files when the fixtures were written.
PDF_SHA256 = "810effabad08093498908627a883ca2e96917099ee5c39281aaffeeb10267321"
PNG_SHA256 = "b4467f0dd939cb7b8af870bf39e79c2433610e765485791c8524ca7a245577b8"
OUR_ID = "<LPSE-2026-000123.a1b2c3d4e5f6.0123456789abcdef@lpse-kota.example>"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str, **kwargs) -> ParsedEmail:
    return parse_email(raw(name), **kwargs)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def by_name(parsed: ParsedEmail) -> dict:
    return {a.filename: a for a in parsed.attachments}


class Stalled(BaseException):
    """Raised by time_limit; a BaseException, so the parser's own `except Exception` nets cannot swallow it."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM interrupts the test after ``seconds``."""
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("needs SIGALRM")

    def expire(signum: int, frame: object) -> None:
        raise Stalled(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_clean_parse(parsed: ParsedEmail) -> None:
    """The structured parser handled it: the last-resort net (raw text as body) was not needed."""
    assert not any(d.startswith("parser failed") for d in parsed.defects), parsed.defects


# --- plain text and charsets --------------------------------------------------------------------------------------

def test_utf8_quoted_printable_message_with_crlf_line_ends():
    data = raw("plain-utf8-qp-crlf.eml")
    assert b"\r\n" in data and b"\n\n" not in data.replace(b"\r\n", b"")
    parsed = parse_email(data)
    assert parsed.subject == "Tidak bisa unggah dokumen penawaran"
    assert parsed.sender == Address("Budi Santoso", "budi.santoso@example.com")
    assert parsed.to == [Address("Helpdesk LPSE", "helpdesk@lpse-kota.example")]
    assert parsed.message_id == "<CAF3x9Qk1=budi.santoso.20261124@mail.example.com>"
    assert parsed.date == datetime(2026, 11, 24, 9, 58, 3, tzinfo=WIB)
    assert parsed.text.startswith("Selamat siang Bapak/Ibu Helpdesk LPSE,\n\nMohon bantuan, saya tidak bisa unggah")
    assert "\u201cPembangunan Jalan Desa Sukamaju\u201d \u2013 muncul" in parsed.text
    assert "\r" not in parsed.text
    assert parsed.html is None and parsed.attachments == [] and parsed.defects == []
    assert parsed.size == len(data) and not parsed.oversized


def test_iso_8859_1_label_on_windows_1252_bytes_reads_windows_1252():
    parsed = parse("charset-latin1-label-cp1252-bytes.eml")
    assert "jadwal \u201caanwijzing\u201d paket konsultansi \u2013 apakah" in parsed.text
    assert "Caf\u00e9 di lantai 2" in parsed.text
    assert "\ufffd" not in parsed.text and "\x93" not in parsed.text
    assert any("iso-8859-1 read as windows-1252" in d for d in parsed.defects)


def test_undeclared_8bit_body_is_detected_not_replaced():
    parsed = parse("charset-undeclared-8bit.eml")
    assert parsed.text == ("Mohon bantuan, saya tidak bisa unggah dokumen penawaran \u2013 akun saya terkunci setelah "
                           "salah kata sandi tiga kali. \u201cUser ID\u201d saya: andiwijaya01. Terima kasih \u2026")
    assert any("windows-1252 guessed" in d for d in parsed.defects)


def test_latin1_label_on_utf8_bytes_reads_utf8():
    parsed = parse("charset-latin1-label-utf8-bytes.eml")
    assert "sanggahan \u2014 apakah lewat SPSE" in parsed.text and "R\u00e9sum\u00e9" in parsed.text
    assert "\u00c3" not in parsed.text  # the mojibake a latin-1 reading would give
    assert any("declared but text is utf-8" in d for d in parsed.defects)


def test_utf8_label_on_windows_1252_bytes_is_guessed():
    parsed = parse("charset-utf8-label-cp1252-bytes.eml")
    assert "aplikasi \u201cSPAMKodok\u201d menampilkan galat \u2013 file" in parsed.text
    assert "\ufffd" not in parsed.text
    assert any("utf-8 declared but does not fit" in d for d in parsed.defects)


def test_gb2312_label_reads_gbk_characters_as_gb18030():
    parsed = parse("charset-gb2312-label.eml")
    assert parsed.text == ("\u60a8\u597d\uff0c\u6211\u662f\u738b\u9555\u3002"  # ... I am Wang Rong.
                           "\u6295\u6807\u6587\u4ef6\u65e0\u6cd5\u4e0a\u4f20\u3002")
    assert parsed.sender == Address("\u738b\u9555", "wang@example.cn")
    assert parsed.subject == "\u6295\u6807\u6587\u4ef6\u4e0a\u4f20\u95ee\u9898"


def test_ks_c_5601_label_reads_as_cp949():
    parsed = parse("charset-ks-c-5601.eml")
    assert "\ub620\ub620\ud55c \uc9c8\ubb38\uc785\ub2c8\ub2e4." in parsed.text  # \ub620 exists only in cp949
    assert parsed.subject == "\ubb38\uc758"


def test_iso_2022_jp_with_windows_extensions():
    parsed = parse("charset-iso2022jp-nec.eml")
    assert parsed.text == "\u2460\u2461\u2462 \u306e\u8cc7\u6599\u3092\u6dfb\u4ed8\u3057\u307e\u3059\u3002"
    assert parsed.subject == "\u8cc7\u6599\u2460"


@pytest.mark.parametrize(("data", "label", "expected"), [
    ("\u738b\u9555".encode("gb18030"), "gb2312", "\u738b\u9555"),
    ("\ub620".encode("cp949"), "ks_c_5601-1987", "\ub620"),
    ("\u201cok\u201d".encode("cp1252"), "iso-8859-1", "\u201cok\u201d"),
    ("\u201cok\u201d".encode("cp1252"), "us-ascii", "\u201cok\u201d"),
    ("d\u00e9j\u00e0".encode("utf-8"), "x-unknown-label", "d\u00e9j\u00e0"),
    ("Mohon bantuan \u2013 dokumen".encode("utf-8"), None, "Mohon bantuan \u2013 dokumen"),
])
def test_decode_bytes_maps_mislabels(data: bytes, label: str | None, expected: str):
    assert decode_bytes(data, label, where="test", defects=[]) == expected


def test_decode_bytes_notes_an_unknown_label():
    defects: list[str] = []
    decode_bytes("d\u00e9j\u00e0".encode("utf-8"), "x-unknown-label", where="part 2", defects=defects)
    assert defects == ["unknown charset 'x-unknown-label' in part 2"]


# --- headers ------------------------------------------------------------------------------------------------------

def test_rfc2047_split_multibyte_mixed_and_folded_headers():
    parsed = parse("headers-rfc2047.eml")
    assert parsed.subject == ("Re: Pengumuman pemenang \u2013 tender \u201cRehabilitasi Puskesmas\u201d "
                              "[Ref: LPSE-2026-000123]")
    assert parsed.sender == Address("Pok\u00e9mon Kontraktor", "info@example.com")
    assert parsed.to == [Address("Santoso, Budi", "budi@example.com"), Address("Siti Nurhaliza", "siti@example.org")]
    assert parsed.cc == [Address("Andi \u00c1lvarez", "andi@example.net")]
    assert parsed.headers["thread-topic"] == ["Caf\u00e9 und  d\u00e9j\u00e0 vu"]
    assert "\ufffd" not in parsed.subject and parsed.defects == []


def test_raw_utf8_headers_are_decoded():
    parsed = parse("headers-raw-utf8.eml")
    assert parsed.subject == "Kenapa status \u201cgagal kirim\u201d di SPSE?"
    assert parsed.sender == Address("Nur \u2018Aini", "nur.aini@example.com")


def test_raw_8bit_header_in_a_legacy_charset_is_guessed():
    data = raw("headers-raw-utf8.eml").replace("Kenapa status \u201cgagal kirim\u201d".encode(),
                                               "Kenapa status \u201cgagal kirim\u201d".encode("cp1252"))
    parsed = parse_email(data)
    assert parsed.subject == "Kenapa status \u201cgagal kirim\u201d di SPSE?"
    assert any(d.startswith("header Subject has raw 8-bit bytes") for d in parsed.defects)


def test_headers_dict_holds_every_header_as_str_in_order():
    parsed = parse("plain-utf8-qp-crlf.eml")
    assert list(parsed.headers)[:4] == ["return-path", "received", "from", "to"]
    assert all(isinstance(v, str) for values in parsed.headers.values() for v in values)
    assert parsed.headers["received"][0].startswith("from mail.example.com (mail.example.com [192.0.2.10])")
    assert "\n" not in parsed.headers["received"][0]


@pytest.mark.parametrize("name", ["header-to-lone-quote.eml", "header-to-comment-colon.eml"])
def test_to_headers_that_crash_the_stdlib_parser_lose_nothing_else(name: str):
    parsed = parse(name)  # policy.default raises IndexError on `To: "` and `To: (c):`
    assert_clean_parse(parsed)
    assert parsed.to == []
    assert parsed.sender == Address("Yusuf", "yusuf@example.com")
    assert parsed.subject == "Pertanyaan tentang e-katalog"
    assert parsed.text == "Bagaimana cara tayang di e-katalog?"
    assert "header To unparseable, kept raw" in parsed.defects


def test_comment_colon_to_header_keeps_the_cc():
    assert parse("header-to-comment-colon.eml").cc == [Address("", "helpdesk@lpse-kota.example")]


def test_content_type_name_star_crash_keeps_body_and_attachment():
    parsed = parse("header-content-type-name-star.eml")  # `Content-Type: ...; name*` crashes policy.default
    assert_clean_parse(parsed)
    assert parsed.text == "Isi pesan tetap terbaca."
    [attachment] = parsed.attachments
    assert attachment.filename == "lampiran-1.pdf" and attachment.content_type == "application/pdf"
    assert sha256(attachment.data) == PDF_SHA256


def test_exchange_bracketed_message_id_is_kept():
    parsed = parse("message-id-exchange-brackets.eml")  # raises in policy.default on Python 3.11 and 3.12
    assert parsed.message_id == "<[0a1b2c3d4e5f60718293a4b5c6d7e8f9@microsoft.com]>"
    assert parsed.in_reply_to == ["<[0a1b2c3d4e5f60718293a4b5c6d7e8f0@microsoft.com]>"]
    assert parsed.text == "Pesan dari Exchange lama."


def test_missing_message_id_and_malformed_date_are_none():
    parsed = parse("message-id-missing-date-bad.eml")
    assert parsed.message_id is None and parsed.date is None
    assert parsed.text == "Pesan tanpa Message-ID."
    assert any(d.startswith("Date 'Senin, 32 Desember 2026 jam 25' unparseable") for d in parsed.defects)


def test_duplicate_garbage_message_id_and_noisy_references():
    parsed = parse("message-id-duplicate-garbage.eml")
    assert parsed.message_id == "<second-id@example.com>"
    assert parsed.in_reply_to == [OUR_ID]
    assert parsed.references == ["<first@example.com>", OUR_ID]
    assert "2 Message-ID headers, the first usable one kept" in parsed.defects


def test_message_id_without_brackets_gets_them():
    data = raw("message-id-missing-date-bad.eml")
    data = data.replace(b"Subject:", b"Message-ID: 20261201.tono@example.com\nSubject:")
    parsed = parse_email(data)
    assert parsed.message_id == "<20261201.tono@example.com>"
    assert "Message-ID without angle brackets, brackets added" in parsed.defects


def test_date_with_unknown_zone_is_read_as_utc():
    data = raw("plain-utf8-qp-crlf.eml").replace(b"Date: Tue, 24 Nov 2026 09:58:03 +0700",
                                                 b"Date: Tue, 24 Nov 2026 02:58:03 -0000")
    assert parse_email(data).date == datetime(2026, 11, 24, 2, 58, 3, tzinfo=UTC)


def test_unusable_from_falls_back_to_reply_to():
    data = raw("plain-utf8-qp-crlf.eml").replace(b"From: Budi Santoso <Budi.Santoso@Example.com>",
                                                 b"From: Budi Santoso\r\nReply-To: Budi <budi@example.net>")
    parsed = parse_email(data)
    assert parsed.sender == Address("Budi", "budi@example.net") == parsed.reply_to
    assert "From unusable, sender taken from Reply-To" in parsed.defects


# --- structure ----------------------------------------------------------------------------------------------------

def test_attachment_names_types_and_bytes():
    parsed = parse("attachments-names.eml")
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("Surat Penawaran \u2013 PT Maju Jaya.pdf", "application/pdf"),  # RFC 2231 continuation with charset
        ("Jadwal Lelang \u2013 Apus Macan.xlsx",  # RFC 2047 inside name= and filename=
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("lampiran-3.pdf", "application/pdf"),  # nameless: named by its type and position
        ("scan.png", "image/png"),
        ("SCAN (2).png", "image/png"),  # the same name in another case: made unique
        ("data.bin", "application/octet-stream"),  # a Windows path: only the file name is kept
        ("catatan.txt", "text/plain"),  # a text file attachment is not body text
    ]
    files = by_name(parsed)
    assert sha256(files["Surat Penawaran \u2013 PT Maju Jaya.pdf"].data) == PDF_SHA256
    assert sha256(files["scan.png"].data) == PNG_SHA256
    assert files["data.bin"].data == b"\x00\x01\x02binary\r\nline\r\n\xff\xfe\x00"  # binary CTE, byte for byte
    assert files["lampiran-3.pdf"].data.startswith(b"%PDF-1.4") and files["lampiran-3.pdf"].data.endswith(b"%%EOF\n")
    assert parsed.text == "Terlampir dokumen kualifikasi kami."
    assert not any(a.inline for a in parsed.attachments)


def test_html_only_mail_gives_readable_text_and_sanitised_html():
    parsed = parse("html-only.eml")
    assert parsed.text == (
        "Selamat pagi,\n\n"
        "Bagaimana cara registrasi penyedia baru? Langkah yang sudah saya coba:\n\n"
        "1. Buka halaman pendaftaran\n"
        "2. Isi formulir \u2013 NPWP dan NIB\n\n"
        "Lihat halaman publik <https://lpse-kota.example/eproc4/publik> dan ini.\n\n"
        "Terima kasih,\nRatna")
    html = parsed.html
    assert html is not None
    for unsafe in ("<script", "document.cookie", "onload", "onclick", "javascript:", "<iframe", "<style",
                   "Judul dokumen", "MsoNormal{"):
        assert unsafe not in html, unsafe
    assert "<b>registrasi</b>" in html and "<li>Buka halaman pendaftaran</li>" in html
    assert 'href="https://lpse-kota.example/eproc4/publik"' in html


def test_alternative_inside_related_with_inline_image_and_a_file():
    parsed = parse("alternative-related-inline.eml")
    assert parsed.text == "Berikut tangkapan layar galatnya.\n[image: galat.png]"  # the text/plain alternative
    assert parsed.html is not None
    assert '<img src="cid:ii_galat01@example.com" alt="galat.png">' in parsed.html
    files = by_name(parsed)
    assert list(files) == ["galat.png", "BA Evaluasi.pdf"]
    image, pdf = files["galat.png"], files["BA Evaluasi.pdf"]
    assert image.inline and image.content_id == "ii_galat01@example.com" and sha256(image.data) == PNG_SHA256
    assert not pdf.inline and pdf.content_id == "unused-pdf@example.com"


def test_forwarded_message_is_an_attachment_with_its_exact_bytes():
    data = raw("forwarded-rfc822.eml")
    parsed = parse_email(data)
    assert parsed.text == "Mohon dicek, apakah undangan ini sah?"
    [forwarded] = parsed.attachments
    assert forwarded.filename == "Undangan klarifikasi teknis.eml"
    assert forwarded.content_type == "message/rfc822"
    expected = data.split(b"Content-Disposition: attachment\n\n", 1)[1].split(b"\n--fwd--", 1)[0]
    assert forwarded.data == expected
    inner = parse_email(forwarded.data)
    assert inner.message_id == "<inner-forwarded@pemkab.example>"
    assert [a.filename for a in inner.attachments] == ["undangan.pdf"]


def test_forwarded_message_name_keeps_a_subject_with_slashes():
    data = raw("forwarded-rfc822.eml").replace(b"Subject: Undangan klarifikasi teknis\n",
                                               b"Subject: Undangan klarifikasi 1/2\n")
    assert [a.filename for a in parse_email(data).attachments] == ["Undangan klarifikasi 1-2.eml"]


def test_winmail_dat_is_unpacked_into_its_files():
    data = raw("winmail-tnef.eml")
    assert b"\r\n" in data
    parsed = parse_email(data)
    assert parsed.text == "Terlampir surat penawaran dan daftar harga."  # the MIME text part, not the TNEF copy
    files = by_name(parsed)
    assert list(files) == ["Surat Penawaran \u2013 PT Maju Jaya.pdf", "HARGA.CSV"]
    assert files["Surat Penawaran \u2013 PT Maju Jaya.pdf"].content_type == "application/pdf"
    assert sha256(files["Surat Penawaran \u2013 PT Maju Jaya.pdf"].data) == PDF_SHA256
    assert files["HARGA.CSV"].data == b"no;barang;harga\r\n1;Laptop;15000000\r\n"
    assert files["HARGA.CSV"].content_type == "text/csv"


def test_winmail_dat_body_is_used_when_the_message_has_no_other():
    parsed = parse("winmail-only.eml")
    assert parsed.text == "Mohon konfirmasi jadwal pembuktian kualifikasi \u2013 terima kasih."
    [pdf] = parsed.attachments
    assert pdf.filename == "Daftar Hadir.pdf" and pdf.content_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF-1.4")


def test_truncated_winmail_dat_is_kept_as_is():
    data = raw("winmail-truncated.eml")
    parsed = parse_email(data)
    kept = by_name(parsed)["winmail.dat"]
    assert len(kept.data) == 200 and kept.data[:4] == b"\x78\x9f\x3e\x22"
    assert any("winmail.dat in part 2 is truncated" in d for d in parsed.defects)
    assert parsed.text == "Lampiran di bawah."


def test_winmail_dat_cut_inside_a_file_is_also_kept():
    data = raw("winmail-tnef.eml")
    head, marker, rest = data.partition(b'filename="winmail.dat"\r\n\r\n')
    encoded, _, tail = rest.partition(b"\r\n\r\n--")
    tnef = base64.b64decode(encoded)
    tnef = tnef[:tnef.index(b"1;Laptop")]  # cut inside the data of the second file: tnefparse reads it short
    cut = base64.encodebytes(tnef).replace(b"\n", b"\r\n")
    parsed = parse_email(head + marker + cut + b"\r\n--" + tail)
    files = by_name(parsed)
    assert list(files) == ["Surat Penawaran \u2013 PT Maju Jaya.pdf", "HARGA.CSV", "winmail.dat"]
    assert files["winmail.dat"].data == tnef
    assert any("is truncated, kept as is next to what was read" in d for d in parsed.defects)


def test_winmail_dat_with_an_impossible_property_count_is_kept_without_hanging():
    data = raw("winmail-only.eml")
    props = data.index(b"\x01\x03\x90\x06\x00")  # attMAPIProps: level 1, id 0x9003, type 6; then length, count
    data = data[:props + 9] + b"\xf0\xff\xff\xff" + data[props + 13:]
    with time_limit(5):  # tnefparse alone loops about four billion times on this
        parsed = parse_email(data)
    assert [a.filename for a in parsed.attachments] == ["winmail.dat"]
    assert "winmail.dat in the message body has impossible property counts, kept as is" in parsed.defects


def test_unreadable_winmail_dat_is_kept_with_a_defect():
    data = raw("winmail-truncated.eml")
    head, _, _ = data.partition(b'name="winmail.dat"\n')
    data = head + b'name="winmail.dat"\nContent-Transfer-Encoding: base64\n\nbm90IGEgdG5lZiBzdHJlYW0=\n--b--\n'
    parsed = parse_email(data)
    assert by_name(parsed)["winmail.dat"].data == b"not a tnef stream"
    assert any(d.startswith("winmail.dat in part 2 could not be decoded") for d in parsed.defects)


def test_format_flowed_lines_are_joined():
    parsed = parse("format-flowed.eml")
    assert parsed.text == (
        "Terima kasih atas jawabannya. Jadi batas waktu upload penawaran adalah pukul 23.59 WIB sesuai jadwal di "
        "SPSE, bukan pukul 16.00.\n\n"
        "Pada 30/11/2026 10.00, Helpdesk LPSE menulis:\n"
        "> Batas waktu mengikuti jadwal tahapan di SPSE.\n\n"
        "-- \nMaya")


# --- size and breakage --------------------------------------------------------------------------------------------

def test_oversized_message_keeps_text_and_lists_skipped_attachments():
    data = raw("oversized.eml")
    parsed = parse_email(data, max_bytes=4096)
    assert parsed.oversized and parsed.size == len(data)
    assert parsed.subject == "Scan dokumen besar"
    assert parsed.sender == Address("Budi Santoso", "budi.santoso@example.com")
    assert parsed.text == "Berikut hasil pindaian dokumen (ukurannya besar)."
    assert parsed.attachments == []
    assert parsed.skipped_attachments == [("pindaian.pdf", "application/pdf", 21089)]
    assert f"attachment list skipped: message is {len(data)} bytes, limit 4096" in parsed.defects


def test_message_under_the_limit_keeps_its_attachments():
    parsed = parse("oversized.eml")
    assert not parsed.oversized and parsed.skipped_attachments == []
    assert [a.filename for a in parsed.attachments] == ["pindaian.pdf"]


def test_missing_closing_boundary_keeps_every_part():
    parsed = parse("mime-missing-close-boundary.eml")
    assert parsed.text == "Bagian pertama."
    assert sha256(by_name(parsed)["potong.png"].data) == PNG_SHA256
    assert "closing boundary missing in the message" in parsed.defects


def test_unknown_transfer_encoding_keeps_the_raw_payload():
    parsed = parse("mime-unknown-cte.eml")
    assert parsed.text == "Teks ini tetap terbaca walau encoding-nya tidak dikenal."
    assert any("unknown Content-Transfer-Encoding 'x-gzip64'" in d for d in parsed.defects)


def test_nul_bytes_are_removed_from_text_and_headers():
    parsed = parse("mime-nul-bytes.eml")
    assert parsed.subject == "NUL di subjek"
    assert parsed.text == "Teks dengan NUL."
    assert all("\x00" not in v for values in parsed.headers.values() for v in values)
    assert "NUL characters removed from the message body" in parsed.defects


@pytest.mark.parametrize("data", [
    b"",
    b"\x00" * 64,
    random.Random(7).randbytes(4096),
    b"\xff\xfe\x00garbage\r\n\r\n\x00\x01",
    b"Content-Type: multipart/mixed; boundary=x\n\n--x--\n",  # a multipart with no parts
    b"Content-Type: multipart/mixed\n\nno boundary at all\n",
    b"Content-Type: multipart/alternative; boundary=b\n\n--b\n\n--b--\n",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Type: text/plain; charset=\"\n\nbroken charset parameter\n",
    b"Content-Transfer-Encoding: base64\n\n@@@==\n",
    b"".join(b"Content-Type: multipart/mixed; boundary=%d\n\n--%d\n" % (i, i) for i in range(60)) + b"deep\n",
], ids=["empty", "nuls", "random", "garbage", "zero-parts", "no-boundary", "empty-alternative",
        "empty-rfc822", "broken-param", "bad-base64", "deep-nesting"])
def test_any_bytes_parse_without_the_last_resort(data: bytes):
    parsed = parse_email(data)
    assert_clean_parse(parsed)
    assert isinstance(parsed.text, str) and "\x00" not in parsed.text
    assert len(parsed.content_hash) == 64 and parsed.size == len(data)


def test_deep_nesting_is_cut_off_and_noted():
    data = b"".join(b"Content-Type: multipart/mixed; boundary=%d\n\n--%d\n" % (i, i) for i in range(60)) + b"deep\n"
    parsed = parse_email(data)
    assert any("nested too deep" in d for d in parsed.defects)


def html_message(markup: str) -> bytes:
    return b"From: budi@example.com\nContent-Type: text/html; charset=utf-8\n\n" + markup.encode()


@pytest.mark.parametrize("markup", [
    "</" * 200_000,  # html.parser alone: about 13 s
    "<?" * 200_000,
    "<!--" * 60_000,
    "&" * 1_000_000,  # html5ever alone: about 8 s
    "<div>" * 100_000 + "x",  # html5ever alone: about 40 s
], ids=["end-tags", "processing-instructions", "comments", "ampersands", "deep-nesting"])
def test_hostile_html_shapes_do_not_stall_the_parser(markup: str):
    with time_limit(5):
        parsed = parse_email(html_message(markup))
    assert_clean_parse(parsed)
    assert parsed.html is not None


@pytest.mark.parametrize("data", [
    b"Content-Type: text/plain;" + b" a=b;" * 200_000 + b"\n\nbody\n",  # compat32 alone: about 14 s
    b"To: " + b", ".join(b"u%d@example.com" % i for i in range(20_000)) + b"\n\nbody\n",
    b"References: " + b" ".join(b"<id%d@example.com>" % i for i in range(20_000)) + b"\n\nbody\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n" + b"--b\n\nx\n" * 200_000,
    b"Content-Type: text/html\n\n" + (b"a" * 9_999 + b"<b>") * 100,
], ids=["parameters", "addresses", "references", "parts", "text-runs"])
def test_hostile_header_and_structure_shapes_do_not_stall_the_parser(data: bytes):
    with time_limit(5):
        parsed = parse_email(data)
    assert_clean_parse(parsed)


def test_a_very_long_parameter_header_is_cut():
    parsed = parse_email(b"Content-Type: text/plain; charset=utf-8;" + b" a=b;" * 200_000 + b"\n\nisi\n")
    assert parsed.text == "isi"
    assert "header Content-Type of 1000026 characters cut to 16384" in parsed.defects


def test_a_message_with_too_many_parts_keeps_the_rest_as_one_attachment():
    data = b"Content-Type: multipart/mixed; boundary=b\n\n" + b"".join(b"--b\n\nbagian %d\n" % i for i in range(1500))
    parsed = parse_email(data + b"--b--\n")
    assert parsed.text.startswith("bagian 0\n\nbagian 1\n\n") and "bagian 998" in parsed.text
    [rest] = parsed.attachments
    assert rest.data.startswith(b"--b\n\nbagian 999\n") and rest.data.endswith(b"bagian 1499\n--b--\n")
    assert "the message has more than 999 parts, the rest kept unsplit as one attachment" in parsed.defects


def test_deeply_nested_html_is_shown_as_plain_text():
    parsed = parse_email(html_message("<div>" * 600 + "Mohon bantuan &amp; terima kasih" + "</div>" * 600))
    assert parsed.html == "<pre>Mohon bantuan &amp; terima kasih</pre>"
    assert parsed.text == "Mohon bantuan & terima kasih"
    assert "HTML of the message body is nested 600 elements deep, shown as plain text" in parsed.defects


def test_huge_html_is_cut_and_inline_data_images_dropped():
    image = '<img src="data:image/png;base64,' + "A" * 500_000 + '">'
    parsed = parse_email(html_message("<p>Halo</p>" + image + "<p>" + "kata " * 420_000 + "</p>"))
    assert parsed.text.startswith("Halo\n\nkata kata")
    assert "data:" not in (parsed.html or "")
    assert any(d.startswith("HTML of the message body is 2100030 characters, only the first 2000000 kept")
               for d in parsed.defects)


# --- content hash -------------------------------------------------------------------------------------------------

def test_content_hash_ignores_transport_headers():
    data = raw("attachments-names.eml")
    relayed = (b"Received: from relay.example (relay.example [192.0.2.99]) by mx2.lpse-kota.example\n"
               b"Delivered-To: helpdesk@lpse-kota.example\nX-Spam-Score: 0.1\nReturn-Path: <bounce@example.com>\n"
               + data)
    assert parse_email(relayed).content_hash == parse_email(data).content_hash


def test_content_hash_changes_with_the_body_under_the_same_message_id():
    data = raw("attachments-names.eml")
    other = data.replace(b"Terlampir dokumen kualifikasi kami.", b"Terlampir dokumen kualifikasi revisi.")
    first, second = parse_email(data), parse_email(other)
    assert first.message_id == second.message_id
    assert first.content_hash != second.content_hash


def test_content_hash_changes_with_an_attachment_byte():
    data = raw("alternative-related-inline.eml")
    marker = b"Content-Disposition: attachment; filename=\"BA Evaluasi.pdf\"\nContent-ID: <unused-pdf@example.com>\n\n"
    head, _, tail = data.partition(marker)
    changed = head + marker + b"X" + tail[1:]  # first base64 character of the PDF
    assert parse_email(changed).content_hash != parse_email(data).content_hash


# --- HTML to text -------------------------------------------------------------------------------------------------

def test_html_body_text_keeps_structure_and_marks_quotes():
    markup = ("<div>Sudah saya coba&nbsp;lagi &amp; berhasil.</div><div><br></div>"
              "<div class=\"gmail_quote\">Pada Sen, 23 Nov 2026 09.15, Helpdesk &lt;helpdesk@lpse-kota.example&gt;"
              " menulis:<br><blockquote>Silakan hapus <i>cache</i> peramban.<br>Salam</blockquote></div>"
              "<script>alert(1)</script><ul><li>satu</li><li>dua</li></ul>")
    data = b"From: budi@example.com\nContent-Type: text/html; charset=utf-8\n\n" + markup.encode()
    assert parse_email(data).text == (
        "Sudah saya coba lagi & berhasil.\n\n"
        "Pada Sen, 23 Nov 2026 09.15, Helpdesk <helpdesk@lpse-kota.example> menulis:\n\n"
        "> Silakan hapus cache peramban.\n"
        "> Salam\n\n"
        "- satu\n"
        "- dua")
