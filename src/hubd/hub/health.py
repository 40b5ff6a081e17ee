"""What the operations endpoints report: whether the database and storage answer, and the job queue."""

from __future__ import annotations

from sqlalchemy import text

from hubd.db.engine import Database
from hubd.jobs.queue import depth
from hubd.storage.blobstore import BlobStore


class Health:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def readiness(self) -> dict[str, str]:
        """"ok" or why not, for the database and for storage."""
        status = {}
        try:
            with self.db.read() as conn:
                conn.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised: this is the readiness probe
            status["database"] = f"unavailable: {type(exc).__name__}"
        try:
            # ready means writable: a full disk answers every upload 507, so the replica is not ready
            self.blobs.check_writable()
            status["storage"] = "ok"
        except Exception as exc:  # noqa: BLE001
            status["storage"] = f"unavailable: {type(exc).__name__}"
        return status

    def queue_depth(self) -> list[tuple[str, str, int]]:
        """(kind, state, count) of the jobs waiting or running."""
        return depth(self.db)
