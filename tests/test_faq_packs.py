"""FAQ packs: the seed pack, export/import round trips, whole-file refusal of bad packs, and the CLI commands."""
from __future__ import annotations

import json

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from faq import entries, index, packs
from helpdesk.cli import cli
from helpdesk.extensions import db
from helpdesk.models import FaqEntry, FaqVersion

def entry_rows() -> list[tuple]:
    return [(e.key, e.topic, e.question, tuple(e.alternatives), e.answer, e.answer_html, e.application,
             e.spse_version, e.visibility, e.source, e.review_by, e.auto_answer)
            for e in db.session.scalars(select(FaqEntry).order_by(FaqEntry.key))]


def pack_text(items) -> str:
    return json.dumps(items, ensure_ascii=False, indent=1)


GOOD = {"id": "x-1", "topic": "akun", "question": "Apa itu User ID?", "answer": "Nama pengguna SPSE Anda."}


@pytest.fixture(autouse=True)
def english(app):
    """These tests read the services' messages in their English source wording (the catalogue translates them)."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"  # for contexts the test opens later (CLI, requests)
    with force_locale("en"):
        yield


def test_seed_pack_imports_41_public_entries_keyed_by_id(app):
    result = packs.import_seed()
    db.session.commit()
    assert len(result.created) == 41 and not result.updated and not result.unchanged
    keys = set(db.session.scalars(select(FaqEntry.key)))
    assert len(keys) == 41 and {"faq-001", "faq-041"} <= keys
    entry = entries.get_by_key("faq-004")
    assert entry.visibility == "public" and entry.source == "lpse" and entry.auto_answer
    assert entry.answer_html.startswith("<p>")
    assert db.session.scalars(select(FaqVersion.change).where(FaqVersion.entry_id == entry.id)).all() == ["imported"]


def test_export_then_import_is_identical(app, make_staff):
    editor = make_staff()
    packs.import_seed()
    entry = entries.get_by_key("faq-002")
    entries.update_entry(entry, {"alternatives": ["dokumen verifikasi", "syarat verifikasi"],
                                 "application": "spse", "spse_version": "4.5", "review_by": "2027-01-31",
                                 "auto_answer": False, "visibility": "internal", "source": "lkpp"}, actor=editor)
    entries.create_entry(actor=editor, question="Draf pertanyaan", key="draf-1", topic="lain")
    entries.retire(entries.get_by_key("faq-003"), actor=editor)
    db.session.commit()
    before = [row for row in entry_rows() if row[0] != "faq-003"]
    text = packs.export_pack()
    exported = json.loads(text)
    assert len(exported) == 40 and {"faq-003", "draf-1"}.isdisjoint(e["id"] for e in exported)  # not shared
    assert db.session.query(FaqEntry).count() == 42
    assert next(e for e in exported if e["id"] == "faq-002")["review_by"] == "2027-01-31"

    again = packs.import_pack(text)
    assert not again.created and not again.updated and len(again.unchanged) == 40
    assert packs.export_pack() == text

    db.session.execute(FaqVersion.__table__.delete())  # into an empty knowledge base
    for entry in db.session.scalars(select(FaqEntry)).all():
        index.remove_entry(entry.id)
        db.session.delete(entry)
    db.session.flush()
    assert len(packs.import_pack(text).created) == 40
    db.session.commit()
    assert entry_rows() == [row for row in before if row[0] != "draf-1"]
    assert packs.export_pack() == text


def test_known_key_is_updated_with_a_new_version(app):
    packs.import_pack(pack_text([GOOD]))
    changed = {**GOOD, "answer": "Nama pengguna SPSE (**User ID**).", "alternatives": ["user id itu apa"]}
    result = packs.import_pack(json.dumps({"format": "faq-pack", "entries": [changed, {**GOOD, "id": "x-2"}]}))
    db.session.commit()
    assert (result.created, result.updated) == (["x-2"], ["x-1"])
    entry = entries.get_by_key("x-1")
    assert entry.version == 2 and "<strong>User ID</strong>" in entry.answer_html
    assert entry.alternatives == ["user id itu apa"]
    assert [v.change for v in db.session.scalars(select(FaqVersion).where(FaqVersion.entry_id == entry.id))] == [
        "imported", "imported"]
    assert db.session.query(FaqEntry).count() == 2


def test_pack_fields_left_out_keep_the_local_value(app, make_staff):
    packs.import_pack(pack_text([{**GOOD, "visibility": "internal", "application": "sikap"}]))
    assert packs.import_pack(pack_text([GOOD])).unchanged == ["x-1"]
    entry = entries.get_by_key("x-1")
    assert (entry.visibility, entry.application) == ("internal", "sikap")


@pytest.mark.parametrize("text, expected", [
    (('[\n {"id": "a", "topic": "t", "question": "q", "answer": "a"},\n {"id": "b", "topic": "t",\n'
     '  "question": "q"}\n]'), ['entry 2 (line 3): missing field "answer"']),
    ('[\n {"id": "a", "topic": "t", "question": "q", "answer": "a"}\n {"id": "b"}\n]',
     ["line 3 column 2: not valid JSON (Expecting ',' delimiter)"]),
    (('[{"id": "a", "topic": "t", "question": "q", "answer": "a"},\n'
     ' {"id": "a", "topic": "t", "question": "q2", "answer": "a2"}]'),
     ["entry 2 (line 2): duplicate id 'a' (first at entry 1)"]),
    (('{"entries": [\n\n "just text",\n {"id": "ok", "topic": "t", "question": "q", "answer": "a", "colour": 1},\n'
     ' {"id": "bad id!", "topic": "t", "question": "q", "answer": "a"},\n'
     ' {"id": "v", "topic": "t", "question": "q", "answer": "a", "visibility": "secret"}]}'),
     ["entry 1 (line 3): an entry must be an object", 'entry 2 (line 4): unknown field "colour"',
      "entry 3 (line 5): The key must be", "entry 4 (line 6): Visibility must be public, internal or draft."]),
    ('{"faqs": []}', ['line 1: a pack is a list of entries, or an object with an "entries" list']),
])
def test_bad_pack_is_refused_whole_with_entry_and_line(app, text, expected):
    packs.import_pack(pack_text([GOOD]))  # an entry that was there before stays as it was
    db.session.commit()
    with pytest.raises(packs.PackError) as caught:
        packs.import_pack(text)
    db.session.rollback()
    assert len(caught.value.problems) == len(expected)
    for problem, start in zip(caught.value.problems, expected):
        assert problem.startswith(start), (problem, start)
    assert db.session.scalars(select(FaqEntry.key)).all() == ["x-1"]
    assert db.session.query(FaqVersion).count() == 1


def test_a_good_entry_before_a_bad_one_is_not_imported(app):
    with pytest.raises(packs.PackError, match="entry 2"):
        packs.import_pack(pack_text([{**GOOD, "id": "new-1"}, {**GOOD, "id": "new-2", "question": ""}]))
    db.session.rollback()
    assert db.session.query(FaqEntry).count() == 0


def test_bytes_that_are_not_utf8_are_refused(app):
    with pytest.raises(packs.PackError, match="UTF-8"):
        packs.import_pack(b'[{"id": "a", "question": "\xff"}]')


# -- the CLI (in-process, on every backend) ------------------------------------------------------------------

def test_cli_import_and_export(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["faq", "import", str(packs.SEED_PACK)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("41 created, 0 updated, 0 unchanged")
    result = runner.invoke(cli, ["faq", "import", str(packs.SEED_PACK)])
    assert result.output.strip().endswith("0 created, 0 updated, 41 unchanged")

    result = runner.invoke(cli, ["faq", "export"])
    assert result.exit_code == 0
    exported = json.loads(result.output)
    assert len(exported) == 41 and exported[0]["id"] == "faq-001"
    target = tmp_path / "pack.json"
    assert runner.invoke(cli, ["faq", "export", "--output", str(target)]).exit_code == 0
    assert json.loads(target.read_text("utf-8")) == exported


def test_cli_import_of_a_bad_pack_fails_and_changes_nothing(app, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(pack_text([GOOD, {"id": "y", "topic": "t", "answer": "a"}]), "utf-8")
    result = app.test_cli_runner().invoke(cli, ["faq", "import", str(bad)])  # Click 8.2+: stderr kept apart
    assert result.exit_code == 1
    assert 'entry 2 (line 8): missing field "question"' in result.stderr
    assert result.stdout == ""
    missing = app.test_cli_runner().invoke(cli, ["faq", "import", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
    assert db.session.query(FaqEntry).count() == 0

