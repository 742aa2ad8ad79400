"""The JSON API under /api/v1, described by OpenAPI 3.1 at /api/v1/openapi.json."""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema

from housing.api.blueprint import BODY_COMPONENTS, document_request_text
from housing.api.paging import PAGINATION_HEADER
from housing.api.problems import PROBLEM_JSON, ProblemSchema
from housing.extensions import csrf
from housing.ids import IdConverter

PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


class ProblemResponses(BasePlugin):
    """Every error an operation documents is `application/problem+json` (RFC 9457), and
    every operation documents the errors it can answer: 401 and 403 behind a token, 404
    where the path names a row."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                responses.setdefault(401, http.HTTPStatus.UNAUTHORIZED.name)
                responses.setdefault(403, http.HTTPStatus.FORBIDDEN.name)
            if path and "{" in path:
                responses.setdefault(404, http.HTTPStatus.NOT_FOUND.name)
            for status, response in responses.items():
                is_error = str(status) == "default" or int(status) >= 400
                if is_error and isinstance(response, dict):
                    response["content"] = PROBLEM_CONTENT


class ProblemApi(Api):
    """flask-smorest without its app-wide JSON error handler: ours answers problem+json
    under /api and HTML pages elsewhere (see housing.web). Its error responses are
    documented as problems."""

    ERROR_SCHEMA = ProblemSchema  # type: ignore[assignment]  # flask-smorest types its own

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        self.spec.components.schema("Problem", schema=ProblemSchema)
        for status in http.HTTPStatus:
            if status >= 400:
                response = {"description": status.phrase, "content": PROBLEM_CONTENT}
                self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR",
            {"description": "An error, as problem details.", "content": PROBLEM_CONTENT},
            lazy=True,
        )

    def _register_pagination_header(self) -> None:
        self.spec.components.header("PAGINATION", PAGINATION_HEADER, lazy=True)


def register_api(app: Flask) -> Api:
    from housing.api.audit import blp as audit_blp
    from housing.api.batches import blp as batches_blp
    from housing.api.claims import blp as claims_blp
    from housing.api.jobs import blp as jobs_blp
    from housing.api.objections import blp as objections_blp
    from housing.api.payouts import blp as payouts_blp
    from housing.api.resources import blp
    from housing.api.sign_in_providers import blp as sign_in_providers_blp
    from housing.api.statements import blp as statements_blp

    api = ProblemApi(
        app,
        spec_kwargs={
            "info": {"description": "Claims for home-security measures of office holders."},
            "extra_plugins": [ProblemResponses()],
        },
    )
    assert api.ma_plugin.converter is not None  # made when the spec was
    api.ma_plugin.converter.add_attribute_function(document_request_text)
    # Path ids are documented with the range they are bound to.
    api.register_converter(IdConverter, integerconverter2paramschema)
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "`housing tokens issue EMAIL`"},
    )
    for blueprint in (
        blp,
        claims_blp,
        objections_blp,
        jobs_blp,
        payouts_blp,
        batches_blp,
        statements_blp,
        audit_blp,
        sign_in_providers_blp,
    ):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    for name, body in BODY_COMPONENTS.items():
        api.spec.components.schema(name, schema=body)
    app.extensions["housing.api"] = api
    return api
