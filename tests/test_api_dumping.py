"""The API's schemas dump by a plan (housing.api.dumping): exactly marshmallow's answers."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from types import SimpleNamespace

import marshmallow
import pytest
from marshmallow import fields, post_dump

import housing.api  # noqa: F401  (every API module, hence every schema, is loaded)
from housing.api.dumping import Schema
from housing.money import Money
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.factories import ClaimFactory


def _marshmallows(schema: Schema, obj, many=None):
    return marshmallow.Schema.dump(schema, obj, many=many)


class Colour(enum.Enum):
    RED = "red"


class Inner(Schema):
    code = fields.Str()
    amount = Money.out(allow_none=True)


class EveryKind(Schema):
    ident = fields.Int(data_key="id")
    name = fields.Str(attribute="full_name")
    day = fields.Date(allow_none=True)
    moment = fields.DateTime()
    amount = Money.out()
    ratio = fields.Decimal(as_string=True)
    colour = fields.Enum(Colour, by_value=True)
    flag = fields.Bool()
    tags = fields.List(fields.Str())
    inner = fields.Nested(Inner, allow_none=True)
    inners = fields.List(fields.Nested(Inner))
    many_inner = fields.Nested(Inner, many=True)
    only_code = fields.Nested(Inner, only=("code",))
    codes = fields.Pluck(Inner, "code", many=True)
    defaulted = fields.Str(dump_default="standard")
    computed = fields.Method("compute")
    dotted = fields.Str(attribute="inner.code")
    absent = fields.Str()

    def compute(self, obj):
        return f"{obj['full_name'] if isinstance(obj, dict) else obj.full_name}!"


def _objects():
    inner = {"code": "camera", "amount": Decimal("12.5")}
    as_dict = {
        "ident": 7,
        "full_name": "P. de Vries",
        "day": dt.date(2026, 12, 6),
        "moment": dt.datetime(2026, 12, 6, 10, 30, tzinfo=dt.UTC),
        "amount": Decimal("1850"),
        "ratio": Decimal("0.210"),
        "colour": Colour.RED,
        "flag": False,
        "tags": ["a", "b"],
        "inner": inner,
        "inners": [inner, {"code": "lock", "amount": None}],
        "many_inner": [inner],
        "only_code": inner,
        "codes": [inner],
    }
    as_object = SimpleNamespace(**{**as_dict, "inner": SimpleNamespace(**inner), "day": None})
    with_nones = {**as_dict, "inner": None, "day": None, "defaulted": "given"}
    return [as_dict, as_object, with_nones]


@pytest.mark.parametrize("obj", _objects(), ids=["mapping", "object", "nones"])
def test_every_kind_of_field_dumps_as_marshmallow_dumps_it(obj):
    schema = EveryKind()
    assert schema.dump(obj) == _marshmallows(schema, obj)
    assert "absent" not in schema.dump(obj)
    assert schema.dump([obj, obj], many=True) == _marshmallows(schema, [obj, obj], many=True)


def test_a_schema_with_dump_hooks_dumps_by_marshmallow():
    class Hooked(Schema):
        code = fields.Str()

        @post_dump
        def shout(self, data, **kwargs):
            return {key: value.upper() for key, value in data.items()}

    assert Hooked().dump({"code": "camera"}) == {"code": "CAMERA"}


def test_every_schema_of_the_api_dumps_by_a_plan():
    """A schema of marshmallow's own in the API would dump the slow way: none is left."""

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    api_schemas = {
        cls for cls in subclasses(marshmallow.Schema) if cls.__module__.startswith("housing.api")
    }
    assert api_schemas and all(issubclass(cls, Schema) for cls in api_schemas)


def test_the_claim_answers_are_marshmallows(client, session, monkeypatch):
    """The real answers, dumped by the plans and by marshmallow: the same JSON."""
    world = World(session)
    world.serve_pages(monkeypatch)
    assessor, decider = bearer(session, world.assessor), bearer(session, world.decider)
    ClaimFactory(home=world.home, in_assessment=True, assessor_id=world.assessor.id)
    proposed = world.proposed()
    world.fire(world.decider, proposed, "grant")
    session.commit()
    paths = [
        "/api/v1/claims?page_size=100",
        f"/api/v1/claims/{proposed.id}",
        f"/api/v1/claims/{proposed.id}/payouts",
        f"/api/v1/claims/{proposed.id}/documents",
        "/api/v1/me",
    ]

    def answers():
        found = {}
        for path in paths:
            for who, headers in (("assessor", assessor), ("decider", decider)):
                response = client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.text)
                found[path, who] = response.get_json()
        return found

    planned = answers()
    monkeypatch.setattr(Schema, "dump", marshmallow.Schema.dump)
    assert answers() == planned
    assert planned[f"/api/v1/claims/{proposed.id}", "decider"]["lines"]
