"""Fill a hubd database with synthetic repos for the listing benchmarks, straight into SQL.

    .venv/bin/python bench/seed_repos.py --database-url sqlite:////tmp/x/hubd.db --count 1000000
    .venv/bin/python bench/seed_repos.py --database-url postgresql://root@127.0.0.1/hubd_bench

hubd's own create_schema() makes the schema; then the secondary indexes and the triggers of the filled
tables are dropped, the rows go in (executemany in batches on SQLite, COPY on PostgreSQL) and the indexes
and triggers are rebuilt from their saved definitions; SQLite's FTS5 trigram table is then filled in one
pass ('rebuild') instead of row by row. On PostgreSQL the triggers stay but do not fire while loading
(session_replication_role = replica). Columns this script does not know get their schema default.
Rows: 70% models, 20% datasets, 10% spaces from ~50k Zipf-sized namespaces; names
from a Zipf vocabulary (top words in ~5% of ids, tail words in a handful); 3-8 tags each; Zipf downloads and
likes, with downloads_daily rows that hubd's startup recount turns back into the same downloads/trending.
Deterministic for a given --seed and --count.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from sqlalchemy import JSON, Table
from sqlalchemy.engine import make_url

from hubd.db.engine import Database
from hubd.db.schema import accounts, downloads_daily, repo_meta, repo_tags, repos
from hubd.hub.listing_fragment import listing_fragment

DAY = 86400
YEARS3 = 3 * 365 * DAY
BATCH = 20_000
TABLES = (accounts, repos, repo_meta, repo_tags, downloads_daily)
REAL_WORDS = ("llama", "bert", "gpt2", "qwen", "mistral", "instruct", "chat", "base", "finetuned", "lora", "gguf",
              "awq", "gptq", "t5", "roberta", "whisper", "vit", "clip", "sdxl", "phi", "gemma", "deberta", "distil",
              "tiny", "large", "small", "medium", "xl", "merged", "dpo", "sft", "coder", "math", "vision", "audio")
SYLLABLES = ("ka", "zo", "ri", "ven", "tal", "mu", "dex", "or", "pli", "sha", "qua", "nek", "bo", "fir", "lum", "tra",
             "gi", "xan", "wel", "yor", "pe", "cla", "dru", "som", "hin", "jat", "ul", "vro", "mes", "ti", "ba", "ne")
SIZES = ("7b", "13b", "1.5b", "3b", "8b", "70b", "350m", "125m", "v2", "v3", "v0.1", "4bit", "8bit", "fp16")
PIPELINES = ("text-generation", "text-classification", "token-classification", "fill-mask", "text2text-generation",
             "automatic-speech-recognition", "image-classification", "feature-extraction", "sentence-similarity",
             "text-to-image", "question-answering", "translation", "summarization", "object-detection",
             "image-to-text", "reinforcement-learning", "audio-classification", "image-segmentation",
             "zero-shot-classification", "text-to-speech", "depth-estimation", "video-classification")
LIBRARIES = ("transformers", "peft", "sentence-transformers", "diffusers", "gguf", "timm", "stable-baselines3",
             "mlx", "keras", "pytorch", "onnx", "spacy", "fastai", "adapter-transformers", "ml-agents", "flair")
LICENSES = ("apache-2.0", "mit", "other", "cc-by-4.0", "llama3", "openrail", "cc-by-nc-4.0", "gpl-3.0",
            "cc-by-sa-4.0", "bsd-3-clause", "llama2", "gemma", "creativeml-openrail-m", "afl-3.0", "unlicense")
LANGS = ("en", "zh", "fr", "es", "de", "ru", "ja", "ko", "ar", "pt", "it", "hi", "vi", "tr", "nl", "pl", "id", "fa",
         "sv", "uk", "th", "he", "cs", "ro", "el", "da", "fi", "hu", "bn", "ta", "ur", "sw", "ms", "no", "ca", "yo")
MODEL_TAGS = ("safetensors", "conversational", "autotrain_compatible", "endpoints_compatible",
              "text-generation-inference", "pytorch", "tensorboard", "generated_from_trainer", "trl", "unsloth",
              "mergekit", "4-bit", "8-bit", "custom_code", "lora", "base_model:adapter")
KNOWN = {"accounts": {"id", "name", "kind", "fullname", "email", "is_admin", "created_at"},
         "repos": {"id", "type", "namespace", "name", "private", "gated", "sdk", "created_at", "last_modified",
                   "head_sha", "next_discussion", "search_id", "downloads", "downloads_all_time", "likes",
                   "trending_score", "pipeline_tag", "library_name", "used_storage", "derived_sha"},
         "repo_meta": {"repo_id", "card_data", "tags", "config", "transformers_info", "safetensors", "error",
                       "listing"},
         "repo_tags": {"repo_id", "tag", "type", "private", "created_at", "last_modified", "downloads", "likes",
                       "trending_score"},  # the repo's copies, which hubd's triggers keep (off while loading)
         "downloads_daily": {"repo_id", "day", "count"}}
SDKS = ("gradio", "gradio", "gradio", "gradio", "docker", "docker", "streamlit", "static")


def zipf_cum(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(n)))


def make_words(rng: random.Random, n: int, min_syl: int, max_syl: int, avoid: Iterable[str] = ()) -> list[str]:
    seen, out = set(avoid), []
    while len(out) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(min_syl, max_syl)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


class Generator:
    """Every random choice of the data set, from one seeded RNG."""

    def __init__(self, count: int, seed: int, namespaces: int, now: float) -> None:
        self.rng, self.count, self.now = random.Random(seed), count, now
        self.today = int(now // DAY)
        rng = self.rng
        self.vocab = list(REAL_WORDS) + make_words(rng, 100_000 - len(REAL_WORDS), 2, 4, REAL_WORDS)
        self.vocab_cum = zipf_cum(len(self.vocab), 0.8)
        suffixes = ("", "", "", "-ai", "-lab", "-research", "-hf", "42", "01", "x")
        ns_words = make_words(rng, namespaces, 2, 4, ("alice",))
        self.namespaces = [w + rng.choice(suffixes) for w in ns_words]
        self.namespaces = list(dict.fromkeys(self.namespaces))
        self.ns_cum = zipf_cum(len(self.namespaces), 0.9)
        self.free_tags = make_words(rng, 5000, 2, 3)
        self.free_cum = zipf_cum(len(self.free_tags), 1.0)
        papers = {f"arxiv:{rng.randint(1501, 2612)}.{rng.randint(0, 99999):05d}" for _ in range(200_000)}
        self.papers = sorted(papers)
        rng.shuffle(self.papers)
        self.papers_cum = zipf_cum(len(self.papers), 1.0)  # the tail: tags of one or two repos
        self.lang_cum = zipf_cum(len(LANGS), 1.3)
        self.small_cum = {n: zipf_cum(n, 1.1) for n in (len(PIPELINES), len(LIBRARIES), len(LICENSES))}
        self.taken: set[tuple[str, str, str]] = set()

    def pick(self, seq: Sequence[str], k: int = 1, cum: list[float] | None = None) -> list[str]:
        return self.rng.choices(seq, cum_weights=cum or self.small_cum[len(seq)], k=k)

    def accounts(self) -> Iterator[dict[str, Any]]:
        for i, name in enumerate(self.namespaces, 1):
            yield {"id": i, "name": name, "kind": "org" if i % 5 == 0 else "user", "fullname": name.title(),
                   "email": None if i % 5 == 0 else f"{name}@example.com", "is_admin": False,
                   "created_at": self.now - YEARS3 - self.rng.random() * YEARS3}

    def name(self, rtype: str, ns: str) -> str:
        rng = self.rng
        words = rng.choices(self.vocab, cum_weights=self.vocab_cum, k=rng.choice((1, 2, 2, 2, 3, 3)))
        if rtype == "model" and rng.random() < 0.4:
            words.append(rng.choice(SIZES))
        base = "-".join(dict.fromkeys(words))
        name, n = base, 1
        while (rtype, ns, name) in self.taken:
            n += 1
            name = f"{base}-{n}"
        self.taken.add((rtype, ns, name))
        return name

    def tags(self, rtype: str, pipeline: str | None, library: str | None, lic: str, langs: list[str]) -> list[str]:
        rng = self.rng
        tags = [t for t in (library, pipeline) if t]
        if rtype == "model":
            tags += rng.sample(MODEL_TAGS, rng.randint(0, 3))
        elif rtype == "dataset":
            tags += [rng.choice(("format:parquet", "format:json", "format:csv")),
                     rng.choice(("modality:text", "modality:image", "modality:audio", "modality:tabular"))]
        tags += [f"license:{lic}", *langs, *dict.fromkeys(self.pick(self.free_tags, rng.randint(1, 3), self.free_cum))]
        if rng.random() < 0.25:
            tags += self.pick(self.papers, cum=self.papers_cum)
        if rng.random() < 0.7:
            tags.append("region:us")
        tags = list(dict.fromkeys(tags))[:8]
        while len(tags) < 3:
            tags.append(rng.choice(self.free_tags))
            tags = list(dict.fromkeys(tags))
        return tags

    def repo(self, rid: int) -> dict[str, list[dict[str, Any]]]:
        """One repo and its rows in every table, keyed by table name."""
        rng, now = self.rng, self.now
        u = rng.random()
        rtype = "model" if u < 0.7 else "dataset" if u < 0.9 else "space"
        ns = self.pick(self.namespaces, cum=self.ns_cum)[0]
        name = self.name(rtype, ns)
        created = now - YEARS3 * rng.random() ** 1.6  # more recent repos than old ones
        modified = created if rng.random() < 0.3 else created + (now - created) * rng.random()
        downloads = 0 if rng.random() < 0.55 else int(rng.paretovariate(0.8))
        week = int(downloads * rng.random() * 0.5)
        likes = 0 if rng.random() < 0.7 else int(rng.paretovariate(1.1))
        lic = self.pick(LICENSES)[0]
        langs = list(dict.fromkeys(self.pick(LANGS, rng.choice((0, 0, 1, 1, 2, 3)), self.lang_cum)))
        pipeline = library = sdk = None
        config = transformers_info = safetensors = None
        card: dict[str, Any] = {"license": lic, "language": langs}
        if rtype == "model":
            if rng.random() < 0.9:
                pipeline = self.pick(PIPELINES)[0]
            if rng.random() < 0.9:
                library = self.pick(LIBRARIES)[0]
            card |= {"pipeline_tag": pipeline, "library_name": library}
            if library == "transformers":
                arch = rng.choice(("LlamaForCausalLM", "BertModel", "Qwen2ForCausalLM", "T5ForConditionalGeneration"))
                config = {"architectures": [arch], "model_type": arch[:4].lower()}
                transformers_info = {"auto_model": "AutoModel", "pipeline_tag": pipeline, "processor": "AutoTokenizer"}
            if rng.random() < 0.5:
                params = int(rng.paretovariate(0.5) * 1e6)
                safetensors = {"parameters": {"BF16": params}, "total": params}
        elif rtype == "dataset":
            card |= {"pretty_name": name.replace("-", " ").title(), "size_categories": ["10K<n<100K"]}
        else:
            sdk = rng.choice(SDKS)
            card |= {"title": name, "emoji": "🚀", "sdk": sdk}
        tags = self.tags(rtype, pipeline, library, lic, langs)
        sha = f"{rng.getrandbits(160):040x}"
        daily = [{"repo_id": rid, "day": self.today - 1, "count": week}] if week else []
        if downloads - week:
            daily.append({"repo_id": rid, "day": self.today - 12, "count": downloads - week})
        private = rng.random() < 0.02
        trending = week * 6 / 7  # what counters.recount computes from the rows below
        copies = {"type": rtype, "private": private, "created_at": created, "last_modified": modified,
                  "downloads": downloads, "likes": likes, "trending_score": trending}
        return {
            "repos": [{
                "id": rid, "type": rtype, "namespace": ns, "name": name, "private": private,
                "gated": rng.choice(("auto", "manual")) if rtype == "model" and rng.random() < 0.03 else "",
                "sdk": sdk, "created_at": created, "last_modified": modified, "head_sha": sha,
                "next_discussion": 1, "search_id": f"{ns}/{name}".lower(), "downloads": downloads,
                "downloads_all_time": downloads + int(downloads * 3 * rng.random()), "likes": likes,
                "trending_score": trending,
                "pipeline_tag": pipeline, "library_name": library,
                "used_storage": int(rng.paretovariate(0.7) * 1e5), "derived_sha": sha}],
            "repo_meta": [{"repo_id": rid, "card_data": card, "tags": tags, "config": config,
                           "transformers_info": transformers_info, "safetensors": safetensors, "error": None,
                           "listing": listing_fragment(rtype, tags, pipeline, library, card)}],
            "repo_tags": [{"repo_id": rid, "tag": t, **copies} for t in tags],
            "downloads_daily": daily,
        }


class Loader:
    """Rows into one table of either backend; secondary indexes dropped first and rebuilt at the end."""

    def __init__(self, db: Database) -> None:
        self.db = db
        if db.is_sqlite:
            self.raw: Any = db.engine.raw_connection()  # with hubd's own pragmas
            self.conn: Any = self.raw.driver_connection
        else:
            self.raw = self.conn = psycopg.connect(make_url(db.url).set(drivername="postgresql")
                                                   .render_as_string(hide_password=False), autocommit=True)
        self.saved: list[tuple[str, str]] = []
        self.triggers: list[tuple[str, str]] = []
        names = [t.name for t in TABLES]
        if db.is_sqlite:
            for stmt in ("PRAGMA synchronous=OFF", "PRAGMA foreign_keys=OFF", "PRAGMA cache_size=-1000000"):
                self.conn.execute(stmt)
            self.saved = self.conn.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND tbl_name IN "
                f"({','.join('?' * len(names))})", names).fetchall()
            self.triggers = self.conn.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name IN "
                f"({','.join('?' * len(names))})", names).fetchall()
            for name, _ in self.triggers:
                self.conn.execute(f'DROP TRIGGER "{name}"')
        else:
            self.conn.execute("SET maintenance_work_mem = '1GB'")
            self.conn.execute("SET synchronous_commit = off")
            with contextlib.suppress(psycopg.Error):  # no FK triggers while loading (superuser only)
                self.conn.execute("SET session_replication_role = replica")
            self.saved = self.conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint)", (names,)).fetchall()
        for name, _ in self.saved:
            self.conn.execute(f'DROP INDEX "{name}"')
        # columns this script does not know: their Python default if any, else left to the database
        self.defaults = {t.name: {k: v for c in t.columns for k, v in _default(t, c.name).items()} for t in TABLES}
        self.columns = {t.name: [c.name for c in t.columns if c.name in KNOWN[t.name] | self.defaults[t.name].keys()]
                        for t in TABLES}
        self.json_cols = {t.name: {c.name for c in t.columns if isinstance(c.type, JSON)} for t in TABLES}

    def _tuples(self, table: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        cols, js, dflt = self.columns[table], self.json_cols[table], self.defaults[table]
        out = []
        for r in rows:
            values = ((c, r[c] if c in r else dflt[c]) for c in cols)
            out.append(tuple(json.dumps(v) if c in js and v is not None else v for c, v in values))
        return out

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols, data = self.columns[table], self._tuples(table, rows)
        if self.db.is_sqlite:
            self.conn.execute("BEGIN")
            self.conn.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                                  data)
            self.conn.execute("COMMIT")
        else:
            with self.conn.cursor().copy(f"COPY {table} ({','.join(cols)}) FROM STDIN") as cp:
                for row in data:
                    cp.write_row(row)

    def finish(self) -> None:
        for _, sql in self.saved:
            self.conn.execute(sql)
        if self.db.is_sqlite:
            for _, sql in self.triggers:
                self.conn.execute(sql)
            if self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'repo_fts'").fetchone():
                self.conn.execute("INSERT INTO repo_fts(repo_fts) VALUES ('rebuild')")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            self.conn.execute("SET session_replication_role = DEFAULT")
            for t in TABLES:
                if "id" in t.c and t.c.id.primary_key:  # serials continue after the ids given here
                    self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                                      f"(SELECT coalesce(max(id), 0) + 1 FROM {t.name}), false)")
            # what autovacuum does shortly after a bulk load: statistics, and the visibility map that lets
            # the tag and sort indexes answer without visiting the heap (index-only scans)
            self.conn.execute(f"VACUUM (ANALYZE) {', '.join(t.name for t in TABLES)}")
        self.raw.close()


def _default(table: Table, col: str) -> dict[str, Any]:
    """{col: value} of a Python-side default (scalar or callable), else {}."""
    d = table.c[col].default
    if getattr(d, "is_scalar", False):
        return {col: d.arg}  # type: ignore[union-attr]
    if getattr(d, "is_callable", False):
        return {col: d.arg(None)}  # type: ignore[union-attr]
    return {}


def seed(url: str, count: int, seed: int = 1, namespaces: int = 50_000, quiet: bool = False) -> float:
    """Create hubd's schema at url and fill it; return the seconds it took."""
    started = time.perf_counter()
    db = Database(url)
    db.create_schema()
    gen = Generator(count, seed, namespaces, time.time())
    loader = Loader(db)
    loader.insert("accounts", list(gen.accounts()))
    for lo in range(1, count + 1, BATCH):
        batch: dict[str, list[dict[str, Any]]] = {t: [] for t in ("repos", "repo_meta", "repo_tags", "downloads_daily")}
        for rid in range(lo, min(lo + BATCH, count + 1)):
            for table, rows in gen.repo(rid).items():
                batch[table] += rows
        for table, rows in batch.items():
            loader.insert(table, rows)
        if not quiet and (lo // BATCH) % 10 == 9:
            print(f"  {lo + BATCH - 1:>9,} repos  {time.perf_counter() - started:6.1f} s", flush=True)
    index_started = time.perf_counter()
    loader.finish()
    db.dispose()
    elapsed = time.perf_counter() - started
    if not quiet:
        print(f"indexes rebuilt in {time.perf_counter() - index_started:.1f} s")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True, help="sqlite:////abs/path.db or postgresql://user@host/db")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--namespaces", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    elapsed = seed(args.database_url, args.count, args.seed, args.namespaces)
    backend = make_url(args.database_url).get_backend_name()
    print(f"seeded {args.count:,} repos into {backend} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
