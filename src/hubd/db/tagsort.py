"""The sort keys a `repo_tags` row carries: copies of its repo's type, visibility and sort columns, kept by
triggers (so no write path can forget them) on both engines, and indexed as (tag, type, private, key, id)
so that a listing by tag in any order reads its page off one index (hub/listing.py).

- a tag row that is inserted takes its repo's current values (PostgreSQL: BEFORE INSERT sets them; SQLite,
  which cannot change NEW, updates the new row right after);
- a change to a repo's copied columns is copied to its tag rows, per repo row (SQLite: and per changed
  column).

What it costs: every tag row of a repo whose downloads or trending score change is rewritten too (~7 per repo)
with its index entries: PostgreSQL (whose non-HOT update writes every index of the row) 0.31 -> ~1.0 ms per
single-repo download count, an UPDATE of 450k repos' downloads 57 s -> 4 min at 1M; SQLite 27 -> 135 us and
0.55 -> 4.7 s for 90k repos at 200k.

Under PostgreSQL's READ COMMITTED a tag insert and a concurrent repo update cannot miss each other as long as
the inserting transaction holds the repo's row lock: the derive job updates the repo row before it writes its
tags, so a concurrent update of the repo waits for it (and its trigger then sees the new tag rows) or went
first (and the insert reads its committed values).
"""

from __future__ import annotations

from sqlalchemy import Engine

COPIED = ("type", "private", "created_at", "last_modified", "downloads", "likes", "trending_score")
_LOCK_ID = 7243314  # replicas creating the PostgreSQL triggers together
_PG_TRIGGERS = ("hubd_tagsort_fill", "hubd_tagsort_repos")


def _sqlite_triggers() -> list[str]:
    cols = ", ".join(COPIED)
    out = [
        "DROP TRIGGER IF EXISTS tagsort_fill",
        f"""CREATE TRIGGER tagsort_fill AFTER INSERT ON repo_tags BEGIN
              UPDATE repo_tags SET ({cols}) = (SELECT {cols} FROM repos WHERE id = NEW.repo_id)
              WHERE repo_id = NEW.repo_id AND tag = NEW.tag AND EXISTS (SELECT 1 FROM repos WHERE id = NEW.repo_id);
            END""",
        "DROP TRIGGER IF EXISTS tagsort_copy",  # one trigger for all columns before: it rewrote every index
    ]
    # One per column: SQLite rewrites the indexes holding the columns an UPDATE sets, so a new download count
    # rewrites a tag row and its downloads index only (a recount of 90k repos: 4.7 s where setting all seven
    # copied columns took 20 s; 0.55 s without copies)
    for c in COPIED:
        out += [f"DROP TRIGGER IF EXISTS tagsort_copy_{c}",
                f"""CREATE TRIGGER tagsort_copy_{c} AFTER UPDATE OF {c} ON repos WHEN OLD.{c} IS NOT NEW.{c} BEGIN
                      UPDATE repo_tags SET {c} = NEW.{c} WHERE repo_id = NEW.id;
                    END"""]
    return out


def _pg_functions() -> list[str]:
    fill = "; ".join(f"NEW.{c} := r.{c}" for c in COPIED)
    assign = ", ".join(f"{c} = NEW.{c}" for c in COPIED)
    return [
        f"""CREATE OR REPLACE FUNCTION hubd_tagsort_fill() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE r record;
    BEGIN
      SELECT {', '.join(COPIED)} INTO r FROM repos WHERE id = NEW.repo_id;
      IF FOUND THEN {fill}; END IF;  -- no repo: the foreign key refuses the row
      RETURN NEW;
    END $$""",
        f"""CREATE OR REPLACE FUNCTION hubd_tagsort_copy() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE repo_tags SET {assign} WHERE repo_id = NEW.id;
      RETURN NULL;
    END $$""",
    ]


def create_tagsort_triggers(engine: Engine, is_sqlite: bool) -> None:
    """Idempotent; run at every start after the migrations (SQLite's are recreated each time: current bodies)."""
    with engine.begin() as conn:
        if is_sqlite:
            for stmt in _sqlite_triggers():
                conn.exec_driver_sql(stmt)
            return

        def present() -> set[str]:
            return {name for (name,) in conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'hubd_tagsort_%%'").all()}

        if present() == set(_PG_TRIGGERS):
            return
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
        # a statement trigger before, which PL/pgSQL planned once per connection for the row count of the first
        # statement it saw: after a recount, a one-repo update scanned the whole table
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS hubd_tagsort_copy ON repos")
        have = present()
        for stmt in _pg_functions():
            conn.exec_driver_sql(stmt)
        if "hubd_tagsort_fill" not in have:
            conn.exec_driver_sql("CREATE TRIGGER hubd_tagsort_fill BEFORE INSERT ON repo_tags "
                                 "FOR EACH ROW EXECUTE FUNCTION hubd_tagsort_fill()")
        if "hubd_tagsort_repos" not in have:
            # per row, WHEN a copied column changed: its UPDATE is planned for one repo_id (the primary key's
            # prefix), whichever statement fires it first on a connection
            changed = (f"({', '.join('OLD.' + c for c in COPIED)}) IS DISTINCT FROM "
                       f"({', '.join('NEW.' + c for c in COPIED)})")
            conn.exec_driver_sql(f"CREATE TRIGGER hubd_tagsort_repos AFTER UPDATE OF {', '.join(COPIED)} ON repos "
                                 f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION hubd_tagsort_copy()")
