"""Split a reply into the new text and the quoted history below it, for English and Indonesian mail clients.

Markers recognised (the earliest with text above it wins):
- an attribution line, possibly wrapped over up to three lines as Gmail does: "On <date>, <name> wrote:",
  "Pada <tanggal> <nama> menulis:", "Pada tanggal ... menulis:";
- an Outlook header block: "From:" / "Dari:" followed within a few lines by two of Sent/Date/To/Cc/Subject or
  Dikirim/Tanggal/Kepada/Cc/Perihal/Subjek (bold "*From:*" from HTML conversions too);
- separators: "-----Original Message-----", "-----Pesan Asli-----", "---------- Forwarded message ---------",
  "-------- Pesan terusan --------", "Begin forwarded message:", "Awal pesan yang diteruskan:";
- a block of ">"-quoted lines that runs to the end of the text.
Signatures such as "Sent from my iPhone" or "Dikirim dari Yahoo Mail" stay in the visible part.
"""
from __future__ import annotations

import re

_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|pesan asli|pesan original|forwarded message|pesan terusan|"
    r"pesan yang diteruskan)\s*-{2,}|begin forwarded message:|"
    r"awal pesan yang diteruskan:|_{20,})\s*$",
    re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^\s*(on|pada)\s+\S", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"^\s*(on\s.{4,300}?\bwrote\s*:|pada\s.{4,300}?\bmenulis\s*:)\s*$", re.IGNORECASE)
_FIELD = re.compile(r"^\s*\*?\s*([a-z][a-z -]{0,15}?)\s*:\s*\*?", re.IGNORECASE)
_FROM_FIELDS = {"from", "dari"}
_OTHER_FIELDS = {"sent", "date", "to", "cc", "subject", "dikirim", "tanggal", "kepada", "perihal", "subjek",
                 "terkirim", "waktu"}
_ATTRIBUTION_LINES = 3
_HEADER_WINDOW = 6


def split_quoted(text: str) -> tuple[str, str]:
    """(visible, quoted): the new text and the quoted history below it.

    Splits at the earliest marker with new text above it: lines that are neither ">"-quoted nor part of another
    marker (so a forward header with the forwarded message under it still counts as text above a later
    "wrote:"). Never returns an empty ``visible`` when text has content: if everything looks quoted, returns
    (text, '').
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    history: set[int] = set()  # lines that belong to a marker or a quote, and so are not new text
    for index, line in enumerate(lines):
        if index in history or not line.strip():
            continue
        span = _marker_span(lines, index)
        if span == 0:
            if line.lstrip().startswith(">"):
                history.add(index)
            continue
        start = index
        if index > 0 and _SEPARATOR.match(lines[index - 1]):
            start = index - 1  # the "____" rule Outlook draws above its header block
        if any(lines[i].strip() and i not in history for i in range(start)):
            return "\n".join(lines[:start]).rstrip(), "\n".join(lines[start:]).strip("\n")
        history.update(range(index, index + span))
    return text, ""


def _marker_span(lines: list[str], index: int) -> int:
    """How many lines the quote marker starting at ``index`` covers; 0 when there is none."""
    line = lines[index]
    if _SEPARATOR.match(line) and not set(line.strip()) <= {"_"}:
        return 1
    if _ATTRIBUTION_START.match(line) and (count := _attribution_at(lines, index)):
        return count
    if count := _outlook_header_at(lines, index):
        return count
    if line.lstrip().startswith(">") and _quoted_to_end(lines, index):
        return len(lines) - index
    return 0


def _attribution_at(lines: list[str], index: int) -> int:
    """Lines of an "On ... wrote:" / "Pada ... menulis:" attribution (wrapped over up to three), with a date in it."""
    for count in range(1, _ATTRIBUTION_LINES + 1):
        chunk = lines[index:index + count]
        if len(chunk) < count or any(not line.strip() for line in chunk):
            return 0
        joined = " ".join(line.strip() for line in chunk)
        if _ATTRIBUTION.match(joined):
            return count if re.search(r"\d", joined) else 0
    return 0


def _outlook_header_at(lines: list[str], index: int) -> int:
    """Lines of a From:/Dari: header block followed by at least two more header fields; 0 when there is none."""
    match = _FIELD.match(lines[index])
    if not match or match.group(1).strip().lower() not in _FROM_FIELDS:
        return 0
    seen: set[str] = set()
    count = 1
    for line in lines[index + 1:index + 1 + _HEADER_WINDOW]:
        field = _FIELD.match(line)
        if not field or field.group(1).strip().lower() not in _OTHER_FIELDS:
            break
        seen.add(field.group(1).strip().lower())
        count += 1
    return count if len(seen) >= 2 else 0


def _quoted_to_end(lines: list[str], index: int) -> bool:
    return all(line.lstrip().startswith(">") or not line.strip() for line in lines[index:])
