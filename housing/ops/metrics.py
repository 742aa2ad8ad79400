"""The metrics read from the database at each scrape: the outbox, the jobs and the workers'
heartbeats, over all organisations, as counts and durations only (no message, no case).

A scrape costs the same five statements however many rows there are: two for the outbox
(`outbox_summary`, as the health probe reads it), two for the jobs and one for the
heartbeats. The database is the truth for all three: the workers that run jobs and send
messages may be on other machines, and every web process reads the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Float, and_, case, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute

from housing.db import DbSession
from housing.jobs.models import FINISHED, Job, JobStatus
from housing.ops.models import WorkerHeartbeat
from housing.ops.services import LIVE_WITHIN, outbox_summary

# Jobs run from seconds (a small batch) to an hour (a statement of 50,000 entries).
JOB_DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def _seconds_between(
    session: DbSession,
    start: InstrumentedAttribute[dt.datetime | None],
    end: InstrumentedAttribute[dt.datetime | None],
) -> ColumnElement[Any]:
    """`end - start` in seconds, as the database in use counts it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    # SQLite (the embedded default) keeps moments as text: Julian days, in seconds.
    return (func.julianday(end) - func.julianday(start)) * 86400.0


class DatabaseMetrics(Collector):
    """The figures of the outbox, the jobs and the workers, read when collected."""

    def __init__(self, session: DbSession, now: dt.datetime) -> None:
        self.session = session
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        yield from self._outbox()
        yield from self._jobs()
        yield from self._workers()

    def _outbox(self) -> Iterator[GaugeMetricFamily]:
        summary = outbox_summary(self.session, self.now)
        yield GaugeMetricFamily(
            "housing_outbox_pending_messages",
            "Outbox messages waiting to be acted on.",
            value=summary["pending"] or 0,
        )
        yield GaugeMetricFamily(
            "housing_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox message (0 when none is pending).",
            value=summary["oldest_pending_age_seconds"] or 0,
        )
        yield GaugeMetricFamily(
            "housing_outbox_dead_messages",
            "Outbox messages parked as dead after their last attempt.",
            value=summary["dead"] or 0,
        )

    def _jobs(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        open_jobs = GaugeMetricFamily(
            "housing_jobs", "Jobs not finished, by status.", labels=["status"]
        )
        counted = {
            status: n
            for status, n in self.session.execute(
                select(Job.status, func.count())
                .where(Job.status.not_in(FINISHED))
                .group_by(Job.status)
            )
        }
        for status in (JobStatus.QUEUED, JobStatus.RUNNING):
            open_jobs.add_metric([status.value], counted.get(status, 0))
        yield open_jobs

        # Every finished job's run, bucketed in the database: one row per kind and outcome.
        seconds = cast(_seconds_between(self.session, Job.started_at, Job.finished_at), Float)
        columns = [func.count(), func.coalesce(func.sum(seconds), 0.0)]
        columns += [
            func.sum(case((seconds <= bound, 1), else_=0)) for bound in JOB_DURATION_BUCKETS
        ]
        rows = self.session.execute(
            select(Job.kind, Job.status, *columns)
            .where(and_(Job.started_at.is_not(None), Job.finished_at.is_not(None)))
            .group_by(Job.kind, Job.status)
            .order_by(Job.kind, Job.status)
        ).all()
        durations = HistogramMetricFamily(
            "housing_job_duration_seconds",
            "How long finished jobs ran, from their start to their end, by kind and outcome.",
            labels=["kind", "status"],
        )
        for kind, status, count, total, *within in rows:
            buckets = [
                (_bound(bound), int(n or 0))
                for bound, n in zip(JOB_DURATION_BUCKETS, within, strict=True)
            ]
            buckets.append(("+Inf", int(count)))
            durations.add_metric([kind, JobStatus(status).value], buckets, float(total))
        yield durations

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        seen = GaugeMetricFamily(
            "housing_worker_heartbeat_timestamp_seconds",
            "When each Celery worker last ran its heartbeat task (Unix time).",
            labels=["worker"],
        )
        age = GaugeMetricFamily(
            "housing_worker_heartbeat_age_seconds",
            "Seconds since each Celery worker's last heartbeat.",
            labels=["worker"],
        )
        live = 0
        for worker, seen_at in self.session.execute(
            select(WorkerHeartbeat.worker, WorkerHeartbeat.seen_at).order_by(WorkerHeartbeat.worker)
        ):
            seen.add_metric([worker], seen_at.timestamp())
            age.add_metric([worker], max((self.now - seen_at).total_seconds(), 0.0))
            live += self.now - seen_at <= LIVE_WITHIN
        yield seen
        yield age
        yield GaugeMetricFamily(
            "housing_workers_live",
            f"Workers with a heartbeat in the last {int(LIVE_WITHIN.total_seconds())} seconds.",
            value=live,
        )


def _bound(bound: float) -> str:
    # Prometheus writes bucket bounds as floats ("1.0"), as prometheus-client's own do.
    return str(float(bound))
