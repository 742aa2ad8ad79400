"""The API's blueprint: flask-smorest's, reading JSON bodies by our rules of input, and
honouring an `Idempotency-Key` on every POST (housing.api.idempotency)."""

from __future__ import annotations

from typing import Any, ClassVar

import flask
import flask_smorest
from flask.views import MethodView
from marshmallow import INCLUDE, fields, post_load, validate
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from housing.api.dumping import Schema
from housing.api.idempotency import PARAMETER, idempotent
from housing.api.paging import PAGE_PARAMETERS
from housing.inputs import CONTROL, UPLOAD_FORM_ROOM, read_json_body, upload_setting

# What `housing.inputs` lets through: text without control characters (tab and line
# breaks are text). Any other control character in a request is refused with a 400.
WITHOUT_CONTROL_CHARACTERS = f"^[^{CONTROL.pattern[1:-1]}]*$"


class RequestSchema(Schema):
    """A request's body or query string, documented as the API reads it."""


def document_request_text(self: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: a request's strings hold no control characters."""
    owner = field.parent
    while isinstance(owner, fields.Field):  # the values of a list or a dict
        owner = owner.parent
    # A field with a pattern of its own admits no control character either.
    if (
        isinstance(field, fields.String)
        and isinstance(owner, RequestSchema)
        and "pattern" not in field.metadata
    ):
        return {"pattern": WITHOUT_CONTROL_CHARACTERS}
    return {}


class BodyParser(FlaskParser):
    """webargs' parser, reading a JSON body once and through `housing.inputs`' rules (too
    deep, too long a number or a control character answers 400)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return read_json_body(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BodyParser()
    DEFAULT_PAGINATION_PARAMETERS = PAGE_PARAMETERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_idempotency_doc)
        self._prepare_doc_cbks.append(self._prepare_input_doc)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Any = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Every POST (a creation or an event) takes an `Idempotency-Key`."""
        for view in _views(view_func):  # documented with their limit (`_prepare_input_doc`)
            if (setting := upload_setting(view)) is not None:
                view._apidoc = {**getattr(view, "_apidoc", {}), _UPLOAD_DOC: setting}
        if isinstance(view_func, type) and issubclass(view_func, MethodView):
            post = getattr(view_func, "post", None)
            if post is not None and not getattr(post, "_idempotent", False):
                view_func.post = idempotent(post)  # type: ignore[attr-defined]
                view_func.post._idempotent = True  # type: ignore[attr-defined]
        elif view_func is not None and "POST" in options.get("methods", ()):
            view_func = idempotent(view_func)
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **options)

    @staticmethod
    def _prepare_idempotency_doc(
        doc: dict[str, Any], doc_info: dict[str, Any], *, method: str, **kwargs: Any
    ) -> dict[str, Any]:
        if method == "post":
            app: flask.Flask = kwargs["app"]
            hours = int(app.config.get("IDEMPOTENCY_KEY_HOURS", 24))
            parameter = {**PARAMETER, "description": PARAMETER["description"] % {"hours": hours}}
            doc.setdefault("parameters", []).append(parameter)
        return doc

    @staticmethod
    def _prepare_input_doc(
        doc: dict[str, Any], doc_info: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        """The refusals at the door (`housing.inputs`): 400 for what no field may hold, and
        413 for a body larger than the operation takes."""
        app: flask.Flask = kwargs["app"]
        responses = doc.setdefault("responses", {})
        has_body = "requestBody" in doc or "requestBody" in doc_info.get("manual_doc", {})
        responses.setdefault(400, {"description": REFUSED_BODY if has_body else REFUSED_QUERY})
        if has_body:
            setting = doc_info.get(_UPLOAD_DOC)
            if setting is None:
                limit = int(app.config["MAX_CONTENT_LENGTH"])
                too_large = f"The body is larger than {limit} bytes (BODY_MAX_BYTES)."
            else:
                limit = int(app.config[setting])
                too_large = (
                    f"The request is larger than the file's limit of {limit} bytes ({setting})"
                    f" and {UPLOAD_FORM_ROOM} bytes for the form around it."
                )
            responses.setdefault(413, {"description": too_large})
        return doc


_UPLOAD_DOC = "housing_upload_setting"
REFUSED_QUERY = "The query string holds a control character (such as NUL)."
REFUSED_BODY = (
    "The query string or the body holds a control character (such as NUL), or the JSON body"
    " is not JSON, nests too deeply or holds a number too long to read."
)


def _views(view_func: Any) -> list[Any]:
    """The functions that answer a route: a function, or a MethodView's methods."""
    if isinstance(view_func, type) and issubclass(view_func, MethodView):
        return [getattr(view_func, m.lower()) for m in view_func.methods or ()]
    return [view_func] if view_func is not None else []


def one_of_by_event(bodies: dict[str, type[Schema]]) -> dict[str, Any]:
    """A JSON request body documented as one of `bodies`, chosen by its `event`.

    Each body schema is registered as a component under its class name (`register_api`
    does so for every body listed in BODY_COMPONENTS).
    """
    refs = {event: f"#/components/schemas/{body.__name__}" for event, body in bodies.items()}
    BODY_COMPONENTS.update({body.__name__: body for body in bodies.values()})
    schema = {
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": "event", "mapping": refs},
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# Schemas the documentation names but no decorator registers: the bodies of a oneOf.
BODY_COMPONENTS: dict[str, type[Schema]] = {}


def event_field(event: str) -> fields.String:
    """The `event` of a body that one event takes."""
    return fields.Str(required=True, validate=validate.OneOf([event]))


class ByEvent(RequestSchema):
    """A body read by the schema its `event` names (`BODIES`): each event takes its own
    keys, so a stray key or a missing one is a 422 at that key. `one_of_by_event(BODIES)`
    documents the very same schemas."""

    BODIES: ClassVar[dict[str, type[Schema]]] = {}

    class Meta:
        unknown = INCLUDE  # the event's own schema refuses what it does not take

    @post_load(pass_original=True)
    def by_event(self, data: dict[str, Any], original: Any, **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = self.BODIES[data["event"]]().load(original)
        return loaded


def by_event(name: str, bodies: dict[str, type[Schema]]) -> type[ByEvent]:
    """The request schema of an events endpoint whose bodies are `bodies`, by event."""
    event = fields.Str(required=True, validate=validate.OneOf(list(bodies)))
    return type(name, (ByEvent,), {"BODIES": bodies, "event": event})


API_PREFIX = "/api/v1"
# Where a link finds its ids: in the answer's body, or in the request's path.
BODY_ID = "$response.body#/id"


def link(method: str, path: str, *, request_body: Any = None, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to the operation `method path` (under /api/v1), its path parameters
    (and body) taken from the answer (`BODY_ID`) or the request, so a client (or
    schemathesis) can chain the calls."""
    pointer = (API_PREFIX + path).replace("~", "~0").replace("/", "~1")
    found = {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters}
    if request_body is not None:
        found["requestBody"] = request_body
    return found


def linked(status: int, **links: dict[str, Any]) -> dict[str, Any]:
    """`blp.doc` arguments: the answer `status` links to the operations in `links`."""
    return {"responses": {status: {"links": links}}}
