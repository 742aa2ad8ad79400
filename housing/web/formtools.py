"""Form helpers: a service's errors on the form, and one unit of work per form post."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from housing.db import db
from housing.errors import DomainError


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


def unit_of_work(action: Callable[[], object], *, done: str, back_to: str) -> ResponseReturnValue:
    """Run a service call from a form post: commit and say so, or undo and say why.

    A record the user may not see stays a 404; any other refusal is shown as a message on
    the page they came from.
    """
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(back_to, code=303)
