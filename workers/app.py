"""Entry point for `celery -A workers.app worker|beat`."""

from housing import create_app
from workers import celery_init_app

flask_app = create_app()
celery_app = celery_init_app(flask_app)
