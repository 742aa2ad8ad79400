"""Domain errors: services raise them, the web and API layers turn them into answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; `message` is safe to show to the user."""

    status = 400

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class InvalidInput(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409
