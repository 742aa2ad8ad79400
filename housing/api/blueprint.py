"""The API's blueprint: flask-smorest's, reading JSON bodies by our rules of input."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

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
