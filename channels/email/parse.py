"""Raw RFC 5322 bytes → a ParsedEmail: headers, body text, sanitised HTML and attachments. Pure: no I/O, no app.

Real mail is often broken, so nothing here trusts it. The message is split into MIME entities by our own
boundary scanner (so every part keeps its exact bytes, and a message/rfc822 part is stored as it came), and
headers are read with ``email.policy.compat32`` utilities only, one header at a time: the ``policy.default``
header parser raises on values such as ``To: "``, ``To: (c):``, ``Content-Type: text/plain; name*`` and (up to
Python 3.12) ``Message-ID: <[hex@microsoft.com]>``, and one such header must not cost us the message. Every
repair or guess is written to ``ParsedEmail.defects``.
"""
from __future__ import annotations

import binascii
import codecs
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import utils as email_utils
from email.message import Message
from email.policy import compat32
from html import escape as html_escape
from html import unescape as html_unescape
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import unquote

import nh3
from charset_normalizer import from_bytes
from tnefparse.tnef import TNEF

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_DEPTH = 20  # nesting of multiparts; deeper parts are kept whole as attachments
MAX_PARTS = 1000  # MIME entities per message; past this, multiparts are kept whole as attachments
DETECT_SAMPLE = 200_000  # bytes of a part handed to the charset detector
MAX_PARAMETER_HEADER = 16_384  # characters of a Content-* header read for its parameters
MAX_ADDRESS_HEADER = 100_000  # characters of an address header read for its addresses (some 4,000 addresses)
MAX_HTML_CHARS = 2_000_000  # of an HTML body after data: URIs are removed; the rest is cut off
MAX_HTML_DEPTH = 500  # element nesting; deeper HTML is shown as plain text (real mail stays under 100)


@dataclass(frozen=True)
class Address:
    """One mailbox of an address header."""

    name: str  # display name, decoded ('' when none)
    address: str  # lower-cased addr-spec, never ''


@dataclass(frozen=True)
class ParsedAttachment:
    """One file of a message, with its payload decoded byte for byte."""

    filename: str  # decoded and unique within the message
    content_type: str  # lower-case "type/subtype"
    data: bytes
    content_id: str | None  # without <>
    inline: bool  # the HTML body shows it through a cid: URL


@dataclass
class ParsedEmail:
    """What a message says, decoded; see parse_email."""

    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: Address | None
    reply_to: Address | None
    to: list[Address]
    cc: list[Address]
    date: datetime | None
    text: str
    html: str | None
    attachments: list[ParsedAttachment]
    content_hash: str
    headers: dict[str, list[str]]
    defects: list[str]
    size: int
    oversized: bool
    skipped_attachments: list[tuple[str, str, int]]


def parse_email(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedEmail:
    """Parse one raw message. Never raises for any byte input (b'', binary garbage, NUL bytes, a 0-part multipart).

    A message larger than ``max_bytes`` keeps its headers and text; its attachments are listed in
    ``skipped_attachments`` instead of being stored.
    """
    raw = bytes(raw)
    try:
        return _Parser(raw, max_bytes).parse()
    except Exception as exc:  # the last net: a parser bug must not lose the message
        logger.exception("email parser failed on a %d-byte message", len(raw))
        return _salvage(raw, max_bytes, exc)


def read_headers(raw: bytes) -> dict[str, list[str]]:
    """The header block of a raw message or part, names lower-cased, values unfolded and decoded. Never raises."""
    try:
        parser = _Parser(raw, DEFAULT_MAX_BYTES)
        headers, _ = parser.split_head(raw, "")
        hint = _charset_hint(raw)
        return {name: [_decode_words(parser.header_text(v, name, hint), [], name) for v in values]
                for name, values in _group(headers).items()}
    except Exception:
        logger.exception("could not read headers")
        return {}


def message_ids(value: str) -> list[str]:
    """Every ``<...>`` message id in a header value, in order, without repeats, whitespace removed."""
    found: dict[str, None] = {}  # an ordered set
    for match in _ID_IN_BRACKETS.finditer(value):
        inner = re.sub(r"\s+", "", match.group(1))
        if inner:
            found[f"<{inner}>"] = None
    return list(found)


# --- charsets ---------------------------------------------------------------------------------------------------

# Labels that lie about what mail clients really send, mapped to the superset that decodes what they send
# (as FreeScout and the WHATWG encoding standard do).
_CHARSET_ALIASES = {
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "euc-cn", "csgb2312", "cp936", "gb_2312-80", "chinese", "gb_2312"),
                    "gb18030"),
    **dict.fromkeys(("ks_c_5601-1987", "ks_c_5601", "ksc5601", "ksc_5601", "euc-kr", "x-windows-949", "korean",
                     "csksc56011987", "iso-ir-149", "windows-949"), "cp949"),
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
                     "iso-ir-100", "csisolatin1", "us-ascii", "ascii", "ansi_x3.4-1968", "us", "iso646-us"),
                    "cp1252"),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "l5"), "cp1254"),
    **dict.fromkeys(("iso-8859-11", "tis-620", "windows-874", "x-windows-874"), "cp874"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932"),
                    "cp932"),
    **dict.fromkeys(("iso-2022-jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3", "iso-2022-jp-2004",
                     "iso-2022-jp-ms", "iso-2022-jp-kddi", "cp50220", "cp50221", "cp50222", "csiso2022jp"),
                    "iso2022_jp"),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "x-x-big5", "csbig5"), "big5hkscs"),
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_CP1252_LABELS = {"windows-1252", "cp1252", "x-cp1252", "cp-1252"}
_NO_CHARSET = {"", "unknown-8bit", "x-unknown", "unknown", "x-user-defined", "default", "charset", "none",
               "_autodetect", "_autodetect_all"}
_SEVEN_BIT_CODECS = {"utf-7", "hz", "iso2022_jp", "iso2022_kr", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                     "utf-32-le", "utf-32-be"}
_SINGLE_BYTE = re.compile(r"^(cp\d+|iso8859-\d+|latin-1|ascii|koi8-\w+|mac-\w+|tis-620)$")
_MULTI_BYTE_CP = {"cp932", "cp949", "cp950", "cp936"}
# Single-byte code pages a detector confuses with windows-1252 on short Latin-script text. Our senders write
# Indonesian and English from Windows and Mac clients, so windows-1252 wins when it decodes the bytes at all.
_LATIN_LOOKALIKES = {"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin-1", "mac-roman", "mac-latin2",
                     "mac-iceland", "mac-turkish", "cp437", "cp850", "cp852", "cp858", "cp775", "cp860", "cp861",
                     "cp862", "cp863", "cp865"} | {f"iso8859-{n}" for n in (1, 2, 3, 4, 9, 10, 13, 14, 15, 16)}


def _codec(label: str | None) -> str | None:
    """The Python codec for a MIME charset label (after the mislabel map); None when absent or unknown."""
    if not label:
        return None
    name = re.sub(r"[^a-z0-9_.:+-]", "", label.strip().strip("\"'").lower())
    if name in _NO_CHARSET:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _label(codec: str) -> str:
    """A codec name as people write it in defects: windows-1252, utf-8, gb18030."""
    if re.fullmatch(r"cp125\d", codec):
        return "windows-" + codec[2:]
    return codec.replace("_", "-")


def _is_single_byte(codec: str) -> bool:
    return bool(_SINGLE_BYTE.match(codec)) and codec not in _MULTI_BYTE_CP


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _jis_to_sjis(j1: int, j2: int) -> bytes:
    s1 = ((j1 - 0x21) >> 1) + 0x81
    if s1 > 0x9F:
        s1 += 0x40
    if j1 & 1:
        s2 = j2 + 0x1F
        if s2 >= 0x7F:
            s2 += 1
    else:
        s2 = j2 + 0x7E
    return bytes((s1, s2))


def _decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP with the vendor extensions Japanese Windows sends (CP50220: NEC row 13, IBM kanji).

    The standard codecs reject them, so the JIS X 0208 runs are rewritten as Shift_JIS and read as cp932.
    Raises UnicodeDecodeError when the bytes are not ISO-2022-JP at all.
    """
    for codec in ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_2004"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        if data.startswith((b"\x1b$B", b"\x1b$@"), i):
            mode, i = "jis", i + 3
        elif data.startswith((b"\x1b(B", b"\x1b(J"), i):
            mode, i = "ascii", i + 3
        elif data.startswith(b"\x1b(I", i):
            mode, i = "kana", i + 3
        elif data[i] in b"\r\n":
            out.append(data[i])
            i += 1
        elif mode == "jis" and i + 1 < len(data):
            if not (0x21 <= data[i] <= 0x7E and 0x21 <= data[i + 1] <= 0x7E):
                raise UnicodeDecodeError("iso2022_jp", data, i, i + 2, "not a JIS X 0208 pair")
            out += _jis_to_sjis(data[i], data[i + 1])
            i += 2
        elif mode == "kana":
            if not 0x21 <= data[i] <= 0x5F:
                raise UnicodeDecodeError("iso2022_jp", data, i, i + 1, "not a JIS X 0201 kana")
            out.append(data[i] | 0x80)
            i += 1
        else:
            out.append(data[i])
            i += 1
    return bytes(out).decode("cp932")


def _strict(data: bytes, codec: str) -> str | None:
    try:
        if codec == "iso2022_jp":
            return _decode_iso2022jp(data)
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(data: bytes) -> tuple[str, str] | None:
    """(text, codec) from charset-normalizer, biased to windows-1252 among Latin look-alikes; None if it gives up."""
    if len(data) < 24:  # too little for statistics: the detector picks UTF-16 or EBCDIC for "“ok”"
        return None
    sample = data[:DETECT_SAMPLE]
    try:
        best = from_bytes(sample).best()
    except Exception:  # the detector is a heuristic; its failure is not ours to raise
        logger.exception("charset detection failed")
        return None
    if best is None:
        return None
    codec = _codec(best.encoding) or best.encoding
    if codec.startswith(("utf-16", "utf-32")) and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # without a BOM these are guesses on mostly-ASCII mail, never right in practice
    if codec in _LATIN_LOOKALIKES and (text := _strict(data, "cp1252")) is not None:
        return text, "cp1252"
    text = _strict(data, codec)
    if text is None:
        try:
            text = data.decode(codec, errors="replace")
        except LookupError:
            return None
    return text, codec


def decode_bytes(data: bytes, charset: str | None, *, where: str, defects: list[str]) -> str:
    """Text from bytes: the declared charset when the bytes fit it, else a guess (noted in ``defects``).

    Never raises and never returns U+FFFD when a guess decodes the bytes cleanly.
    """
    declared = _codec(charset)
    if charset and declared is None and charset.strip().strip("\"'").lower() not in _NO_CHARSET:
        defects.append(f"unknown charset {charset.strip()!r} in {where}")
    if data.isascii() and b"\x1b" not in data and declared not in _SEVEN_BIT_CODECS:
        return data.decode("ascii")
    if declared is not None:
        if declared != "utf-8" and _is_single_byte(declared) and not data.isascii() and _valid_utf8(data):
            # Valid multi-byte UTF-8 is almost never an accident; the label is the usual lie.
            defects.append(f"charset {_label(declared)} declared but text is utf-8 in {where}")
            return data.decode("utf-8")
        if (text := _strict(data, declared)) is not None:
            label = (charset or "").strip().strip("\"'").lower()
            if declared == "cp1252" and label not in _CP1252_LABELS and re.search(rb"[\x80-\x9f]", data):
                defects.append(f"charset {charset.strip()} read as windows-1252 in {where}")
            return text
    if (text := _strict(data, "utf-8")) is not None:
        if declared is not None:
            defects.append(f"charset {_label(declared)} declared but text is utf-8 in {where}")
        return text
    if b"\x1b" in data and (text := _strict(data, "iso2022_jp")) is not None:
        defects.append(f"charset iso-2022-jp guessed for {where}")
        return text
    guessed = _detect(data)
    if guessed is not None:
        text, codec = guessed
        mislabel = f"charset {_label(declared)} declared but does not fit; " if declared else ""
        defects.append(f"{mislabel}charset {_label(codec)} guessed for {where}")
        return text
    for codec in ("cp1252", "latin-1"):
        if (text := _strict(data, codec)) is not None:
            defects.append(f"charset {_label(codec)} assumed for {where}")
            return text
    return data.decode("latin-1")  # unreachable: latin-1 decodes every byte


# --- RFC 2047 ---------------------------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")  # [^?]: linear on hostile input


def _word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("utf-8", errors="surrogateescape")
    if encoding in "bB":
        data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        if len(data) % 4 == 1:
            data = data[:-1]
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    return binascii.a2b_qp(data, header=True)


def _decode_words(value: str, defects: list[str], where: str) -> str:
    """Decode RFC 2047 encoded-words, joining adjacent words of one charset first (multibyte split across words)."""
    if "=?" not in value:
        return value
    pieces: list[list] = []  # ["text", str] or ["word", charset, bytes]
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        pos = match.end()
        charset = match.group(1).split("*", 1)[0]
        try:
            data = _word_bytes(match.group(2), match.group(3))
        except (binascii.Error, ValueError):
            defects.append(f"encoded-word in {where} could not be decoded, kept as is")
            pieces.append(["text", between + match.group(0)])
            continue
        if between and not (between.isspace() and pieces and pieces[-1][0] == "word"):
            pieces.append(["text", between])
        if pieces and pieces[-1][0] == "word" and pieces[-1][1].lower() == charset.lower():
            pieces[-1][2] += data
        else:
            pieces.append(["word", charset, data])
    pieces.append(["text", value[pos:]])
    return "".join(p[1] if p[0] == "text" else decode_bytes(p[2], p[1], where=where, defects=defects)
                   for p in pieces)


# --- HTML -------------------------------------------------------------------------------------------------------

_HTML_CLEANER = nh3.Cleaner(
    url_schemes=nh3.ALLOWED_URL_SCHEMES | {"cid"},
    clean_content_tags=nh3.CLEAN_CONTENT_TAGS | {"title"},
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CID_URL = re.compile(r"""cid:([^"'\s>)]+)""", re.IGNORECASE)


class _TextExtractor(HTMLParser):
    """Readable text from HTML: paragraphs, line breaks and lists kept, scripts and styles dropped, quotes as >.

    Tags become chunks ("text", "br", "block", "cell") tagged with the blockquote depth; ``text()`` lays them
    out, so a block boundary with nothing after it leaves no stray blank line.
    """

    SKIP: ClassVar[frozenset[str]] = frozenset({"script", "style", "head", "title", "template", "noscript",
                                                "xml", "svg"})
    BLOCK: ClassVar[frozenset[str]] = frozenset({
        "div", "section", "article", "header", "footer", "main", "nav", "aside", "address", "center", "form",
        "fieldset", "figure", "figcaption", "details", "summary", "dl", "dt", "dd", "tr", "hr", "li"})
    PARAGRAPH: ClassVar[frozenset[str]] = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul",
                                                     "ol", "table", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[tuple[str, str | int, int]] = []
        self.skip = 0
        self.pre = 0
        self.quote = 0
        self.lists: list[list] = []  # [tag, items so far]
        self.links: list[list[str]] = []  # [href, text inside the link]

    def _block(self, weight: int) -> None:
        self.chunks.append(("block", weight, self.quote))

    def _text(self, text: str) -> None:
        self.chunks.append(("text", text, self.quote))
        for link in self.links:
            link[1] += text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        if self.skip:
            return
        if tag == "br":
            self.chunks.append(("br", "", self.quote))
        elif tag in self.PARAGRAPH:
            self._block(2)
        elif tag in self.BLOCK:
            self._block(1)
        if tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            self.lists.append([tag, 0])
        elif tag == "li":
            marker = "- "
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                marker = f"{self.lists[-1][1]}. "
            self._text("  " * max(len(self.lists) - 1, 0) + marker)
        elif tag in ("td", "th"):
            self.chunks.append(("cell", "", self.quote))
        elif tag == "a":
            self.links.append([dict(attrs).get("href") or "", ""])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("a", "blockquote", "pre", "ul", "ol") or tag in self.SKIP:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(self.skip - 1, 0)
            return
        if self.skip:
            return
        if tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "a" and self.links:
            href, shown = self.links.pop()
            if href.lower().startswith(("http://", "https://")) and shown.strip() and shown.strip() != href:
                self._text(f" <{href}>")
        if tag in self.PARAGRAPH:
            self._block(2)
        elif tag in self.BLOCK:
            self._block(1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            for i, piece in enumerate(data.replace("\r\n", "\n").split("\n")):
                if i:
                    self.chunks.append(("br", "", self.quote))
                if piece:
                    self._text(piece)
        else:
            self._text(re.sub(r"[ \t\r\n\f]+", " ", data))

    def text(self) -> str:
        lines: list[str] = []
        line, depth, pending = "", 0, 0

        def finish() -> None:
            nonlocal line
            lines.append(("> " * depth + line.strip(" ")).rstrip())
            line = ""

        for kind, value, quote in self.chunks:
            if kind == "block":
                pending = max(pending, int(value))
                continue
            if pending:
                if line.strip():
                    finish()
                if pending == 2 and lines and lines[-1].strip(" >"):
                    depth = min(depth, quote)
                    finish()
                pending = 0
            if kind == "br":
                if not line:
                    depth = quote
                finish()
            elif kind == "cell":
                if line.strip():
                    line += "\t"
            else:
                if not line:
                    depth = quote
                    value = str(value).lstrip(" ")
                elif line.endswith(" ") and str(value).startswith(" "):
                    value = str(value)[1:]
                line += str(value)
        if line.strip():
            finish()
        out = "\n".join(lines).replace("\xa0", " ").replace("\u200b", "").replace("\ufeff", "")
        out = re.sub(r"[ \t]+\n", "\n", out)
        out = re.sub(r"\n{3,}", "\n\n", out)
        return out.strip("\n")


def _extract_text(markup: str) -> str:
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:  # html.parser is lenient; keep what was read if it still gives up
        logger.exception("HTML text extraction stopped early")
    return extractor.text()


def html_to_text(markup: str) -> str:
    """Readable plain text from an HTML body (read from its sanitised form). Never raises."""
    return _extract_text(sanitise_html(markup))


def sanitise_html(markup: str, *, defects: list[str] | None = None, where: str = "the HTML body") -> str:
    """The HTML body made safe to show: no scripts, handlers or javascript: URLs; cid: images kept.

    Bounded for hostile input: both html5ever (inside nh3) and the standard library's html.parser slow down
    quadratically on some shapes, so data: URIs (dropped by the sanitiser anyway) go first, the rest is cut at
    MAX_HTML_CHARS, and markup nested deeper than MAX_HTML_DEPTH is shown as escaped plain text.
    """
    notes = defects if defects is not None else []
    markup = _DATA_URI.sub(r"\1=\2\2", markup)
    if len(markup) > MAX_HTML_CHARS:
        notes.append(f"{where} is {len(markup)} characters, only the first {MAX_HTML_CHARS} kept")
        markup = markup[:MAX_HTML_CHARS]
    depth = _nesting_depth(markup)
    if depth > MAX_HTML_DEPTH:
        notes.append(f"{where} is nested {depth} elements deep, shown as plain text")
        text = html_unescape(re.sub(r"<[^<>]*>", " ", markup))
        text = re.sub(r"\n\s*\n\s*", "\n\n", re.sub(r"[ \t\r\f]+", " ", text)).strip()
        return f"<pre>{html_escape(text)}</pre>"
    return _HTML_CLEANER.clean(_TEXT_RUN.sub(_break_run, markup))


_DATA_URI = re.compile(r"""\b(src|href|background)\s*=\s*(["'])\s*data:[^"']*\2""", re.IGNORECASE)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
_RUN_CHARS = 10_000
_TEXT_RUN = re.compile(r"[^<>]+")  # not [^<>]{10001,}: that rescans every shorter run from each of its characters


def _break_run(match: re.Match[str]) -> str:
    """A long stretch without tags, cut by invisible <wbr> every 10,000 characters (never inside an entity).

    html5ever spends quadratic time on character references inside one huge text node; short nodes keep it linear.
    """
    run, pieces, start = match.group(0), [], 0
    if len(run) <= _RUN_CHARS:
        return run
    while len(run) - start > _RUN_CHARS:
        end = start + _RUN_CHARS
        amp = run.rfind("&", end - 12, end)
        if amp > start and ";" not in run[amp:end]:
            end = amp
        pieces.append(run[start:end])
        start = end
    pieces.append(run[start:])
    return "<wbr>".join(pieces)
# Elements that never nest in practice, or whose end tags are optional and often left out.
_FLAT_ELEMENTS = frozenset({
    "br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "param", "source", "track", "wbr",
    "p", "li", "td", "th", "tr", "dt", "dd", "option", "optgroup", "thead", "tbody", "tfoot", "colgroup", "caption",
    "rt", "rp", "html", "head", "body", "o:p"})


def _nesting_depth(markup: str) -> int:
    """The deepest element nesting of some markup, counted in one linear pass over its tags."""
    depth = deepest = 0
    for match in _TAG.finditer(markup):
        if match.group(2).lower() in _FLAT_ELEMENTS:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


# --- header helpers ---------------------------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_ID_IN_BRACKETS = re.compile(r"<([^<>]*@[^<>]*|[^<>\s]+)>")
_ADDR_SPEC = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _group(headers: list[tuple[str, bytes]]) -> dict[str, list[bytes]]:
    grouped: dict[str, list[bytes]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _charset_hint(raw: bytes) -> str | None:
    """The first non-ASCII charset a message declares anywhere: the best guess for raw 8-bit headers."""
    for match in re.finditer(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", raw[:200_000], re.IGNORECASE):
        codec = _codec(match.group(1).decode("ascii"))
        if codec and codec not in ("utf-8", "ascii", "cp1252"):
            return codec
    return None


def _clean(text: str) -> str:
    """Remove NUL and other C0 controls that databases and browsers choke on; keep tab and newlines."""
    return _CONTROL.sub("", text)


def _default_extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type, ".bin")


_EXTENSIONS = {
    "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg",
    "image/pjpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp", "image/tiff": ".tif",
    "image/svg+xml": ".svg", "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics",
    "text/csv": ".csv", "text/xml": ".xml", "application/xml": ".xml", "application/json": ".json",
    "application/zip": ".zip", "application/x-zip-compressed": ".zip", "application/x-rar-compressed": ".rar",
    "application/vnd.rar": ".rar", "application/x-7z-compressed": ".7z", "application/gzip": ".gz",
    "application/msword": ".doc", "application/vnd.ms-excel": ".xls", "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt", "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.ms-outlook": ".msg", "message/rfc822": ".eml", "message/global": ".eml",
    "message/delivery-status": ".txt", "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt", "text/rfc822-headers": ".txt",
    "application/pgp-signature": ".asc", "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s", "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m", "application/x-pkcs7-mime": ".p7m", "application/ms-tnef": ".dat",
    "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "video/mp4": ".mp4", "application/octet-stream": ".bin",
}
_TYPE_BY_EXTENSION = {ext: ctype for ctype, ext in reversed(list(_EXTENSIONS.items()))
                      if ctype != "application/octet-stream"}
_TYPE_BY_EXTENSION |= {".jpeg": "image/jpeg", ".tiff": "image/tiff", ".htm": "text/html", ".txt": "text/plain",
                       ".eml": "message/rfc822", ".zip": "application/zip", ".jpg": "image/jpeg"}


def _type_from_name(filename: str) -> str:
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _TYPE_BY_EXTENSION.get(ext, "application/octet-stream")


def _safe_filename(name: str) -> str:
    """A file name with no directory part, no control characters and at most 200 characters."""
    name = _clean(name.replace("\r", "").replace("\n", " ").replace("\t", " "))
    name = re.split(r"[/\\]", name)[-1].strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name


# --- the parser -------------------------------------------------------------------------------------------------

@dataclass
class _Node:
    """One MIME entity: its headers, its (still transfer-encoded) body, and its children when multipart."""

    path: str
    headers: list[tuple[str, bytes]]
    body: bytes
    meta: Message  # compat32 Message holding only the Content-* headers, for parameter parsing
    ctype: str
    children: list[_Node] | None = None

    @property
    def where(self) -> str:
        return f"part {self.path}" if self.path else "the message body"


@dataclass
class _Segment:
    """A stretch of body: its plain text, its HTML, or both (alternatives of one another)."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Pending:
    filename: str | None
    content_type: str
    data: bytes
    content_id: str | None
    default_name: str | None = None  # a name chosen by type when the part has none ("winmail.dat")


@dataclass
class _Parser:
    raw: bytes
    max_bytes: int
    defects: list[str] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)
    fallback_segments: list[_Segment] = field(default_factory=list)  # a winmail.dat body, used when no other
    part_count: int = 0
    hint: str | None = None
    cids: set[str] = field(default_factory=set)  # Content-IDs the HTML body shows through cid: URLs

    # -- entities ---------------------------------------------------------------------------------------------

    def split_head(self, raw: bytes, path: str) -> tuple[list[tuple[str, bytes]], bytes]:
        """(headers, body) of one entity; headers are (name, unfolded raw value). Tolerates every malformation.

        The header block ends at the first empty line, or (noted as a defect) at the first line that is neither a
        header nor a continuation; an mbox "From " line on top is skipped.
        """
        headers: list[tuple[str, list[bytes]]] = []
        lines = raw.splitlines(keepends=True)
        where = f"part {path}" if path else "the message"
        pos = index = 0
        if lines and lines[0].startswith(b"From ") and not _HEADER_LINE.match(lines[0]):
            pos, index = len(lines[0]), 1
        body = b""
        while index < len(lines):
            line = lines[index]
            if line in (b"\r\n", b"\n", b"\r"):
                body = raw[pos + len(line):]
                break
            if line[:1] in (b" ", b"\t"):
                if headers:
                    headers[-1][1].append(line)
                elif line.strip():
                    self.defects.append(f"header block of {where} starts with a continuation line, skipped")
            elif match := _HEADER_LINE.match(line):
                headers.append((match.group(1).decode("ascii"), [line[match.end():]]))
            else:
                if headers or path:
                    self.defects.append(f"header block of {where} ends without a blank line")
                body = raw[pos:]
                break
            pos += len(line)
            index += 1
        return [(name, self._unfold(b"".join(chunks))) for name, chunks in headers], body

    @staticmethod
    def _unfold(value: bytes) -> bytes:
        return re.sub(rb"\r?\n|\r", b"", value).strip(b" \t")

    def _meta(self, headers: list[tuple[str, bytes]]) -> Message:
        meta = Message(policy=compat32)
        for name, value in headers:
            if name.lower().startswith("content-"):
                text = self.header_text(value, name, self.hint)
                if len(text) > MAX_PARAMETER_HEADER:  # compat32's parameter parser is quadratic in the length
                    self.defects.append(f"header {name} of {len(text)} characters cut to {MAX_PARAMETER_HEADER}")
                    text = text[:MAX_PARAMETER_HEADER]
                meta.set_raw(name, text)
        return meta

    def header_text(self, value: bytes, name: str, hint: str | None) -> str:
        """A header value as str: ASCII, UTF-8 (RFC 6532), or raw 8-bit in a guessed charset."""
        if value.isascii():
            return _clean(value.decode("ascii"))
        if (text := _strict(value, "utf-8")) is not None:
            return _clean(text)
        for codec in (hint, "cp1252"):
            if codec and (text := _strict(value, codec)) is not None:
                self.defects.append(f"header {name.title()} has raw 8-bit bytes, read as {_label(codec)}")
                return _clean(text)
        return _clean(decode_bytes(value, None, where=f"header {name.title()}", defects=self.defects))

    def _content_type(self, meta: Message, default: str, where: str) -> str:
        value = meta.get("content-type")
        if value is None:
            return default
        head = value.split(";", 1)[0].strip().lower()
        if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", head):
            return head
        match = re.match(r"\s*([a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+)", head)
        ctype = match.group(1) if match else default
        self.defects.append(f"Content-Type {value[:60]!r} of {where} is malformed, read as {ctype}")
        return ctype

    def _param(self, meta: Message, name: str, header: str = "content-type") -> str | None:
        """A Content-* parameter as text, RFC 2231 continuations and charsets decoded; None when absent."""
        try:
            value = meta.get_param(name, header=header)
        except Exception:  # noqa: BLE001 - compat32's parser is simple, but the header is a stranger's
            self.defects.append(f"parameter {name} of {header} unparseable, ignored")
            return None
        if value is None:
            if name == "charset":  # "text/plain charset=utf-8" (a missing semicolon) is common enough
                match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", meta.get(header) or "", re.IGNORECASE)
                return match.group(1) if match else None
            return None
        if isinstance(value, tuple):
            charset, _language, text = value
            try:
                data = text.encode("latin-1")
            except UnicodeEncodeError:
                return text
            return decode_bytes(data, charset or "utf-8", where=f"parameter {name}", defects=self.defects)
        return str(value)

    def _build(self, raw: bytes, path: str, depth: int, default_type: str) -> _Node:
        self.part_count += 1
        headers, body = self.split_head(raw, path)
        meta = self._meta(headers)
        where = f"part {path}" if path else "the message"
        node = _Node(path, headers, body, meta, self._content_type(meta, default_type, where))
        if not node.ctype.startswith("multipart/"):
            return node
        if depth >= MAX_DEPTH or self.part_count >= MAX_PARTS:
            self.defects.append(f"{where} nested too deep or too many parts, kept whole as an attachment")
            node.ctype = "application/octet-stream"
            return node
        boundary = self._param(meta, "boundary")
        budget = max(MAX_PARTS - self.part_count, 1)
        chunks = _split_multipart(body, boundary, budget) if boundary else None
        if chunks is None:
            self.defects.append(f"{where} is multipart without a usable boundary, read as text")
            node.ctype = "text/plain"
            return node
        parts, closed, rest = chunks
        if rest:
            self.defects.append(f"{where} has more than {budget} parts, the rest kept unsplit as one attachment")
            self.pending.append(_Pending(None, "application/octet-stream", rest, None))
        elif not closed:
            self.defects.append(f"closing boundary missing in {where}")
        if not parts:
            self.defects.append(f"{where} is multipart with no parts")
        child_type = "message/rfc822" if node.ctype == "multipart/digest" else "text/plain"
        prefix = f"{path}." if path else ""
        node.children = [self._build(part, f"{prefix}{i}", depth + 1, child_type)
                         for i, part in enumerate(parts, start=1)]
        return node

    # -- payloads ---------------------------------------------------------------------------------------------

    def _payload(self, node: _Node) -> bytes:
        """The body with its Content-Transfer-Encoding undone; the raw body when the encoding is unknown."""
        cte = ""
        for name, value in node.headers:
            if name.lower() == "content-transfer-encoding":
                cte = value.decode("ascii", errors="replace").split(";")[0].strip().strip("\"'").lower()
        body = node.body
        if cte in ("", "7bit", "8bit", "binary", "7-bit", "8-bit", "none"):
            return body
        if cte == "base64":
            try:
                return binascii.a2b_base64(body)
            except binascii.Error:
                cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", body)
                if len(cleaned) % 4 == 1:
                    cleaned = cleaned[:-1]
                self.defects.append(f"base64 of {node.where} badly padded, repaired")
                return binascii.a2b_base64(cleaned + b"=" * (-len(cleaned) % 4))
        if cte in ("quoted-printable", "quoted_printable", "qp"):
            return binascii.a2b_qp(body)
        if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
            return self._uudecode(body, node)
        self.defects.append(f"unknown Content-Transfer-Encoding {cte[:40]!r} in {node.where}, raw payload kept")
        return body

    def _uudecode(self, body: bytes, node: _Node) -> bytes:
        out = bytearray()
        started = False
        for line in body.splitlines():
            if not started:
                started = line.startswith(b"begin ")
                continue
            if line.strip() == b"end":
                break
            try:
                out += binascii.a2b_uu(line)
            except binascii.Error:
                try:  # some encoders pad lines wrongly; the stdlib works around it the same way
                    out += binascii.a2b_uu(line[: ((line[0] - 32) & 63) * 4 // 3 + 1 + 3])
                except (binascii.Error, IndexError):
                    self.defects.append(f"uuencoded line of {node.where} undecodable, skipped")
        return bytes(out)

    def _filename(self, node: _Node) -> str | None:
        for header, name in (("content-disposition", "filename"), ("content-type", "name")):
            value = self._param(node.meta, name, header)
            if value and value.strip():
                return _decode_words(value, self.defects, f"file name of {node.where}")
        return None

    def _disposition(self, node: _Node) -> str:
        value = node.meta.get("content-disposition") or ""
        return value.split(";", 1)[0].strip().lower()

    def _content_id(self, node: _Node) -> str | None:
        for name, value in node.headers:
            if name.lower() == "content-id":
                cid = value.decode("ascii", errors="ignore").strip().strip("<>").strip()
                return cid or None
        return None

    def _is_body(self, node: _Node) -> bool:
        return (node.ctype in ("text/plain", "text/html") and self._disposition(node) != "attachment"
                and self._filename(node) is None)

    def _text_of(self, node: _Node) -> str:
        data = self._payload(node)
        charset = self._param(node.meta, "charset")
        if charset is None and node.ctype == "text/html" and (meta := _META_CHARSET.search(data[:4096])):
            charset = meta.group(1).decode("ascii")
        text = decode_bytes(data, charset, where=node.where, defects=self.defects)
        if "\x00" in text:
            self.defects.append(f"NUL characters removed from {node.where}")
        text = _clean(text.replace("\r\n", "\n").replace("\r", "\n"))
        if node.ctype == "text/plain" and (self._param(node.meta, "format") or "").lower() == "flowed":
            text = _unflow(text, (self._param(node.meta, "delsp") or "").lower() == "yes")
        return text

    # -- walking ----------------------------------------------------------------------------------------------

    def collect(self, node: _Node) -> list[_Segment]:
        """The body segments of a subtree, in order; its other leaves go to ``pending`` as attachments."""
        if node.children is None:
            return self._leaf(node)
        subtype = node.ctype.split("/", 1)[1]
        if subtype == "alternative":
            return self._alternative(node)
        if subtype == "related":
            return self._related(node)
        segments: list[_Segment] = []
        for child in node.children:
            segments += self.collect(child)
        return segments

    def _leaf(self, node: _Node) -> list[_Segment]:
        if node.ctype in ("message/rfc822", "message/global"):
            data = self._payload(node)
            subject = read_headers(data).get("subject", [""])[0]
            title = re.sub(r"[/\\]", "-", " ".join(subject.split()))  # "Dokumen 1/2" is a subject, not a path
            name = self._filename(node) or (f"{title}.eml" if title else None)
            self.pending.append(_Pending(name, node.ctype, data, self._content_id(node)))
            return []
        filename = self._filename(node)
        if node.ctype in ("application/ms-tnef", "application/vnd.ms-tnef") or (
                filename or "").lower() == "winmail.dat":
            self._tnef(node, filename)
            return []
        if self._is_body(node):
            text = self._text_of(node)
            if node.ctype == "text/plain":
                return [_Segment(plain=text)]
            return [_Segment(html=self._safe_html(text, node.where))]
        self.pending.append(_Pending(filename, node.ctype, self._payload(node), self._content_id(node)))
        return []

    def _alternative(self, node: _Node) -> list[_Segment]:
        children = node.children or []
        plain = next((c for c in children if c.children is None and c.ctype == "text/plain" and self._is_body(c)),
                     None)
        rich = next((c for c in reversed(children) if c is not plain and self._has_html(c)), None)
        if plain is None and rich is None:
            # No text alternative we understand: take the first and keep the rest as files.
            segments = self.collect(children[0]) if children else []
            for child in children[1:]:
                self._keep_files(child)
            return segments
        plain_segments = self.collect(plain) if plain is not None else []
        rich_segments = self.collect(rich) if rich is not None else []
        for child in children:
            if child is not plain and child is not rich:
                self._keep_files(child)
        has_html = any(s.html is not None for s in rich_segments)
        if not plain_segments and not has_html:
            return rich_segments
        text = "\n\n".join(_segment_text(s) for s in plain_segments) if plain_segments else None
        html = "".join(s.html if s.html is not None else f"<pre>{html_escape(s.plain or '')}</pre>"
                       for s in rich_segments) if has_html else None
        return [_Segment(plain=text, html=html)]

    def _safe_html(self, markup: str, where: str) -> str:
        """Sanitised HTML of one body part; the cid: URLs it uses are remembered to flag inline images."""
        self.cids.update(unquote(m.group(1)).strip("<>") for m in _CID_URL.finditer(markup))
        return sanitise_html(markup, defects=self.defects, where=f"HTML of {where}")

    def _has_html(self, node: _Node) -> bool:
        if node.children is None:
            return node.ctype == "text/html" and self._is_body(node)
        return any(self._has_html(child) for child in node.children)

    def _keep_files(self, node: _Node) -> None:
        """Keep the non-text leaves of an alternative we did not choose (a text/calendar invitation, say)."""
        if node.children is not None:
            for child in node.children:
                self._keep_files(child)
        elif node.ctype not in ("text/plain", "text/html"):
            self._leaf(node)

    def _related(self, node: _Node) -> list[_Segment]:
        children = node.children or []
        if not children:
            return []
        start = (self._param(node.meta, "start") or "").strip().strip("<>")
        root = next((c for c in children if start and self._content_id(c) == start), children[0])
        segments = self.collect(root)
        for child in children:
            if child is not root:
                if child.children is None:
                    filename = self._filename(child)
                    self.pending.append(_Pending(filename, child.ctype, self._payload(child),
                                                 self._content_id(child)))
                else:
                    segments += self.collect(child)
        return segments

    def _tnef(self, node: _Node, filename: str | None) -> None:
        data = self._payload(node)
        keep = _Pending(filename, node.ctype, data, self._content_id(node), default_name="winmail.dat")
        if not _tnef_sane(data):
            # tnefparse trusts property counts; a corrupted one makes it loop ~4 billion times.
            self.defects.append(f"winmail.dat in {node.where} has impossible property counts, kept as is")
            self.pending.append(keep)
            return
        try:
            tnef = TNEF(data, do_checksum=False)
            extracted = [_tnef_attachment(att, tnef.codepage) for att in tnef.attachments]
            body = _tnef_text(tnef.body, tnef.codepage)
            html = _tnef_text(tnef.htmlbody, tnef.codepage)
        except Exception as exc:  # noqa: BLE001 - tnefparse raises whatever a truncated blob makes it raise
            self.defects.append(f"winmail.dat in {node.where} could not be decoded ({type(exc).__name__}), "
                                "kept as is")
            self.pending.append(keep)
            return
        empty = [item for item in extracted if not item.data]
        extracted = [item for item in extracted if item.data]
        if not extracted and not body and not html:
            self.defects.append(f"winmail.dat in {node.where} holds no file or readable body, kept as is")
            self.pending.append(keep)
            return
        self.pending += extracted
        if empty or _tnef_truncated(data):
            # tnefparse clips a cut-off attribute without a word: keep the original next to what was read.
            self.defects.append(f"winmail.dat in {node.where} is truncated, kept as is next to what was read")
            self.pending.append(keep)
        if body or html:
            self.fallback_segments.append(_Segment(
                plain=_clean(body) if body else None,
                html=self._safe_html(_clean(html), f"winmail.dat in {node.where}") if html else None))
        self.defects.append(f"winmail.dat in {node.where} unpacked: {len(extracted)} file(s)"
                            + (", body" if body or html else ""))

    # -- the message ------------------------------------------------------------------------------------------

    def parse(self) -> ParsedEmail:
        raw = self.raw
        self.hint = _charset_hint(raw)
        if not raw.strip():
            self.defects.append("message is empty")
        root = self._build(raw, "", 0, "text/plain")
        grouped = _group(root.headers)
        headers: dict[str, list[str]] = {}
        for name, values in grouped.items():
            headers[name] = [_clean(_decode_words(self.header_text(v, name, self.hint), self.defects, name))
                             for v in values]

        segments = self.collect(root) if root.headers or root.body else []
        if not any((s.plain or "").strip() or (s.html or "").strip() for s in segments) and self.fallback_segments:
            segments = self.fallback_segments
        text = "\n\n".join(t for t in (_segment_text(s) for s in segments) if t)
        # Every HTML fragment is sanitised already (a closed, well-formed tree), so joining them stays safe.
        html = ("".join(s.html if s.html is not None else f"<pre>{html_escape(s.plain or '')}</pre>"
                        for s in segments) if any(s.html is not None for s in segments) else None)

        attachments = self._attachments()
        skipped: list[tuple[str, str, int]] = []
        size = len(raw)
        oversized = size > self.max_bytes
        if oversized:
            skipped = [(a.filename, a.content_type, len(a.data)) for a in attachments]
            attachments = []
            self.defects.append(f"attachment list skipped: message is {size} bytes, limit {self.max_bytes}")

        subject = " ".join(headers.get("subject", [""])[0].split())
        sender, reply_to = self._sender(grouped)
        parsed = ParsedEmail(
            message_id=self._message_id(grouped),
            in_reply_to=self._ids(headers.get("in-reply-to", [])),
            references=self._ids(headers.get("references", [])),
            subject=subject,
            sender=sender,
            reply_to=reply_to,
            to=self._addresses(grouped, "to"),
            cc=self._addresses(grouped, "cc"),
            date=self._date(headers.get("date", [])),
            text=text,
            html=html,
            attachments=attachments,
            content_hash="",
            headers=headers,
            defects=list(dict.fromkeys(self.defects)),  # one note per fact, however often it was met
            size=size,
            oversized=oversized,
            skipped_attachments=skipped,
        )
        parsed.content_hash = content_hash(parsed)
        return parsed

    def _attachments(self) -> list[ParsedAttachment]:
        """The pending files, named (a type-based default for nameless ones) and made unique."""
        taken: set[str] = set()
        out: list[ParsedAttachment] = []
        for index, item in enumerate(self.pending, start=1):
            ctype = item.content_type
            name = _safe_filename(item.filename) if item.filename else ""
            if not name:
                name = item.default_name or f"lampiran-{index}{_default_extension(ctype)}"
            if ctype == "application/octet-stream":
                ctype = _type_from_name(name) if "." in name else ctype
            name = _unique(name, taken)
            out.append(ParsedAttachment(filename=name, content_type=ctype, data=item.data,
                                        content_id=item.content_id,
                                        inline=item.content_id is not None and item.content_id in self.cids))
        return out

    def _message_id(self, grouped: dict[str, list[bytes]]) -> str | None:
        values = [self.header_text(v, "Message-ID", None) for v in grouped.get("message-id", [])]
        if len(values) > 1:
            self.defects.append(f"{len(values)} Message-ID headers, the first usable one kept")
        for value in values:
            ids = message_ids(value)
            if ids:
                return ids[0]
            token = value.strip()
            if token and " " not in token and "@" in token and "<" not in token and ">" not in token:
                self.defects.append("Message-ID without angle brackets, brackets added")
                return f"<{token}>"
        if values:
            self.defects.append("Message-ID unusable, ignored")
        return None

    @staticmethod
    def _ids(values: list[str]) -> list[str]:
        return list(dict.fromkeys(mid for value in values for mid in message_ids(value)))

    def _addresses(self, grouped: dict[str, list[bytes]], name: str) -> list[Address]:
        found: list[Address] = []
        seen: set[str] = set()
        for raw_value in grouped.get(name, []):
            value = self.header_text(raw_value, name, self.hint)
            if len(value) > MAX_ADDRESS_HEADER:
                self.defects.append(f"header {name.title()} of {len(value)} characters, only the first "
                                    f"{MAX_ADDRESS_HEADER} read")
                value = value[:value.rfind(",", 0, MAX_ADDRESS_HEADER) + 1 or MAX_ADDRESS_HEADER].rstrip(",")
            try:
                pairs = email_utils.getaddresses([value])
            except Exception:  # noqa: BLE001 - CPython versions differ in what they reject; none may raise
                pairs = []
            got = []
            for display, addr in pairs:
                address = _address(addr)
                if address:
                    got.append(Address(_clean(" ".join(_decode_words(display, self.defects, name).split())),
                                       address))
            if not got and value.strip():
                got = [Address("", a.lower().rstrip(".")) for a in _ADDR_SPEC.findall(value[:20_000])]
                if got:
                    self.defects.append(f"header {name.title()} malformed, addresses recovered by pattern")
                elif value.strip() not in ("<>", "undisclosed-recipients:;", "undisclosed-recipients: ;"):
                    self.defects.append(f"header {name.title()} unparseable, kept raw")
            for item in got:
                if item.address not in seen:
                    seen.add(item.address)
                    found.append(item)
        return found

    def _sender(self, grouped: dict[str, list[bytes]]) -> tuple[Address | None, Address | None]:
        reply_to = next(iter(self._addresses(grouped, "reply-to")), None)
        for name in ("from", "reply-to", "sender", "return-path"):
            found = self._addresses(grouped, name) if name != "reply-to" else ([reply_to] if reply_to else [])
            if found:
                if name != "from":
                    self.defects.append(f"From unusable, sender taken from {name.title()}")
                return found[0], reply_to
        return None, reply_to

    def _date(self, values: list[str]) -> datetime | None:
        if not values:
            return None
        value = values[0].strip()
        try:
            date = email_utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            try:
                date = datetime.fromisoformat(value)
            except ValueError:
                self.defects.append(f"Date {value[:60]!r} unparseable, ignored")
                return None
        if date.tzinfo is None:
            self.defects.append("Date has no usable time zone, read as UTC")
            date = date.replace(tzinfo=UTC)
        if not 1970 <= date.year <= 2999:
            self.defects.append(f"Date {value[:60]!r} out of range, ignored")
            return None
        return date


def _split_multipart(body: bytes, boundary: str, limit: int) -> tuple[list[bytes], bool, bytes] | None:
    """(part bytes, closed, the unsplit rest past ``limit`` parts) of a multipart body; None without a boundary.

    A delimiter is a line "--boundary" (optionally followed by "--" to close, and by blanks), and the line break
    before it belongs to it (RFC 2046 §5.1.1). Without a closing delimiter the last part runs to the end.
    """
    token = boundary.encode("utf-8", errors="surrogateescape")
    delimiter = re.compile(rb"^--" + re.escape(token) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    parts: list[bytes] = []
    current = None
    for following in delimiter.finditer(body):
        if current is not None:
            parts.append(body[_after_line(body, current.end()):max(_before_line(body, following.start()),
                                                                    _after_line(body, current.end()))])
            if len(parts) >= limit and not following.group(1):
                return parts, False, body[following.start():]
        if following.group(1):
            return parts, True, b""
        current = following
    if current is None:
        return None
    parts.append(body[_after_line(body, current.end()):])
    return parts, False, b""


def _after_line(body: bytes, position: int) -> int:
    """The position after the line break that ends a delimiter line."""
    if body[position:position + 2] == b"\r\n":
        return position + 2
    return position + 1 if body[position:position + 1] in (b"\n", b"\r") else position


def _before_line(body: bytes, position: int) -> int:
    """The position of the line break before a delimiter line (that break belongs to the delimiter)."""
    if body[position - 2:position] == b"\r\n":
        return position - 2
    return position - 1 if body[position - 1:position] == b"\n" else position


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines, drop space-stuffing, keep quote depth."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        content = content.removeprefix(" ")
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append((">" * current_depth + " " if current_depth else "") + current)
            current, current_depth = content, depth
        if not flowed:
            out.append((">" * current_depth + " " if current_depth else "") + current)
            current = None
    if current is not None:
        out.append((">" * current_depth + " " if current_depth else "") + current)
    return "\n".join(out)


def _segment_text(segment: _Segment) -> str:
    if segment.plain is not None and (segment.plain.strip() or not segment.html):
        return segment.plain.strip("\n")
    return _extract_text(segment.html or "")  # segment HTML is sanitised already


def _address(addr: str) -> str:
    addr = addr.strip().strip("<>").strip().lower().rstrip(".")
    if _CONTROL.search(addr) or " " in addr or addr.count("@") < 1:
        return ""
    local, _, domain = addr.rpartition("@")
    return addr if local and domain else ""


def _unique(name: str, taken: set[str]) -> str:
    candidate = name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    number = 2
    while candidate.lower() in taken:
        candidate = f"{stem} ({number}).{ext}" if ext else f"{stem} ({number})"
        number += 1
    taken.add(candidate.lower())
    return candidate


def _tnef_truncated(data: bytes) -> bool:
    """Whether a TNEF stream ends inside an attribute (level, id, length, data, checksum: MS-OXTNEF 2.1.3)."""
    offset = 6
    while offset < len(data):
        if offset + 9 > len(data):
            return True
        length = int.from_bytes(data[offset + 5:offset + 9], "little")
        offset += 9 + length + 2
    return offset > len(data)


_TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
_IMESSAGE_SIGNATURE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MAPI_FIXED_SIZES = {0x0001: 0, 0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8,
                     0x0007: 8, 0x0014: 8, 0x0040: 8, 0x0048: 16}
_MAPI_VARIABLE = {0x0000, 0x000D, 0x001E, 0x001F, 0x0102}


def _tnef_sane(data: bytes, depth: int = 0) -> bool:
    """Whether every count in a TNEF stream fits the bytes that follow it, so tnefparse cannot spin on it.

    Walks the attributes (MS-OXTNEF 2.1.3) and the MAPI property lists in attMAPIProps, attAttachment and
    attRecipTable the way tnefparse reads them, including embedded messages.
    """
    if depth > 4:
        return False
    if not data.startswith(_TNEF_SIGNATURE):
        return True  # tnefparse raises a clean ValueError on it
    offset = 6
    while offset + 9 <= len(data):
        attr_id = int.from_bytes(data[offset + 1:offset + 3], "little")
        length = int.from_bytes(data[offset + 5:offset + 9], "little")
        body = data[offset + 9:offset + 9 + length]
        if attr_id in (0x9003, 0x9005):
            if _mapi_end(body, 0, depth) is None:
                return False
        elif attr_id == 0x9004 and len(body) >= 4:
            rows = int.from_bytes(body[:4], "little")
            if rows > len(body) // 4:
                return False
            position: int | None = 4
            for _ in range(rows):
                position = _mapi_end(body, position, depth) if position is not None else None
                if position is None:
                    break  # tnefparse raises at the end of the data, which is handled
        offset += 9 + length + 2
    return True


def _mapi_end(data: bytes, offset: int, depth: int) -> int | None:
    """Offset after a MAPI property list; None when a count is larger than the data could hold."""
    def u32(at: int) -> int:
        return int.from_bytes(data[at:at + 4], "little")

    if offset + 4 > len(data):
        return offset
    count = u32(offset)
    offset += 4
    if count > (len(data) - offset) // 8 + 1:
        return None
    for _ in range(count):
        if offset + 4 > len(data):
            return offset
        ptype = int.from_bytes(data[offset:offset + 2], "little")
        pid = int.from_bytes(data[offset + 2:offset + 4], "little")
        offset += 4
        if pid >= 0x8000:  # a named property: GUID, kind, then an id or a name
            offset += 16
            kind = u32(offset)
            offset += 4
            offset += 4 if kind == 0 else 4 + u32(offset) + (-u32(offset) % 4)
        values = None
        if ptype & 0x1000:
            ptype ^= 0x1000
            values = u32(offset)
            offset += 4
            if values > (len(data) - offset) // 2 + 1:
                return None
        for _ in range(values or 1):
            if ptype in _MAPI_FIXED_SIZES:
                offset += _MAPI_FIXED_SIZES[ptype]
            elif ptype in _MAPI_VARIABLE:
                items = 1 if values else u32(offset)
                offset += 0 if values else 4
                if items > (len(data) - offset) // 4 + 1:
                    return None
                for _ in range(items):
                    size = u32(offset)
                    value = data[offset + 4:offset + 4 + size]
                    if value.startswith(_IMESSAGE_SIGNATURE) and not _tnef_sane(value[16:], depth + 1):
                        return None
                    offset += 4 + size + (-size % 4)
            else:
                return offset  # tnefparse raises on an unknown type, which is handled
            if offset > len(data):
                return offset
        if (values or 1) % 2 and ptype in (0x0002, 0x000B):
            offset += 2
    return offset


def _tnef_text(value: object, codepage: str | None) -> str | None:
    if not value:
        return None
    if isinstance(value, str):
        return value.rstrip("\x00")
    if isinstance(value, bytes):
        return decode_bytes(value.rstrip(b"\x00"), codepage or "cp1252", where="winmail.dat", defects=[])
    return None


def _tnef_attachment(att: object, codepage: str | None) -> _Pending:
    """One file out of a winmail.dat: the long file name when there is one, the 8.3 name otherwise."""
    long_name = None
    mime = None
    for prop in getattr(att, "mapi_attrs", []):
        if prop.name == 0x3707:  # PR_ATTACH_LONG_FILENAME
            long_name = prop.data
        elif prop.name == 0x370E:  # PR_ATTACH_MIME_TAG
            mime = prop.data
    short = getattr(att, "_name", b"")
    if isinstance(short, bytes):
        short = decode_bytes(short.rstrip(b"\x00"), codepage or "cp1252", where="winmail.dat", defects=[])
    name = long_name if isinstance(long_name, str) and long_name.strip("\x00") else short
    name = (name or "").strip("\x00")
    ctype = mime.strip("\x00").lower() if isinstance(mime, str) and "/" in mime else _type_from_name(name)
    data = getattr(att, "data", b"") or b""
    return _Pending(name or None, ctype, bytes(data), None)


def content_hash(parsed: ParsedEmail) -> str:
    """sha256 of what makes a message the same message: subject, sender, text, HTML and attachments.

    Transport headers (Received, Delivered-To, Return-Path, X-*...) and the Date are left out, so the same
    message fetched through two routes hashes the same, while another body under a reused Message-ID does not.
    """
    payload = {
        "subject": parsed.subject,
        "sender": parsed.sender.address if parsed.sender else "",
        "text": parsed.text,
        "html": parsed.html or "",
        "attachments": [[a.content_type, a.filename, hashlib.sha256(a.data).hexdigest()]
                        for a in parsed.attachments],
        "skipped": [list(item) for item in parsed.skipped_attachments],
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def _salvage(raw: bytes, max_bytes: int, exc: Exception) -> ParsedEmail:
    """What is left when the parser itself failed: the raw text, so the message still becomes readable."""
    text = _clean(raw.decode("utf-8", errors="replace"))
    parsed = ParsedEmail(
        message_id=None, in_reply_to=[], references=[], subject="", sender=None, reply_to=None, to=[], cc=[],
        date=None, text=text, html=None, attachments=[], content_hash="", headers={},
        defects=[f"parser failed ({type(exc).__name__}: {str(exc)[:120]}), raw text kept as the body"],
        size=len(raw), oversized=len(raw) > max_bytes, skipped_attachments=[],
    )
    parsed.content_hash = content_hash(parsed)
    return parsed
