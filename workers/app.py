"""Entry point for `celery -A workers.app worker|beat`."""

from housing import create_app
from housing.extensions import extension

flask_app = create_app()
# create_app ran the workers plugin (entry point `housing.plugins`) and built the Celery
# app the plugin left for its first use.
celery_app = extension(flask_app, "celery")
