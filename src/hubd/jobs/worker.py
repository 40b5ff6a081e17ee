"""The worker: a thread in every hubd process that claims jobs and runs them."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

from hubd.jobs.queue import Job, Postpone, claim, fail, finish, postpone

log = logging.getLogger("hubd.jobs")
Handler = Callable[[Job], None]


class BackgroundThread:
    """A daemon thread running `run` until `stop` (which waits for it up to 10 s)."""

    def __init__(self, name: str) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)


class Worker(BackgroundThread):
    def __init__(self, db, handlers: dict[str, Handler], idle_sleep: float = 0.5, name: str = "hubd-jobs") -> None:
        super().__init__(name)
        self.db = db
        self.handlers = handlers
        self.kinds = tuple(handlers)  # claims only the kinds it can run: other workers run the others
        self.idle_sleep = idle_sleep

    def run_once(self) -> bool:
        job = claim(self.db, self.kinds)
        if job is None:
            return False
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise RuntimeError(f"no handler for job kind {job.kind!r}")
            handler(job)
        except Postpone as later:
            postpone(self.db, job, later.delay)
        except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, the worker goes on
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            fail(self.db, job, "".join(traceback.format_exception(exc)))
        else:
            finish(self.db, job)
        return True

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable; try again
                log.exception("job worker error")
                busy = False
            if not busy:
                self.stop_event.wait(self.idle_sleep)


class Ticker(BackgroundThread):
    """Calls `fn` every `interval` seconds on a thread of its own: periodic work (flushing the download
    counters) keeps its pace while a worker spends minutes on one job (a parquet export)."""

    def __init__(self, fn: Callable[[], None], interval: float, name: str) -> None:
        super().__init__(name)
        self.fn = fn
        self.interval = interval

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable; next tick
                log.exception("%s failed", self.thread.name)


class Workers:
    """Several workers started and stopped together (the jobs worker, the webhook deliverers, tickers)."""

    def __init__(self, workers: list[BackgroundThread]) -> None:
        self.workers = workers

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def stop(self) -> None:
        for w in self.workers:
            w.stop_event.set()
        for w in self.workers:
            w.stop()
