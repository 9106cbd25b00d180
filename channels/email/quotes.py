"""Split a reply into the new text and the quoted history below it, for English and Indonesian mail clients.

Markers recognised (the earliest with text above it wins):
- an attribution line, possibly wrapped over up to three lines as Gmail does: "On <date>, <name> wrote:",
  "Pada <tanggal> <nama> menulis:", "Pada tanggal ... menulis:";
- an Outlook header block: "From:" / "Dari:" directly followed by at least two of Sent/Date/To/Cc/Subject or
  Dikirim/Tanggal/Kepada/Cc/Perihal/Subjek (bold "*From:*" from HTML conversions too), and the "____" rule
  Outlook draws above it;
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
    (text, ''). One pass over the lines.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    quoted_to_end = [False] * (len(lines) + 1)  # from this line on, only ">" lines and blank lines
    quoted_to_end[len(lines)] = True
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        quoted_to_end[index] = quoted_to_end[index + 1] and (not line.strip() or line.lstrip().startswith(">"))
    first_content: int | None = None  # the first line of new text: not blank, not quoted, not in a marker
    skip_until = 0  # lines before this belong to a marker already seen
    for index, line in enumerate(lines):
        if index < skip_until or not line.strip():
            continue
        span = _marker_span(lines, index, quoted_to_end[index])
        if span:
            start = index - 1 if index > 0 and _SEPARATOR.match(lines[index - 1]) else index  # Outlook's "____"
            if first_content is not None and first_content < start:
                return "\n".join(lines[:start]).rstrip(), "\n".join(lines[start:]).strip("\n")
            skip_until = index + span
        elif not line.lstrip().startswith(">") and first_content is None:
            first_content = index
    return text, ""


def _marker_span(lines: list[str], index: int, quoted_to_end: bool) -> int:
    """How many lines the quote marker starting at ``index`` covers; 0 when there is none."""
    line = lines[index]
    if _SEPARATOR.match(line) and not set(line.strip()) <= {"_"}:
        return 1
    if _ATTRIBUTION_START.match(line) and (count := _attribution_at(lines, index)):
        return count
    if count := _outlook_header_at(lines, index):
        return count
    if line.lstrip().startswith(">") and quoted_to_end:
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
