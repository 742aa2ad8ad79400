"""Entry point for `celery -A workers.app worker|beat`."""

from housing import create_app

flask_app = create_app()
# create_app ran the workers plugin (entry point `housing.plugins`), which made the app.
celery_app = flask_app.extensions["celery"]
