"""Task ids in the logs: each line a task writes says which task, and which run of it.

Bound with structlog's contextvars on `task_prerun` and reset on `task_postrun`. Reset,
not cleared: a task run eagerly inside a web request must give the request its own
context (its request id) back.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

import structlog
from celery.signals import task_postrun, task_prerun

# The tokens of each running task's binding, by task id; a worker process runs few at once.
_bound: dict[str, Mapping[str, contextvars.Token[Any]]] = {}


def bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None:
        return
    _bound[task_id] = structlog.contextvars.bind_contextvars(
        task_id=task_id, task_name=getattr(task, "name", None)
    )


def unbind_task(task_id: str | None = None, **_: Any) -> None:
    tokens = _bound.pop(task_id, None) if task_id is not None else None
    if tokens is None:
        return
    try:
        structlog.contextvars.reset_contextvars(**tokens)
    except ValueError:
        # Ended in another context than it began (a token belongs to its context):
        # at least do not leave this task's ids on the next one's lines.
        structlog.contextvars.unbind_contextvars("task_id", "task_name")


def install() -> None:
    """Connect once per process, however many Flask apps make a Celery app."""
    task_prerun.connect(bind_task, weak=False, dispatch_uid="housing.bind_task")
    task_postrun.connect(unbind_task, weak=False, dispatch_uid="housing.unbind_task")
