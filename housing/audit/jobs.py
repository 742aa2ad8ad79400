"""The auditor's job: verify the organisation's audit chain from the UI, with progress."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from housing.audit.services import AuditTrail, chain_length
from housing.db import DbSession
from housing.jobs.kinds import job_kind
from housing.jobs.services import JobContext, engine_of
from housing.roles import Role

AUDIT_VERIFY = "audit_verify"
# Progress is committed once per this many links: a few dozen writes for a long chain.
PROGRESS_EVERY = 500


@contextmanager
def snapshot(session: DbSession) -> Iterator[Session]:
    """A read-only session that sees the database as it was when it began.

    The chain grows while it is checked (claims move on). Read committed, the walk would
    stop at the links there were when it started and then find a head that had moved on,
    and report links as removed that were only added. One snapshot sees links and head as
    they were together.
    """
    engine = engine_of(session)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    with Session(engine) as reader:
        try:
            yield reader
        finally:
            reader.rollback()


@job_kind(
    AUDIT_VERIFY,
    roles=frozenset({Role.AUDITOR}),
    title=_l("Verification of the audit chain"),
    unit=_l("events checked"),
    result_template="jobs/results/audit_verify.html",
)
def verify_chain(context: JobContext) -> Mapping[str, Any]:
    """Walk the chain of the job's organisation; the result holds figures only."""
    organisation_id = context.organisation_id
    with snapshot(context.session) as reader:
        total = chain_length(reader, organisation_id)
        context.progress(0, total)
        report = AuditTrail(reader).verify(
            organisation_id,
            on_progress=lambda checked: context.progress(checked, total),
            every=PROGRESS_EVERY,
        )
    # What the verification report (a PDF for the auditor) states; hashes and times only.
    return {
        "intact": report.intact,
        "checked": report.checked,
        "first_broken_sequence": report.first_broken_sequence,
        "head_hash": report.head_hash,
        "first_at": report.first_at.isoformat() if report.first_at else None,
        "last_at": report.last_at.isoformat() if report.last_at else None,
        "verified_at": context.clock().isoformat(),
    }
