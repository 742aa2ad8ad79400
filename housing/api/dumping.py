"""The API's schemas dump by a plan made once per schema: marshmallow's answers, at a
fraction of the calls.

Marshmallow dumps a field through four layers (`Field.serialize`, the schema's accessor,
`utils.get_value`, `_get_value_for_key`) before the field's own `_serialize`; a list of a
hundred claims with their lines and deadlines spent a third of its time there. A plan
reads each field's value once, as marshmallow reads it (a mapping's key, else the
attribute; absent means the field is left out, unless it has a dump default), and hands it
to the field's own `_serialize`. Nested schemas dump by their own plans. A schema with
dump hooks (`pre_dump`, `post_dump`) dumps as marshmallow does. `tests/test_api_dumping.py`
compares both dumps of every API schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow
from marshmallow import fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import get_value

Dump = Callable[[Any], Any]


def _reader(key: str) -> Callable[[Any], Any]:
    """How marshmallow's `get_value` reads `key` off an object, in one call for the
    objects an answer is made of (dicts and mapped objects)."""
    if "." in key:
        return lambda obj: get_value(obj, key)

    def read(obj: Any) -> Any:
        if type(obj) is dict:
            # A dict without the key: marshmallow tries the attribute next.
            return obj[key] if key in obj else getattr(obj, key, missing)
        if hasattr(type(obj), "__getitem__"):
            return get_value(obj, key)
        return getattr(obj, key, missing)

    return read


# A field's formatting of a value: (value, the field's name, the object it was read off).
Format = Callable[[Any, str, Any], Any]


def _format(field: fields.Field[Any]) -> Format:
    """`field._serialize` itself, or for nested schemas one that dumps by their plans."""
    if type(field) is fields.Nested:
        nested = field.schema
        many = nested.many or field.many

        def dump_nested(value: Any, name: str, obj: Any) -> Any:
            return None if value is None else nested.dump(value, many=many)

        return dump_nested
    if type(field) is fields.List:
        inner = _format(field.inner)

        def dump_list(value: Any, name: str, obj: Any) -> Any:
            return None if value is None else [inner(each, name, obj) for each in value]

        return dump_list
    kept = _KEPT_AS_THEY_ARE.get(type(field))
    if kept is not None and not getattr(field, "as_string", False):
        # Most values of an answer are already what the field makes of them (an id, a
        # text): those pass as they are, anything else through the field.
        serialize = field._serialize

        def dump_kept(value: Any, name: str, obj: Any) -> Any:
            return value if type(value) is kept else serialize(value, name, obj)

        return dump_kept
    return field._serialize


# Fields whose `_serialize` returns a value of exactly this type as it is.
_KEPT_AS_THEY_ARE: dict[type[fields.Field[Any]], type] = {
    fields.Integer: int,
    fields.String: str,
    fields.Boolean: bool,
}


def _plan(schema: marshmallow.Schema) -> Dump:
    # (key, field name, how its value is read or None for a field that reads the object,
    # how it is formatted, its dump default)
    steps: list[tuple[str, str, Callable[[Any], Any] | None, Format, Any]] = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        if not field._CHECK_ATTRIBUTE:
            # Method and Function fields compute from the object itself.
            steps.append((key, name, None, _format(field), missing))
            continue
        read = _reader(field.attribute or name)
        steps.append((key, name, read, _format(field), field.dump_default))

    def dump_one(obj: Any) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for key, name, read, dump, default in steps:
            if read is None:
                value = None
            else:
                value = read(obj)
                if value is missing:
                    if default is missing:
                        continue
                    value = default() if callable(default) else default
            dumped = dump(value, name, obj)
            if dumped is not missing:
                answer[key] = dumped
        return answer

    return dump_one


class Schema(marshmallow.Schema):
    """Every schema of the API: dumps by its plan (module docstring)."""

    _dump_plan: Dump | None = None

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if self._hooks[PRE_DUMP] or self._hooks[POST_DUMP]:
            return super().dump(obj, many=many)
        plan = self._dump_plan
        if plan is None:
            plan = self._dump_plan = _plan(self)
        if (self.many if many is None else many) and obj is not None:
            return [plan(each) for each in obj]
        return plan(obj)
