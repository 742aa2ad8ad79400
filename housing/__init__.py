"""Veilig Wonen: claims for home-security measures of threatened Dutch office holders."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from flask import Flask

from housing.config import PROJECT_ROOT, Settings


def create_app(
    config: Mapping[str, Any] | None = None, *, on_demand: bool = False, surfaces: bool = True
) -> Flask:
    """Build the app: settings from the environment, then `config` overrides (tests).

    What a plugin leaves for its first use (`housing.extensions.on_first_use`: the Celery
    app) is built here, so that no request waits for it; with `on_demand`, the `housing`
    command's choice, it is built only if a command uses it. Without `surfaces` the app has
    no pages, API, sign-in or metrics: what an operator's command needs (its models,
    database, services and settings), for commands that serve nothing; it starts in about
    two thirds of the time.
    """
    settings = Settings.from_env()
    settings.validate()
    from housing.unit_of_work import UnitOfWorkFlask, install

    # Each request is one unit of work: it commits once at its end, or is undone.
    app = UnitOfWorkFlask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    from housing.ids import IdConverter

    # Before any route exists: every `<int:...>` is an id a row can have (else 404).
    app.url_map.converters["int"] = IdConverter
    app.config.from_mapping(settings.flask_config())
    if config:
        app.config.from_mapping(config)
    app.extensions["housing.settings"] = settings
    if surfaces:
        from housing.web import metrics

        # Each request's latency and /metrics; measured inside the proxy fix, if any.
        metrics.install(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address is what the proxies in front say, and only what they say
        # (the rate limits per address); a client's own X-Forwarded-For counts for nothing.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    install(app)
    from housing import inputs

    inputs.install(app)
    settings.instance_path.mkdir(parents=True, exist_ok=True)

    from housing import crypto

    crypto.configure(app.config["FIELD_ENCRYPTION_KEYS"])

    from housing import logging as housing_logging

    housing_logging.configure(app)

    from housing.db import db
    from housing.extensions import build_on_first_use, csrf, limiter, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)

    from housing import i18n

    i18n.init_app(app)

    if surfaces:
        from housing.web import auth

        auth.init_app(app)

        from housing.web import register_web

        register_web(app)

        from housing.api import register_api

        register_api(app)

    from housing import cli

    cli.register(app)

    from housing.notifications.mail import mail

    mail.init_app(app)

    import housing.models  # noqa: F401  (the models and their scope rules)

    # What the installation adds (the Celery app and its outbox relay, from workers/):
    # found by entry point, so housing never imports workers.
    for plugin in entry_points(group="housing.plugins"):
        plugin.load()(app)
    if not on_demand:
        build_on_first_use(app)

    return app
