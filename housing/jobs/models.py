"""Job: one piece of long work a person started, with its progress and its result."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from housing.db import Base, created_at, intpk, str_enum


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # written with its outbox message; no worker has it yet
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("progress_done >= 0", name="progress_done_not_negative"),
        CheckConstraint("progress_total >= 0", name="progress_total_not_negative"),
        CheckConstraint("progress_done <= progress_total", name="progress_within_total"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # A finished job says when it finished, and only a finished one does.
        CheckConstraint(
            "(status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)",
            name="finished_at_when_finished",
        ),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # A registered job kind (housing.jobs.kinds); the runner and who may see it follow from it.
    kind: Mapped[str] = mapped_column(String(60))
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # Shown on the job page as it is: short, and never case data.
    message: Mapped[str | None] = mapped_column(String(200))
    # What the job was asked to do: ids and dates only, like an outbox payload.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Figures and ids for the result page, never case data.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How often a worker started it: more than once only after an interrupted run.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[created_at]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
