"""Start jobs with the change that asks for them; run each once; show progress as it happens.

Starting: `JobService.start` writes the `Job` row and an outbox message (topic "job", key
`job:{id}`) in the caller's transaction, so the work is asked for if and only if the caller
commits; `housing` never calls Celery itself (DESIGN.md §4).

Running: the outbox consumer calls `run_job` (a `JobRunner`) once per delivery, inside its
own transaction on the worker's session. The runner of the job's kind does the work in that
transaction, so what it writes commits together with the job's result and the outbox
message's "done": all of it or nothing. Progress cannot wait for that commit (the page
must see it while the job runs), so "running" is committed on a separate connection of the
same engine, and each progress report where a page can read it at once, in a transaction
of a few milliseconds (housing/jobs/progress.py: the job's row on PostgreSQL, a small file
of its own beside the database on SQLite). The page shows done of total, the percentage,
the time taken and an estimate of the time left (`JobService.progress`).

Failing: an exception from the runner rolls back what the runner wrote (a SAVEPOINT), marks
the job failed with a message safe to show, and returns normally, so the outbox message is
done and the job is not retried. Someone is watching the page: an automatic retry minutes
or hours later (the outbox backs off up to an hour) would keep them waiting for work that
fails the same way each time (bad input, data that does not fit), and would repeat it
behind their back; they can start it again. Only when the job's own bookkeeping fails (the
database is gone) does the exception reach the outbox, which retries the delivery.

Delivered twice: a finished job is left as it is. A run that was interrupted (a worker
killed) is started again by the next delivery, at most `MAX_STARTS` times; each start
counts in `Job.attempts`, and a run that finds a later start in its place stops
(`JobSuperseded`) and writes nothing.

Adding a kind of job: see housing/jobs/kinds.py, where each area registers its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from flask_babel import LazyString, force_locale
from flask_babel import gettext as _
from sqlalchemy import Connection, CursorResult, Engine, select, update

from housing.accounts.models import User
from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import Forbidden, InvalidInput, NotFound
from housing.i18n import locale_of
from housing.jobs.models import FINISHED, Job, JobStatus
from housing.jobs.progress import ProgressStore, Reported, progress_store
from housing.logging import get_logger
from housing.outbox.handlers import outbox_handler
from housing.outbox.models import OutboxMessage
from housing.outbox.services import Outbox
from housing.roles import Role
from housing.scoping import Scope

log = get_logger(__name__)

TOPIC = "job"
# A job whose worker dies under it this often (out of memory, say) will not get better.
MAX_STARTS = 3
MESSAGE_LENGTH = 200


class JobFailed(Exception):
    """Raised by a runner to fail its job with `message`, translated and safe to show."""


class JobSuperseded(Exception):
    """This run no longer owns its job: a later delivery started it again, or it finished.

    Runners must let it pass (do not catch `Exception` around `progress`)."""


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str | None = None) -> None: ...


@dataclass(frozen=True)
class JobContext:
    """What a runner gets: the job's ids and parameters, a session, and `progress`."""

    job_id: int
    organisation_id: int
    created_by_id: int
    params: Mapping[str, Any]
    # The worker's session: what the runner writes commits with the job's result.
    session: DbSession
    # Commits at once on a separate connection; call it every batch, not every row.
    progress: Progress
    clock: Callable[[], dt.datetime] = utcnow


Runner = Callable[[JobContext], Mapping[str, Any]]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its runner, who may start it, and how its page shows it."""

    name: str
    runner: Runner
    # Who may start one, and see every job of this kind in their organisation; whoever
    # started a job always sees it.
    roles: frozenset[Role]
    # Lazy strings (`_l`): translated when the page is shown, in the reader's language.
    title: LazyString
    # What the progress numbers count ("events checked"); None: plain numbers.
    unit: LazyString | None = None
    # Renders `job.result` on the job page; it gets `job` and `result`.
    result_template: str | None = None


def kinds_by_name(*kinds: JobKind) -> Mapping[str, JobKind]:
    by_name: dict[str, JobKind] = {}
    for kind in kinds:
        if kind.name in by_name:
            raise RuntimeError(f"job kind {kind.name!r} is registered twice")
        by_name[kind.name] = kind
    return by_name


def _default_kinds() -> Mapping[str, JobKind]:
    # kinds.py imports this module for JobKind; looked up when used, not at import.
    from housing.jobs.kinds import default_kinds

    return default_kinds()


def engine_of(session: DbSession) -> Engine:
    """The engine behind a session, also when the session is bound to one connection."""
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


class JobService:
    """Start jobs and look them up, within a scope. Never commits."""

    def __init__(
        self,
        session: DbSession,
        clock: Callable[[], dt.datetime] = utcnow,
        kinds: Mapping[str, JobKind] | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.kinds = _default_kinds() if kinds is None else kinds

    def start(
        self, scope: Scope, user: User, kind: str, params: Mapping[str, Any] | None = None
    ) -> Job:
        """Write the job and the outbox message that asks a worker to run it."""
        job_kind = self.kinds.get(kind)
        if job_kind is None:
            raise InvalidInput(_("There is no such kind of job."))
        if scope.user_id != user.id or scope.organisation_id is None:
            raise Forbidden(_("Your role does not allow this."))
        if not scope.roles & job_kind.roles:
            raise Forbidden(_("Your role does not allow this."))
        job = Job(
            organisation_id=scope.organisation_id,
            kind=kind,
            status=JobStatus.QUEUED,
            progress_done=0,
            progress_total=0,
            params=dict(params or {}),
            attempts=0,
            created_by_id=user.id,
            created_at=self.clock(),
        )
        self.session.add(job)
        self.session.flush()
        Outbox(self.session, self.clock).add(
            key=f"job:{job.id}",
            topic=TOPIC,
            payload={"job_id": job.id},
            organisation_id=job.organisation_id,
        )
        log.info("job.queued", job_id=job.id, kind=kind, organisation_id=job.organisation_id)
        return job

    def get(self, scope: Scope, job_id: int) -> Job:
        """The job as it is now in the database, if the scope may see it."""
        job = self.session.scalars(
            scope.select(Job)
            .where(Job.id == job_id)
            # Workers write the row from other connections while the page watches it.
            .execution_options(populate_existing=True)
        ).one_or_none()
        if job is None:
            raise NotFound(_("There is no such job, or you have no access to it."))
        return job

    def recent(self, scope: Scope, kind: str, *, limit: int = 5) -> Sequence[Job]:
        return self.session.scalars(
            scope.select(Job)
            .where(Job.kind == kind)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(limit)
            .execution_options(populate_existing=True)
        ).all()

    def progress(self, job: Job) -> JobProgress:
        """The job's figures now: its row, or while it runs its latest report where that
        is kept apart (SQLite), with the time taken and an estimate of the time left."""
        done, total, message = job.progress_done, job.progress_total, job.message
        if job.status is JobStatus.RUNNING:
            store = progress_store(engine_of(self.session))
            report = store.read(job.id) if store is not None else None
            if report is not None and report.attempt == job.attempts:
                done, total = report.done, report.total
                message = report.message if report.message is not None else message
        started = job.started_at
        end = job.finished_at if job.finished else self.clock()
        elapsed = (end - started) if started is not None and end is not None else None
        remaining = None
        if job.status is JobStatus.RUNNING and elapsed is not None and 0 < done < total:
            remaining = elapsed * (total - done) / done
        return JobProgress(done, total, message, started, elapsed, remaining)

    def kind_of(self, job: Job) -> JobKind | None:
        return self.kinds.get(job.kind)


class _Progress:
    """Progress of one run, saved at once where a page can read it (housing.jobs.progress)."""

    def __init__(
        self,
        store: ProgressStore | None,
        job_id: int,
        attempt: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.attempt = attempt
        self.clock = clock
        self.last: Reported | None = None

    def __call__(self, done: int, total: int, message: str | None = None) -> None:
        if done < 0 or total < 0:
            raise ValueError("progress is counted from zero")
        # A total estimated at the start may grow while the job runs (new rows arrive).
        report = Reported(
            attempt=self.attempt,
            done=done,
            total=max(total, done),
            message=message[:MESSAGE_LENGTH] if message is not None else None,
            at=self.clock(),
        )
        self.last = report
        if self.store is not None and not self.store.write(self.job_id, report):
            raise JobSuperseded(self.job_id)


@dataclass(frozen=True)
class JobProgress:
    """What the job page shows of a job's progress, as it is now."""

    done: int
    total: int
    message: str | None
    started_at: dt.datetime | None
    # Until it finished, or now.
    elapsed: dt.timedelta | None
    # Estimated from the pace so far; None before the first figure or once finished.
    remaining: dt.timedelta | None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)


class JobRunner:
    """The outbox handler for topic "job": run the job named in the message, once."""

    def __init__(
        self,
        kinds: Mapping[str, JobKind] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._kinds = kinds
        self.clock = clock

    @property
    def kinds(self) -> Mapping[str, JobKind]:
        # Looked up per call, not at import: handlers are built before all kinds import.
        return _default_kinds() if self._kinds is None else self._kinds

    def __call__(self, session: DbSession, message: OutboxMessage) -> None:
        job_id = int(message.payload["job_id"])
        row = session.execute(
            select(
                Job.status,
                Job.kind,
                Job.attempts,
                Job.organisation_id,
                Job.created_by_id,
                Job.params,
                User.language,
            )
            .join(User, User.id == Job.created_by_id)
            .where(Job.id == job_id)
        ).one_or_none()
        if row is None:
            log.warning("job.missing", job_id=job_id)
            return
        if row.status in FINISHED:
            return  # a second delivery of a finished job changes nothing
        with force_locale(locale_of(row.language.value)):
            self._run(session, job_id, row)

    def _run(self, session: DbSession, job_id: int, row: Any) -> None:
        kind = self.kinds.get(row.kind)
        if kind is None:
            self._finish(session, job_id, None, JobStatus.FAILED, message=_("Unknown job."))
            log.error("job.unknown_kind", job_id=job_id, kind=row.kind)
            return
        if row.attempts >= MAX_STARTS:
            self._finish(
                session,
                job_id,
                None,
                JobStatus.FAILED,
                message=_("The job was interrupted too often. Please start it again."),
            )
            log.error("job.interrupted_too_often", job_id=job_id, kind=row.kind)
            return
        engine = engine_of(session)
        attempt = self._mark_running(engine, job_id)
        if attempt is None:
            return  # finished meanwhile, by an earlier delivery
        log.info("job.started", job_id=job_id, kind=kind.name, attempt=attempt)
        progress = _Progress(progress_store(engine), job_id, attempt, self.clock)
        context = JobContext(
            job_id=job_id,
            organisation_id=row.organisation_id,
            created_by_id=row.created_by_id,
            params=dict(row.params or {}),
            session=session,
            progress=progress,
            clock=self.clock,
        )
        try:
            # The runner's writes sit in a SAVEPOINT: a failing runner leaves nothing behind,
            # and the job's "failed" still commits with the outbox message's "done".
            with session.begin_nested():
                result = dict(kind.runner(context))
                if not self._finish(
                    session, job_id, attempt, JobStatus.SUCCEEDED, result, last=progress.last
                ):
                    raise JobSuperseded(job_id)
        except JobSuperseded:
            log.warning("job.superseded", job_id=job_id, attempt=attempt)
            return
        except JobFailed as exc:
            failure: str | None = str(exc) or None
            log.warning("job.failed", job_id=job_id, kind=kind.name, error="JobFailed")
        except Exception as exc:  # any bug or bad data: the job fails, the worker goes on
            # The exception's text may quote case data; the page shows a generic message.
            failure = None
            log.warning("job.failed", job_id=job_id, kind=kind.name, error=type(exc).__name__)
        else:
            log.info("job.succeeded", job_id=job_id, kind=kind.name, attempt=attempt)
            return
        self._finish(
            session, job_id, attempt, JobStatus.FAILED, message=failure, last=progress.last
        )

    def _mark_running(self, engine: Engine, job_id: int) -> int | None:
        """Commit "running" at once (the page shows it); returns this run's attempt number."""
        with engine.begin() as connection:
            return connection.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
                .values(
                    status=JobStatus.RUNNING,
                    attempts=Job.attempts + 1,
                    started_at=self.clock(),
                    progress_done=0,
                    message=None,
                )
                .returning(Job.attempts)
            ).scalar_one_or_none()

    def _finish(
        self,
        session: DbSession,
        job_id: int,
        attempt: int | None,
        status: JobStatus,
        result: Mapping[str, Any] | None = None,
        *,
        message: str | None = None,
        last: Reported | None = None,
    ) -> bool:
        """Record the outcome in the consumer's transaction; False if the job is not ours."""
        values: dict[str, Any] = {
            "status": status,
            "finished_at": self.clock(),
            "message": message[:MESSAGE_LENGTH] if message else None,
        }
        if last is not None:
            # The last figures into the row (on SQLite they were kept apart while it ran);
            # a failed job shows where it stopped.
            values.update(progress_done=last.done, progress_total=last.total)
        if status is JobStatus.SUCCEEDED and last is not None:
            values.update(result=dict(result or {}), progress_done=last.total)
        elif status is JobStatus.SUCCEEDED:
            # Done is done: the bar is full even if the runner stopped counting early.
            values.update(result=dict(result or {}), progress_done=Job.progress_total)
        query = update(Job).where(Job.id == job_id, Job.status.not_in(list(FINISHED)))
        if attempt is not None:
            query = query.where(Job.attempts == attempt)
        # An UPDATE returns a CursorResult; Session.execute is typed for any statement.
        result_of = cast(
            "CursorResult[Any]",
            session.execute(query.values(**values).execution_options(synchronize_session=False)),
        )
        return bool(result_of.rowcount)


@outbox_handler(TOPIC)
def run_job(session: DbSession, message: OutboxMessage) -> None:
    """The outbox handler for topic "job", with the registered kinds."""
    JobRunner()(session, message)
