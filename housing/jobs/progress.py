"""Where a running job's progress is written, so a page sees it while the job's own
transaction is still open.

The job's work and its result commit together at the end (all or nothing: a batch is
built whole or not at all), so its progress cannot go through that transaction. It is
written on a separate, short one:

- PostgreSQL: on another connection of the same engine, into the job's own row
  (`RowProgress`); many writers at once are what PostgreSQL does.
- SQLite (the embedded default): the database has one writer at a time, and the job's
  transaction holds that lock from its first write to its commit, so no other connection
  can write the job row meanwhile. The progress goes to a small SQLite file of its own
  beside the database (`FileProgress`, "<database>-progress"), whose lock only these
  few-millisecond writes take. Why not Redis: the embedded default runs without a server.
  Why not commit the job in chunks: its work must stay all or nothing (a half-built batch,
  a half-imported statement). The page reads the job row, and while the job runs the
  figures from that file; the job's last figures go into its row when it finishes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError

from housing.clock import utcnow
from housing.db import SQLITE_BUSY_TIMEOUT_MS
from housing.jobs.models import Job, JobStatus
from housing.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Reported:
    """One progress report of one run (attempt) of a job."""

    attempt: int
    done: int
    total: int
    message: str | None
    at: dt.datetime


class ProgressStore(Protocol):
    def write(self, job_id: int, report: Reported) -> bool:
        """Save the report at once; False when the run no longer owns the job."""

    def read(self, job_id: int) -> Reported | None:
        """The latest report of the job, if this store keeps it apart from the row."""


class RowProgress:
    """PostgreSQL: the job's row, updated and committed on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, job_id: int, report: Reported) -> bool:
        values: dict[str, Any] = {"progress_done": report.done, "progress_total": report.total}
        if report.message is not None:
            values["message"] = report.message
        try:
            with self.engine.begin() as connection:
                updated = connection.execute(
                    update(Job)
                    .where(
                        Job.id == job_id,
                        Job.attempts == report.attempt,
                        Job.status == JobStatus.RUNNING,
                    )
                    .values(**values)
                ).rowcount
        except OperationalError as exc:
            # Progress is for the eye only: the job does not fail because it was not shown.
            log.warning("job.progress_not_saved", job_id=job_id, error=type(exc).__name__)
            return True
        return bool(updated)

    def read(self, job_id: int) -> Reported | None:
        return None  # the row holds it


class FileProgress:
    """SQLite: a small database file of its own, one row per job, its latest report."""

    def __init__(self, path: Path, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.path = path
        self.clock = clock
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        connection.execute("PRAGMA journal_mode=WAL")
        if not self._ready:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS job_progress ("
                " job_id INTEGER PRIMARY KEY, attempt INTEGER NOT NULL,"
                " done INTEGER NOT NULL, total INTEGER NOT NULL, message TEXT,"
                " reported_at TEXT NOT NULL)"
            )
            connection.commit()
            self._ready = True
        return connection

    def write(self, job_id: int, report: Reported) -> bool:
        try:
            connection = self._connect()
            try:
                with connection:
                    connection.execute(
                        "INSERT INTO job_progress"
                        " (job_id, attempt, done, total, message, reported_at)"
                        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET"
                        " attempt = excluded.attempt, done = excluded.done,"
                        " total = excluded.total, message = excluded.message,"
                        " reported_at = excluded.reported_at"
                        " WHERE excluded.attempt >= job_progress.attempt",
                        (
                            job_id,
                            report.attempt,
                            report.done,
                            report.total,
                            report.message,
                            report.at.isoformat(),
                        ),
                    )
            finally:
                connection.close()
        except sqlite3.Error as exc:
            log.warning("job.progress_not_saved", job_id=job_id, error=type(exc).__name__)
        # Whether a later run took the job over shows when this one finishes (the row's
        # attempt is checked then); the main database cannot be read fresh from here.
        return True

    def read(self, job_id: int) -> Reported | None:
        if not self.path.exists():
            return None
        try:
            connection = self._connect()
            try:
                row = connection.execute(
                    "SELECT attempt, done, total, message, reported_at FROM job_progress"
                    " WHERE job_id = ?",
                    (job_id,),
                ).fetchone()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            log.warning("job.progress_not_read", job_id=job_id, error=type(exc).__name__)
            return None
        if row is None:
            return None
        attempt, done, total, message, at = row
        return Reported(attempt, done, total, message, dt.datetime.fromisoformat(at))


def progress_store(engine: Engine) -> ProgressStore | None:
    """The store for the database behind `engine`; None where none can be kept (SQLite in
    memory, whose connections share no file)."""
    if engine.dialect.name != "sqlite":
        return RowProgress(engine)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return FileProgress(Path(f"{database}-progress"))
