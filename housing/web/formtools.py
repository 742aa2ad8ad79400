"""Show a service's validation errors on the form that caused them."""

from __future__ import annotations

from flask_wtf import FlaskForm

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
