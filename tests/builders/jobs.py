"""Jobs and their outbox messages, run and read in the test's own transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.clock import utcnow
from housing.jobs.kinds import default_kinds
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import JobContext
from housing.outbox.models import OutboxMessage


def run_job_here(session: Session, job_id: int) -> tuple[dict, list[tuple[int, int]]]:
    """Run a queued job's runner in the test's own transaction, as a worker would.

    The worker's bookkeeping (running, progress on a second connection) cannot see rows
    of a test that never commits; the runner itself is the real one.
    """
    job = session.get(Job, job_id)
    assert job is not None and job.status is JobStatus.QUEUED
    progress: list[tuple[int, int]] = []
    context = JobContext(
        job_id=job.id,
        organisation_id=job.organisation_id,
        created_by_id=job.created_by_id,
        params=dict(job.params or {}),
        session=session,
        progress=lambda done, total, message=None: progress.append((done, total)),
    )
    result = dict(default_kinds()[job.kind].runner(context))
    job.status = JobStatus.SUCCEEDED
    job.result = result
    job.progress_total = job.progress_done = progress[-1][1] if progress else 0
    job.finished_at = utcnow()
    session.commit()
    return result, progress


def outbox_message(session: Session, job_id: int) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.key == f"job:{job_id}")
        .execution_options(populate_existing=True)
    ).one_or_none()
