"""Celery: the app bound to Flask, its tasks and the beat schedule.

Arrows point one way: workers import housing, housing never imports workers.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    """The Flask–Celery integration of pallets' examples/celery: tasks run in an app context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.beat_schedule = beat_schedule()
    celery_app.set_default()
    celery_app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    app.extensions["celery"] = celery_app
    return celery_app


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        # Each worker that picks this up records that it is alive (health endpoint).
        "heartbeat": {"task": "workers.tasks.heartbeat", "schedule": 60.0},
    }
