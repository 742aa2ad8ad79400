"""Extension objects, created unbound and initialised by the app factory."""

from __future__ import annotations

from flask import request
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


def login_account_key() -> str:
    """Rate-limit key for login attempts on one account, whatever address they come from."""
    return "account:" + (request.form.get("email") or "").strip().lower()


__all__ = ["babel", "csrf", "db", "limiter", "login_account_key", "login_manager", "migrate"]
