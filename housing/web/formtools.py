"""How a service's refusal is shown in the UI: on the form, or on the page the user came from.

A view says so before it calls the service; the registered `DomainError` handler (see
`housing.web`) undoes the request's unit of work and answers with what the view chose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, g, make_response, redirect, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound as NotFoundPage

from housing.errors import DomainError

_REFUSAL = "housing_refusal"


@dataclass(frozen=True)
class _OnForm:
    form: FlaskForm
    page: Callable[[], ResponseReturnValue]


@dataclass(frozen=True)
class _ShownBy:
    render: Callable[[DomainError], ResponseReturnValue]


@dataclass(frozen=True)
class _BackTo:
    url: str
    code: int


def show_field_errors(form: FlaskForm, error: DomainError) -> None:
    """Attach each field error to its field; what fits no field goes to the form."""
    placed = False
    for name, messages in error.field_errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *map(str, messages)]
            placed = True
    if not placed:
        form.form_errors.append(str(error.message))


def refusal_on_form(form: FlaskForm, page: Callable[[], ResponseReturnValue]) -> None:
    """A refusal of this request is shown on `form`, and `page` renders it again."""
    setattr(g, _REFUSAL, _OnForm(form, page))


def refusal_shown_by(render: Callable[[DomainError], ResponseReturnValue]) -> None:
    """A refusal of this request is shown by `render`, given the error."""
    setattr(g, _REFUSAL, _ShownBy(render))


def refusal_shows_again(
    page: Callable[[], ResponseReturnValue],
    *,
    rules_at: Mapping[str, tuple[str, Any]] | None = None,
) -> None:
    """A refusal of this request shows the page the form was on again, with the refusal's
    status (422 for input, 403 for a rule of who may, 409 for a conflict), what was typed
    still in its fields (`typed`) and each message beside its field (`refused_fields`).

    For hand-written forms: a redirect would lose the typing, and a mistake must not.
    `rules_at` places a workflow rule's refusal at a field, in the page's words: rule code
    → (field, message), e.g. a missing reason at the form's reason field.
    """

    def shown_again(error: DomainError) -> ResponseReturnValue:
        message, g.housing_refused_fields = _placed(error, rules_at or {})
        flash(message, "error")
        response = make_response(page())
        response.status_code = error.status
        return response

    refusal_shown_by(shown_again)


def typed(endpoint: str, name: str, default: Any = "", *, when: bool = True) -> Any:
    """What was typed in field `name` when this request is a refused post to `endpoint`
    shown again; otherwise `default` (what is saved). Other forms on the page keep theirs;
    `when` tells apart forms that post to the same endpoint (e.g. which claim event)."""
    if when and request.method == "POST" and request.endpoint == endpoint and name in request.form:
        return request.form[name]
    return default


def refused_fields(endpoint: str, *, when: bool = True) -> dict[str, list[str]]:
    """The field messages of a refused post to `endpoint` shown again on this page, for
    the form that sent it only (`when` as in `typed`); other forms on the page get none."""
    if when and request.method == "POST" and request.endpoint == endpoint:
        shown: dict[str, list[str]] = g.get("housing_refused_fields", {})
        return shown
    return {}


def page_at(endpoint: str, **values: Any) -> Callable[[], ResponseReturnValue]:
    """The page at `endpoint` drawn by its own view, for `refusal_shows_again` from a view
    of another blueprint (the claim page's panels post to their own blueprints)."""

    def page() -> ResponseReturnValue:
        view = current_app.ensure_sync(current_app.view_functions[endpoint])
        drawn: ResponseReturnValue = view(**values)
        return drawn

    return page


def _placed(
    error: DomainError, rules_at: Mapping[str, tuple[str, Any]]
) -> tuple[str, dict[str, list[str]]]:
    """The refusal's message and its messages by field; a rule the page names goes to its
    field, in the page's words (the workflow names the rule, not the form's field)."""
    for rule in error.field_errors.get("rule", ()):
        if str(rule) in rules_at:
            field, message = rules_at[str(rule)]
            return str(message), {field: [str(message)]}
    return str(error.message), _messages_by_field(error)


def _messages_by_field(error: DomainError) -> dict[str, list[str]]:
    # Rule codes in field_errors are for the API; a page shows messages.
    if not error.field_errors or "rule" in error.field_errors:
        return {}
    return {name: [str(m) for m in messages] for name, messages in error.field_errors.items()}


def refusal_back_to(url: str, code: int = 303) -> None:
    """A refusal of this request is flashed as an error on `url` (303 See Other)."""
    setattr(g, _REFUSAL, _BackTo(url, code))


def refusal_page(error: DomainError) -> ResponseReturnValue | None:
    """The answer the view chose for `error`, or None when it chose none.

    A record the user may not see is the 404 page, whatever the view chose.
    """
    if error.status == 404:
        return current_app.handle_http_exception(NotFoundPage())
    chosen = g.get(_REFUSAL)
    if chosen is None:
        return None
    if isinstance(chosen, _OnForm):
        show_field_errors(chosen.form, error)
        return chosen.page()
    if isinstance(chosen, _ShownBy):
        return chosen.render(error)
    # For acts without typing (a button); a form with fields shows its page again.
    flash(str(error.message), "error")
    return redirect(chosen.url, code=chosen.code)


def done(message: str, back_to: str, code: int = 303) -> ResponseReturnValue:
    """Say what the post did and go back (303); the request commits on the way out."""
    flash(message, "success")
    return redirect(back_to, code=code)
