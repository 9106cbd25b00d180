"""FAQ packs: JSON files that carry FAQ entries from one LPSE office to another (``helpdesk faq import/export``).

A pack is a JSON list of entry objects, or an object ``{"entries": [...]}`` (other top-level members are
ignored). Each entry has ``id`` (kept as the entry's key), ``topic``, ``question`` and ``answer`` (Markdown), and
may have ``alternatives`` (list of texts), ``application`` (spse, sikap, sirup, ekatalog, other),
``spse_version``, ``visibility`` (public, internal, draft; public when absent), ``source`` (lpse, lkpp, ticket;
lpse when absent), ``review_by`` (YYYY-MM-DD) and ``auto_answer`` (true/false; true when absent).

Import checks every entry before writing anything and refuses the whole file on any problem, naming each bad
entry with its position and line ("entry 3 (line 14): missing field \"answer\""). An entry whose id is already a
key updates that entry (a new version, change ``imported``; fields the pack leaves out keep their value);
others are created. Export writes every published entry (public or internal, not retired) with all its fields,
so that importing it again changes nothing.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from sqlalchemy import select

from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import FaqEntry, Staff

from . import entries

SEED_PACK: Final = Path(__file__).parent / "packs" / "lpse-seed.json"
REQUIRED: Final = ("id", "topic", "question", "answer")
OPTIONAL: Final = ("alternatives", "application", "spse_version", "visibility", "source", "review_by",
                   "auto_answer")
# The order of an exported entry's members, as in the shared seed pack.
EXPORT_ORDER: Final = ("id", "topic", "question", "alternatives", "answer", "application", "spse_version",
                       "visibility", "source", "review_by", "auto_answer")
MAX_PACK_BYTES = 20 * 1024 * 1024
MAX_REPORTED = 50  # problems listed before "... and N more"


class PackError(ValidationError):
    """A pack refused as a whole; ``problems`` lists each reason ("entry N (line L): reason")."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(str(_l("... and %(n)d more problems", n=len(problems) - MAX_REPORTED)))
        super().__init__(str(_l("The pack was not imported, nothing was changed:")) + "\n" + "\n".join(shown))


@dataclass
class ImportResult:
    """What an import did: keys created, updated and left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the CLI and the demo summary."""
        return (f"{len(self.created)} created, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged")


@dataclass(frozen=True)
class _Item:
    number: int  # 1-based position in the pack
    line: int
    value: Any


# -- import -------------------------------------------------------------------------------------------------

def import_pack(text: str | bytes, *, actor: Staff | None = None) -> ImportResult:
    """Validate every entry of the pack, then create or update them all; PackError lists every problem.

    Nothing is written when any entry is bad. Flushes, never commits: the caller commits once, or rolls back.
    """
    items = parse_pack(text)
    checked = _check_all(items)
    existing = {e.key: e for e in db.session.scalars(
        select(FaqEntry).where(FaqEntry.key.in_([key for key, _ in checked])))} if checked else {}
    result = ImportResult()
    for key, values in checked:
        entry = existing.get(key)
        if entry is None:
            values = {"visibility": "public", **values}
            entries.create_entry(actor=actor, key=key, change="imported", **values)
            result.created.append(key)
        elif entries.update_entry(entry, values, actor=actor, change="imported") is None:
            result.unchanged.append(key)
        else:
            result.updated.append(key)
    return result


def import_file(path: str | Path, *, actor: Staff | None = None) -> ImportResult:
    """``import_pack`` on a file's content; an unreadable or oversized file is a PackError."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PACK_BYTES:
            raise PackError([str(_l("the file is larger than %(n)d MB", n=MAX_PACK_BYTES // 1024 // 1024))])
        data = path.read_bytes()
    except OSError as exc:
        raise PackError([str(_l("cannot read %(path)s: %(reason)s", path=str(path), reason=exc.strerror))]) from exc
    return import_pack(data, actor=actor)


def import_seed(*, actor: Staff | None = None) -> ImportResult:
    """Import the LPSE seed pack shipped with the package (faq/packs/lpse-seed.json)."""
    return import_file(SEED_PACK, actor=actor)


def parse_pack(text: str | bytes) -> list[_Item]:
    """The pack's entries with their positions and lines; PackError when it is not JSON of the pack's shape."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PackError([str(_l("the file is not UTF-8 text (byte %(pos)d)", pos=exc.start))]) from exc
    text = text.removeprefix("\ufeff")
    try:
        json.loads(text)  # the decoder's own message and line for any syntax error, before the walk below
    except json.JSONDecodeError as exc:
        raise PackError([str(_l("line %(line)d column %(col)d: not valid JSON (%(reason)s)",
                                line=exc.lineno, col=exc.colno, reason=exc.msg))]) from exc
    except RecursionError as exc:
        raise PackError([str(_l("the JSON is nested too deeply"))]) from exc
    start = _skip(text, 0)
    if text.startswith("[", start):
        return list(_array_items(text, start))
    if text.startswith("{", start):
        array = _member_start(text, start, "entries")
        if array is not None and text.startswith("[", array):
            return list(_array_items(text, array))
    raise PackError([str(_l("line %(line)d: a pack is a list of entries, or an object with an \"entries\" list",
                            line=_line(text, start)))])


def _check_all(items: list[_Item]) -> list[tuple[str, dict[str, Any]]]:
    """Every entry's key and cleaned fields; PackError listing every problem of every entry."""
    problems: list[str] = []
    checked: list[tuple[str, dict[str, Any]]] = []
    first_seen: dict[str, int] = {}
    for item in items:
        where = str(_l("entry %(n)d (line %(line)d)", n=item.number, line=item.line))
        try:
            key, values = _check_one(item.value)
        except ValidationError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if key.lower() in first_seen:
            problems.append(f"{where}: " + str(_l("duplicate id %(key)s (first at entry %(n)d)", key=repr(key),
                                                  n=first_seen[key.lower()])))
            continue
        first_seen[key.lower()] = item.number
        checked.append((key, values))
    if problems:
        raise PackError(problems)
    return checked


def _check_one(value: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ValidationError(_l("an entry must be an object with id, topic, question and answer"))
    missing = [name for name in REQUIRED if name not in value or value[name] in (None, "")]
    if missing:
        raise ValidationError(_ln("missing field %(fields)s", "missing fields %(fields)s", len(missing),
                                  fields=", ".join(f'"{m}"' for m in missing)))
    unknown = sorted(set(value) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValidationError(_l("unknown field %(fields)s", fields=", ".join(f'"{u}"' for u in unknown)))
    if not isinstance(value["id"], str):
        raise ValidationError(_l("\"id\" must be text"))
    key = entries.clean_key(value["id"])
    given = {name: value[name] for name in (*REQUIRED, *OPTIONAL) if name in value and name != "id"}
    if given.get("alternatives") is None:
        given.pop("alternatives", None)
    for name in ("visibility", "source", "auto_answer"):
        if name in given and given[name] is None:
            given.pop(name)  # null: the default
    cleaned = entries.clean_fields(given)
    entries.check_complete({"visibility": "public", **cleaned})
    return key, cleaned


# -- export -------------------------------------------------------------------------------------------------

def export_entries() -> list[dict[str, Any]]:
    """Every published entry (public or internal, not retired) as a pack entry with all its fields, by key.

    Drafts stay home: they may lack an answer or a topic, and are not ready to share.
    """
    query = select(FaqEntry).where(FaqEntry.retired_at.is_(None), FaqEntry.visibility.in_(entries.PUBLISHED))
    return [_pack_entry(entry) for entry in db.session.scalars(query.order_by(FaqEntry.key))]


def export_pack() -> str:
    """The pack as JSON text (a list, like the shared seed pack), UTF-8 characters kept, ending in a newline."""
    return json.dumps(export_entries(), ensure_ascii=False, indent=1) + "\n"


def _pack_entry(entry: FaqEntry) -> dict[str, Any]:
    values = {
        "id": entry.key, "topic": entry.topic, "question": entry.question,
        "alternatives": list(entry.alternatives or []), "answer": entry.answer, "application": entry.application,
        "spse_version": entry.spse_version, "visibility": entry.visibility, "source": entry.source,
        "review_by": entry.review_by.isoformat() if entry.review_by else None, "auto_answer": entry.auto_answer,
    }
    return {name: values[name] for name in EXPORT_ORDER}


# -- a JSON walk that knows where each entry starts --------------------------------------------------------

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _array_items(text: str, pos: int) -> Iterator[_Item]:
    """The elements of the array starting at ``pos`` (text already known to be valid JSON)."""
    pos = _skip(text, pos + 1)
    number = 0
    while pos < len(text) and text[pos] != "]":
        number += 1
        value, end = _DECODER.raw_decode(text, pos)
        yield _Item(number=number, line=_line(text, pos), value=value)
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)


def _member_start(text: str, pos: int, name: str) -> int | None:
    """Where the value of member ``name`` of the object at ``pos`` starts; None when it has none."""
    pos = _skip(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        key, end = _DECODER.raw_decode(text, pos)
        pos = _skip(text, _skip(text, end) + 1)  # past the colon
        if key == name:
            return pos
        _, end = _DECODER.raw_decode(text, pos)
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
    return None
