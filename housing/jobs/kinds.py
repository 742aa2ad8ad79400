"""The kinds of job there are: each area registers its own with `@job_kind`.

To add one (a payment batch, a statement import):

1. In your area, write a runner: `def build(context: JobContext) -> Mapping[str, Any]`.
   It reads `context.params` (the ids and dates given to `JobService.start`), does its
   work on `context.session` without committing, calls `context.progress(done, total)`
   after each batch, and returns the result: figures and ids only, never case data. Raise
   `JobFailed(_("..."))` to fail with a message the user may read; any other exception
   fails the job with a generic one. Either way the job is not retried.
2. Register it with `@job_kind(name, roles=..., title=...)`: the roles that may start it
   and see every job of its kind in their organisation, a title and, if you like, a
   template that shows the result (see housing/audit/jobs.py).
3. Make sure the module is imported with the rest of the area (housing/models.py lists
   the modules that register something), and start it from a view with
   `JobService(db.session).start(scope, user, "your_kind", params)`.

The registry lives here, below the areas, so that housing.jobs never imports them: an
area that has a job imports housing.jobs, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from flask_babel import LazyString

from housing.jobs.services import JobKind, Runner
from housing.roles import Role

_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str,
    *,
    roles: frozenset[Role],
    title: LazyString,
    unit: LazyString | None = None,
    result_template: str | None = None,
) -> Callable[[Runner], Runner]:
    """Register the decorated runner as the job kind `name`."""

    def register(runner: Runner) -> Runner:
        if name in _KINDS:
            raise RuntimeError(f"job kind {name!r} is registered twice")
        _KINDS[name] = JobKind(
            name=name,
            runner=runner,
            roles=roles,
            title=title,
            unit=unit,
            result_template=result_template,
        )
        return runner

    return register


def default_kinds() -> Mapping[str, JobKind]:
    """Every registered kind by name (complete once housing.models is imported)."""
    return MappingProxyType(_KINDS)
