"""The API's blueprint: flask-smorest's, reading JSON bodies by our rules of input, and
honouring an `Idempotency-Key` on every POST (housing.api.idempotency)."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
from flask.views import MethodView
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from housing.api.idempotency import PARAMETER, idempotent
from housing.inputs import read_json_body


class BodyParser(FlaskParser):
    """webargs' parser, reading a JSON body once and through `housing.inputs`' rules (too
    deep, too long a number or a control character answers 400)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return read_json_body(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BodyParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_idempotency_doc)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Any = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Every POST (a creation or an event) takes an `Idempotency-Key`."""
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
            doc.setdefault("parameters", []).append(dict(PARAMETER))
        return doc
