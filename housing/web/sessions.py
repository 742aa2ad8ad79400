"""The signed-in session of a browser: begun at sign-in, checked on every request, ended
at logout, by "sign out everywhere", after the idle timeout and the absolute lifetime.

Flask's cookie session carries a random secret under `SESSION_KEY`; the server keeps the
session's record (`housing.accounts.sessions`). Flask-Login's user loader accepts a cookie
only while its record is usable, so a copy of the cookie taken before a logout opens
nothing afterwards. API requests carry bearer tokens and never come here.
"""

from __future__ import annotations

from flask import Flask, flash, g, make_response, redirect, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_url, login_user, logout_user

from housing import services
from housing.accounts.models import SessionEnd, User
from housing.db import db
from housing.extensions import login_manager
from housing.unit_of_work import before_commit, first_use

SESSION_KEY = "_vw_session"
# The id of the request's session record, once the cookie has been accepted.
_CURRENT = "housing_user_session_id"
# Set when the cookie named a session that has ended: the login page says so.
_ENDED = "housing_user_session_ended"
_FLASK_LOGIN_KEYS = ("_user_id", "_fresh")


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)


def begin(user: User, *, provider_id: int | None = None, acr: str | None = None) -> None:
    """Sign `user` in: a cookie with nothing of the one before (no session fixation) but the
    chosen language, and a new session record (with the provider and `acr` of a single
    sign-on)."""
    chosen_language = session.get("language")
    session.clear()
    if chosen_language:
        session["language"] = chosen_language
    record, secret = services.user_sessions(db.session).start(
        user, provider_id=provider_id, acr=acr
    )
    session[SESSION_KEY] = secret
    login_user(user)
    setattr(g, _CURRENT, record.id)


def end(reason: SessionEnd = SessionEnd.LOGOUT) -> None:
    """End this browser's session on the server, then forget the cookie's contents."""
    secret = session.get(SESSION_KEY)
    if isinstance(secret, str):
        sessions = services.user_sessions(db.session)
        record = sessions.find(secret)
        if record is not None:
            sessions.end(record, reason)
    logout_user()
    session.clear()


def end_others(user: User, reason: SessionEnd = SessionEnd.PASSWORD) -> int:
    """End every other session of the user; this one goes on. How many were open."""
    current = g.get(_CURRENT)
    return services.user_sessions(db.session).end_all(user.id, reason, keep=current)


def current_session_id() -> int | None:
    """The record of this request's signed-in session, if any."""
    current: int | None = g.get(_CURRENT)
    return current


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of a usable session named by the cookie."""
    secret = session.get(SESSION_KEY)
    if not isinstance(secret, str):
        _forget()
        return None
    sessions = services.user_sessions(db.session)
    # Usually the request's first statement: sent once more if the pooled connection died.
    record = first_use(db.session, lambda: sessions.find(secret))
    if record is None:
        _forget()
        return None
    reason = sessions.ended_by(record)
    if reason is not None or record.user.get_id() != user_id:
        if reason in (SessionEnd.IDLE, SessionEnd.LIFETIME, SessionEnd.DEACTIVATED):
            sessions.end(record, reason)  # saved with the redirect to the login page
        setattr(g, _ENDED, True)
        _forget()
        return None
    if sessions.seen_due(record):
        # The request's last write, saved with its work; at most once a minute.
        record_id = record.id
        before_commit(lambda _response: sessions.record_seen(record_id))
    setattr(g, _CURRENT, record.id)
    return record.user


def session_ended() -> bool:
    """Whether this request came with the cookie of a session that has ended."""
    return bool(g.get(_ENDED, False))


def unauthorized() -> ResponseReturnValue:
    """Anonymous on a page that needs a user: to the login page, and back after it.

    An htmx request gets 401 with `HX-Redirect`, so the browser goes to the login page
    instead of drawing it inside the fragment that was asked for.
    """
    message = (
        _("Your session has ended. Log in again.")
        if session_ended()
        else _("Log in to see this page.")
    )
    flash(message, "info")
    if request.headers.get("HX-Request") == "true":
        target = login_url("auth.login", request.headers.get("HX-Current-URL") or request.url)
        response = make_response(message, 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(login_url("auth.login", request.url))


def _forget() -> None:
    for key in (SESSION_KEY, *_FLASK_LOGIN_KEYS):
        session.pop(key, None)
