"""Separating a reply's new text from the quoted history, on English and Indonesian replies as clients write them."""
from __future__ import annotations

import pytest

from channels.email.parse import parse_email
from channels.email.quotes import split_quoted

NEW = "Terima kasih, sudah bisa unggah sekarang.\n\nSalam,\nBudi"


@pytest.mark.parametrize("history", [
    # Gmail, English, attribution wrapped over two lines
    ("On Mon, Nov 23, 2026 at 9:15 AM Helpdesk LPSE Kota <\nhelpdesk@lpse-kota.example> wrote:\n\n"
     "> Yth. Bapak Budi,\n> silakan hapus cache peramban.\n"),
    # Gmail, English, on one line
    "On Mon, 23 Nov 2026 at 09:15, Helpdesk LPSE Kota <helpdesk@lpse-kota.example> wrote:\n> Silakan coba lagi.\n",
    # Gmail, Indonesian, "Pada tanggal ... menulis:" wrapped over three lines
    ("Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Helpdesk LPSE Kota <\nhelpdesk@lpse-kota.example>\nmenulis:\n\n"
     "> Yth. Bapak Budi,\n> silakan hapus cache peramban.\n"),
    # Gmail, Indonesian, on one line
    "Pada Sen, 23 Nov 2026 09.15, Helpdesk LPSE Kota <helpdesk@lpse-kota.example> menulis:\n> Silakan coba lagi.\n",
    # Outlook, English header block under the underscore rule
    ("________________________________\nFrom: Helpdesk LPSE Kota <helpdesk@lpse-kota.example>\n"
     "Sent: Monday, November 23, 2026 9:15 AM\nTo: Budi Santoso <budi.santoso@example.com>\n"
     "Subject: RE: [LPSE-2026-000123] Tidak bisa unggah dokumen penawaran\n\nYth. Bapak Budi, ...\n"),
    # Outlook, Indonesian with Perihal
    ("Dari: Helpdesk LPSE Kota <helpdesk@lpse-kota.example>\nDikirim: Senin, 23 November 2026 09.15\n"
     "Kepada: Budi Santoso <budi.santoso@example.com>\nPerihal: RE: Tidak bisa unggah dokumen penawaran\n\n"
     "Yth. Bapak Budi, ...\n"),
    # Outlook, Indonesian with Subjek and Cc
    ("Dari: Helpdesk LPSE Kota\nTanggal: Senin, 23 November 2026 09.15\nKepada: Budi Santoso\nCc: Pokja 3\n"
     "Subjek: RE: Tidak bisa unggah dokumen penawaran\n\nYth. Bapak Budi, ...\n"),
    # Gmail's HTML quote header after conversion to text, in bold
    ("*From:* Helpdesk LPSE Kota <helpdesk@lpse-kota.example>\n*Sent:* Monday, November 23, 2026 9:15 AM\n"
     "*To:* Budi Santoso\n*Subject:* RE: Tidak bisa unggah\n\nYth. Bapak Budi, ...\n"),
    ("-----Original Message-----\nFrom: Helpdesk LPSE Kota [mailto:helpdesk@lpse-kota.example]\n"
     "Sent: Monday, November 23, 2026 9:15 AM\nSubject: Tidak bisa unggah\n\nYth. Bapak Budi, ...\n"),
    "-----Pesan Asli-----\nDari: Helpdesk LPSE Kota\nDikirim: Senin, 23 November 2026 09.15\n\nYth. Bapak Budi\n",
    ("---------- Forwarded message ---------\nFrom: Pokja 3 <pokja3@pemkab.example>\n"
     "Date: Mon, Nov 23, 2026 at 9:15 AM\nSubject: Undangan klarifikasi\n\nDengan hormat, ...\n"),
    ("-------- Pesan terusan --------\nDari: Pokja 3 <pokja3@pemkab.example>\n"
     "Tanggal: Sen, 23 Nov 2026 09.15\nPerihal: Undangan klarifikasi\n\nDengan hormat, ...\n"),
    # a bare ">" block running to the end
    "> Yth. Bapak Budi,\n> silakan hapus cache peramban.\n>\n> Salam, Helpdesk\n",
], ids=["gmail-en-wrapped", "gmail-en", "gmail-id-pada-tanggal-wrapped", "gmail-id", "outlook-en",
        "outlook-id-perihal", "outlook-id-subjek", "gmail-bold-header", "original-message", "pesan-asli",
        "forwarded-en", "pesan-terusan", "quote-block"])
def test_history_below_a_reply_is_split_off(history: str):
    visible, quoted = split_quoted(NEW + "\n\n" + history)
    assert visible == NEW
    assert quoted == history.strip("\n").removeprefix("\n")


def test_mobile_signature_stays_visible():
    text = ("Baik, terima kasih.\n\nDikirim dari Yahoo Mail di Android\n\n"
            "Pada Sen, 23 Nov 2026 pada 09.15, Helpdesk LPSE Kota\n<helpdesk@lpse-kota.example> menulis:\n> Halo\n")
    visible, quoted = split_quoted(text)
    assert visible == "Baik, terima kasih.\n\nDikirim dari Yahoo Mail di Android"
    assert quoted.startswith("Pada Sen, 23 Nov 2026")


def test_sent_from_my_iphone_stays_visible():
    visible, _ = split_quoted("OK, noted.\n\nSent from my iPhone\n\nOn 23 Nov 2026, at 09:15, Helpdesk wrote:\n> Hi")
    assert visible == "OK, noted.\n\nSent from my iPhone"


def test_the_earliest_marker_wins():
    text = ("Sudah beres.\n\nOn Tue, Nov 24, 2026 at 8:00 AM Budi <budi@example.com> wrote:\n> Masih gagal.\n>\n"
            "> -----Original Message-----\n> From: Helpdesk\n")
    visible, quoted = split_quoted(text)
    assert visible == "Sudah beres."
    assert quoted.startswith("On Tue, Nov 24, 2026")


def test_inline_answers_between_quotes_stay_visible():
    text = "> Apakah NPWP sudah diisi?\nSudah.\n> Apakah NIB sudah diunggah?\nBelum, akan saya unggah besok."
    assert split_quoted(text) == (text, "")


def test_trailing_quote_after_inline_answers_is_split():
    text = "> Apakah NPWP sudah diisi?\nSudah.\n\n> Salam,\n> Helpdesk"
    assert split_quoted(text) == ("> Apakah NPWP sudah diisi?\nSudah.", "> Salam,\n> Helpdesk")


@pytest.mark.parametrize("text", [
    "> seluruh pesan adalah kutipan\n> baris kedua",
    ("---------- Forwarded message ---------\nFrom: Pokja 3 <pokja3@pemkab.example>\nDate: Mon, Nov 23, 2026\n"
     "Subject: Undangan\n\nDengan hormat, ..."),
    "On Mon, Nov 23, 2026 at 9:15 AM Helpdesk wrote:\n> Halo",
])
def test_text_that_is_all_history_is_kept_visible(text: str):
    assert split_quoted(text) == (text, "")


@pytest.mark.parametrize("text", [
    "Pada dasarnya saya sudah menulis:\nsurat permohonan ke Pokja, tetapi belum dibalas.",
    "From: halaman SPSE saya lihat statusnya masih draft.\nMohon bantuan.",
    "Saya sudah mengisi formulir.\nOn the SPSE page the button is grey and nobody wrote:\nback to me yet.",
    "",
])
def test_ordinary_text_is_not_mistaken_for_a_quote_header(text: str):
    assert split_quoted(text) == (text, "")


def test_crlf_text_is_split():
    visible, quoted = split_quoted("Terima kasih.\r\n\r\nPada Sen, 23 Nov 2026 09.15, Helpdesk menulis:\r\n> Halo\r\n")
    assert (visible, quoted) == ("Terima kasih.", "Pada Sen, 23 Nov 2026 09.15, Helpdesk menulis:\n> Halo")


def test_html_only_gmail_reply_splits_after_parsing():
    raw = (b"From: Budi <budi@example.com>\nTo: helpdesk@lpse-kota.example\nSubject: Re: Unggah gagal\n"
           b"Content-Type: text/html; charset=utf-8\n\n"
           b"<div dir=\"ltr\">Sudah berhasil, terima kasih.</div><br><div class=\"gmail_quote\">"
           b"<div dir=\"ltr\" class=\"gmail_attr\">Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Helpdesk LPSE Kota &lt;"
           b"<a href=\"mailto:helpdesk@lpse-kota.example\">helpdesk@lpse-kota.example</a>&gt; menulis:<br></div>"
           b"<blockquote class=\"gmail_quote\">Silakan hapus cache peramban.</blockquote></div>\n")
    visible, quoted = split_quoted(parse_email(raw).text)
    assert visible == "Sudah berhasil, terima kasih."
    assert quoted == ("Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Helpdesk LPSE Kota <helpdesk@lpse-kota.example> "
                      "menulis:\n\n> Silakan hapus cache peramban.")


def test_forward_without_comment_keeps_the_forwarded_text_and_splits_older_history():
    forwarded = ("---------- Forwarded message ---------\nFrom: Budi <budi@example.com>\n"
                 "Date: Mon, Nov 23, 2026 at 9:15 AM\nSubject: Unggah gagal\nTo: <helpdesk@lpse-kota.example>\n\n"
                 "Masih gagal unggah dokumen penawaran.")
    history = "On Sun, Nov 22, 2026 at 8:00 PM Helpdesk <helpdesk@lpse-kota.example> wrote:\n> Silakan coba lagi."
    assert split_quoted(forwarded + "\n\n" + history) == (forwarded, history)
