"""Extension objects, created unbound and initialised by the app factory; and extensions
that a plugin builds on first use (`on_first_use`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from housing.db import db

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
migrate = Migrate()
# No default limits: limits are set where guessing is the threat (login, tokens).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


# Under app.extensions: the builders of what is built on first use, by extension name.
ON_FIRST_USE = "housing.on_first_use"
_building = threading.RLock()


def on_first_use(app: Flask, name: str, build: Callable[[], object]) -> None:
    """Let `extension(app, name)` build `app.extensions[name]` with `build()` when first asked.

    For an extension that is slow to load and that not every use of the app needs (the
    workers plugin's Celery app): the `housing` command builds it only for a command that
    uses it; a served app builds it at start (`build_on_first_use`), so no request waits.
    """
    app.extensions.setdefault(ON_FIRST_USE, {})[name] = build


def extension(app: Flask, name: str) -> Any:
    """`app.extensions[name]`, built now if it was left for its first use; None if neither."""
    if name not in app.extensions:
        with _building:  # two threads of one app asking at once build it once
            builders: dict[str, Callable[[], object]] = app.extensions.get(ON_FIRST_USE, {})
            if name not in app.extensions and name in builders:
                app.extensions[name] = builders[name]()
                del builders[name]
    return app.extensions.get(name)


def build_on_first_use(app: Flask) -> None:
    """Build now every extension that was left for its first use."""
    for name in list(app.extensions.get(ON_FIRST_USE, {})):
        extension(app, name)


__all__ = [
    "babel",
    "build_on_first_use",
    "csrf",
    "db",
    "extension",
    "limiter",
    "login_manager",
    "migrate",
    "on_first_use",
]
