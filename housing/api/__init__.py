"""The JSON API under /api/v1, described by OpenAPI 3.1 at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema

from housing.extensions import csrf
from housing.ids import IdConverter


class ProblemApi(Api):
    """flask-smorest without its app-wide JSON error handler: ours answers problem+json
    under /api and HTML pages elsewhere (see housing.web)."""

    def _register_error_handlers(self) -> None:
        return None


def register_api(app: Flask) -> Api:
    from housing.api.batches import blp as batches_blp
    from housing.api.claims import blp as claims_blp
    from housing.api.jobs import blp as jobs_blp
    from housing.api.payouts import blp as payouts_blp
    from housing.api.resources import blp
    from housing.api.statements import blp as statements_blp

    api = ProblemApi(
        app,
        spec_kwargs={
            "info": {"description": "Claims for home-security measures of office holders."},
        },
    )
    # Path ids are documented with the range they are bound to.
    api.register_converter(IdConverter, integerconverter2paramschema)
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "`housing tokens issue EMAIL`"},
    )
    for blueprint in (blp, claims_blp, jobs_blp, payouts_blp, batches_blp, statements_blp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.extensions["housing.api"] = api
    return api
