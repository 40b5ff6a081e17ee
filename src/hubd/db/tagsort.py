"""The sort keys a `repo_tags` row carries: copies of its repo's type, visibility and sort columns, kept by
triggers (so no write path can forget them) on both engines, and indexed as (tag, type, private, key, id)
so that a listing by tag in any order reads its page off one index (hub/listing.py).

- a tag row that is inserted takes its repo's current values (PostgreSQL: BEFORE INSERT sets them; SQLite,
  which cannot change NEW, updates the new row right after);
- a change to a repo's copied columns is copied to its tag rows (PostgreSQL: one set-based UPDATE per
  statement from its transition tables, so a recount of 400k repos is one join, not 400k statements; SQLite:
  per row and per changed column, in-process).

What it costs: every tag row of a repo whose downloads or trending score change is rewritten too (~7 per repo)
with its index entries: PostgreSQL (whose non-HOT update writes every index of the row) 0.31 -> 1.6 ms per
single-repo download count, a recount of 450k repos 57 s -> 4 min 43 s at 1M; SQLite 27 -> 135 us and
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
_PG_TRIGGERS = ("hubd_tagsort_fill", "hubd_tagsort_copy")


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
    assign = ", ".join(f"{c} = n.{c}" for c in COPIED)
    changed = f"({', '.join('n.' + c for c in COPIED)}) IS DISTINCT FROM ({', '.join('o.' + c for c in COPIED)})"
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
      UPDATE repo_tags t SET {assign} FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE t.repo_id = n.id AND {changed};
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

        if present() >= set(_PG_TRIGGERS):
            return
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
        have = present()
        for stmt in _pg_functions():
            conn.exec_driver_sql(stmt)
        if "hubd_tagsort_fill" not in have:
            conn.exec_driver_sql("CREATE TRIGGER hubd_tagsort_fill BEFORE INSERT ON repo_tags "
                                 "FOR EACH ROW EXECUTE FUNCTION hubd_tagsort_fill()")
        if "hubd_tagsort_copy" not in have:
            # a statement trigger with transition tables (which PostgreSQL allows only without a column list)
            conn.exec_driver_sql("CREATE TRIGGER hubd_tagsort_copy AFTER UPDATE ON repos "
                                 "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
                                 "FOR EACH STATEMENT EXECUTE FUNCTION hubd_tagsort_copy()")
