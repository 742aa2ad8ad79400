"""Dutch by default, English on request: the user's saved choice, else the session's.

English is British English (en_GB): dates as "2 Dec 2026" and "02/12/2026", day before
month as in Dutch, never the American "12/2/26". Only Dutch has a catalogue; English is
the source text, so en_GB needs none.
"""

from __future__ import annotations

from flask import Flask, has_request_context, session
from flask_babel import format_currency, format_date, format_datetime, get_locale
from flask_login import current_user

from housing.config import PROJECT_ROOT
from housing.extensions import babel
from housing.money import amount_text, money_text

LANGUAGES = {"nl": "Nederlands", "en": "English"}
DEFAULT_LANGUAGE = "nl"
# The locale that formats (and reads) numbers and dates for each language.
_LOCALES = {"nl": "nl", "en": "en_GB"}


def locale_of(language: str) -> str:
    """The locale of a language the user chose ("en" is "en_GB"), for `force_locale`."""
    return _LOCALES.get(language, _LOCALES[DEFAULT_LANGUAGE])


def select_locale() -> str:
    if not has_request_context():  # commands and tasks speak the default language
        return DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated:
        return locale_of(str(current_user.language.value))
    # Dutch unless the person chose otherwise: a Dutch public service does not switch
    # language on a browser header the person may never have set.
    return locale_of(str(session.get("language")))


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
    # Amounts: "€ 2.400,00" in text, "2.400,00" in an input's value (read back as typed).
    app.jinja_env.filters.update(money=money_text, amount_input=amount_text)
