"""What a request may carry at all, checked once at the door for every page and the API.

Text never holds control characters other than tab and line breaks: PostgreSQL refuses a
NUL in text (a server error), and a NUL or line break in a file name breaks the header of
every later download. A JSON body is refused whole when it nests deeper than any of our
documents or holds a number too long to read, before a parser below us fails on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from wtforms.validators import Length

from housing.errors import InvalidInput

# C0 controls and DEL, except tab, line feed and carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Deeper than any body of ours (events with details nest three levels).
MAX_JSON_DEPTH = 32
# Free text kept in a column of no set length (Text): more than anyone writes in one field.
TEXT_MAX = 10_000
# The multipart framing and the few fields sent beside an uploaded file.
UPLOAD_FORM_ROOM = 64 * 1024
_UPLOAD_SETTING = "_accepts_upload_setting"
_UPLOAD_FILES = "_accepts_upload_files"
_CONTROL_REFUSED = _l("The request contains a control character (such as NUL). Nothing was saved.")


def clean_filename(filename: str) -> str:
    """The name a person sees for an upload: no path, no control characters."""
    name = PurePosixPath(CONTROL.sub("", filename).replace("\\", "/")).name.strip()
    return name[:200] or "document"


F = TypeVar("F", bound=Callable[..., Any])


def column_length(column: Any) -> int:
    """The most characters a model column (`User.full_name`) holds; `TEXT_MAX` for text.

    The one source of every text input's limit, so no limit is written twice.
    """
    length = getattr(column.type, "length", None)
    return int(length) if length else TEXT_MAX


def text_field(column: Any, *, min_length: int | None = None, **kwargs: Any) -> fields.String:
    """A text in an API request, no longer than `column` holds."""
    return fields.String(
        validate=validate.Length(min=min_length, max=column_length(column)), **kwargs
    )


def fits(column: Any) -> Length:
    """A form field's validator: no longer than `column` holds."""
    return Length(max=column_length(column))


def check_text(value: Any, field: str, column: Any, *, required: bool = True) -> str:
    """Text a service stores in `column`: stripped, given if required, and fitting it; else
    a refusal at `field`. For the raw forms and the API's free-form details alike."""
    text = str(value if value is not None else "").strip()
    if required and not text:
        message = _l("This field is required.")
        raise InvalidInput(message, field_errors={field: [message]})
    if len(text) > column_length(column):
        raise too_long(field, column)
    return text


def too_long(field: str, column: Any) -> InvalidInput:
    """The refusal of a text longer than `column` holds, at `field`."""
    message = _l("Give at most %(n)d characters.", n=column_length(column))
    return InvalidInput(message, field_errors={field: [message]})


def accepts_upload(setting: str, *, files: int = 1) -> Callable[[F], F]:
    """Mark a view (or a MethodView's method) that takes up to `files` files of up to the
    app's `setting` bytes each; other requests keep to `MAX_CONTENT_LENGTH`."""

    def mark(view: F) -> F:
        setattr(view, _UPLOAD_SETTING, setting)
        setattr(view, _UPLOAD_FILES, files)
        return view

    return mark


def install(app: Flask) -> None:
    # First: nothing may read the body before its limit is set.
    app.before_request(limit_body)
    app.before_request(refuse_unreadable_input)


def limit_body() -> None:
    """Set this request's body limit (raised for a view that takes an upload), and refuse
    a body announced larger at once, before anyone (sign-in included) works on it."""
    if _upload_setting() is not None:
        request.max_content_length = sendable_bytes() + UPLOAD_FORM_ROOM
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def sendable_bytes() -> int:
    """The most this request may send: its view's files at their largest, or any body's
    limit."""
    view = _view()
    setting = upload_setting(view)
    if setting is None:
        return int(current_app.config["MAX_CONTENT_LENGTH"])
    return int(current_app.config[setting]) * int(getattr(view, _UPLOAD_FILES, 1))


def upload_setting(view: Any) -> str | None:
    """The setting naming the largest file `view` (a function or method) takes, if any."""
    return getattr(view, _UPLOAD_SETTING, None)


def _upload_setting() -> str | None:
    return upload_setting(_view())


def _view() -> Any:
    """This request's view function, or its MethodView's method."""
    view: Any = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, request.method.lower(), view)
    return view


def refuse_unreadable_input() -> None:
    """Answer 400 before any view runs when a query or form value holds a control
    character (a JSON body is checked as the API reads it: `read_json_body`)."""
    values = [*request.args.items(multi=True), *request.form.items(multi=True)]
    if _holds_control_character(values):
        raise BadRequest(str(_CONTROL_REFUSED))


def read_json_body(data: bytes) -> Any:
    """The JSON body of a request, read once, or 400 for what no field may hold.

    Plain invalid JSON is left to the caller's parser (it says where the error is).
    """
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except RecursionError:
        raise BadRequest(str(_l("The request body nests too deeply."))) from None
    except ValueError:
        # Python refuses to read an integer of thousands of digits.
        raise BadRequest(str(_l("A number in the request body is too long."))) from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise BadRequest(str(_l("The request body nests too deeply.")))
    if _holds_control_character(body):
        raise BadRequest(str(_CONTROL_REFUSED))
    return body


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _holds_control_character(value: Any) -> bool:
    if isinstance(value, str):
        return CONTROL.search(value) is not None
    if isinstance(value, dict):
        return any(
            _holds_control_character(key) or _holds_control_character(item)
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return any(_holds_control_character(v) for v in value)
    return False
