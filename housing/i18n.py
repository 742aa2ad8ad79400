"""Dutch by default, English on request: the user's saved choice, else the session's."""

from __future__ import annotations

from flask import Flask, has_request_context, session
from flask_babel import format_currency, format_date, format_datetime, get_locale
from flask_login import current_user

from housing.config import PROJECT_ROOT
from housing.extensions import babel

LANGUAGES = {"nl": "Nederlands", "en": "English"}
DEFAULT_LANGUAGE = "nl"


def select_locale() -> str:
    if not has_request_context():  # commands and tasks speak the default language
        return DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated:
        return str(current_user.language.value)
    # Dutch unless the person chose otherwise: a Dutch public service does not switch
    # language on a browser header the person may never have set.
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "housing" / "translations"),
    )
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES,
        format_date=format_date,
        format_datetime=format_datetime,
        format_currency=format_currency,
        get_locale=get_locale,
    )
