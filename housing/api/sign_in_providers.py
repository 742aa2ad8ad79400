"""API v1: the organisation's sign-in providers (OpenID Connect), for administrators.

The client secret is written, never read back. Like every act of the API this is not
stepped up (`housing.web.step_up`): the bearer token is its own credential.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import fields, validate

from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import BODY_ID, Blueprint, RequestSchema, link, linked
from housing.db import db
from housing.inputs import text_field
from housing.organisations.models import ProviderAudience, SignInProvider
from housing.organisations.sign_in_providers import ProviderAdministration, ProviderData
from housing.roles import Role

blp = Blueprint(
    "api_sign_in_providers", __name__, url_prefix="/api/v1", description="Sign-in providers"
)
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class SignInProviderSchema(RequestSchema):
    id = fields.Int(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    name = text_field(SignInProvider.name, min_length=1, required=True)
    issuer = text_field(SignInProvider.issuer, min_length=1, required=True)
    # OAuth's client_id; named "client" here, as every "…_id" of this API is an integer id.
    client = text_field(
        SignInProvider.client_id,
        min_length=1,
        required=True,
        attribute="client_id",
        metadata={"description": "The client id (OAuth client_id) the provider gave."},
    )
    client_secret = fields.String(
        load_only=True, required=True, validate=validate.Length(min=1, max=500)
    )
    scopes = text_field(SignInProvider.scopes, load_default="openid email profile")
    audience = fields.Enum(ProviderAudience, by_value=True, load_default=ProviderAudience.BOTH)
    groups_claim = text_field(SignInProvider.groups_claim, min_length=1, load_default="groups")
    role_mapping = text_field(SignInProvider.role_mapping, load_default="")
    sync_roles = fields.Bool(load_default=True)
    trust_provider_mfa = fields.Bool(load_default=False)
    active = fields.Bool(load_default=True)


class SignInProviderPatchSchema(RequestSchema):
    name = text_field(SignInProvider.name, min_length=1)
    issuer = text_field(SignInProvider.issuer, min_length=1)
    client = text_field(SignInProvider.client_id, min_length=1, attribute="client_id")
    client_secret = fields.String(load_only=True, validate=validate.Length(min=1, max=500))
    scopes = text_field(SignInProvider.scopes)
    audience = fields.Enum(ProviderAudience, by_value=True)
    groups_claim = text_field(SignInProvider.groups_claim, min_length=1)
    role_mapping = text_field(SignInProvider.role_mapping)
    sync_roles = fields.Bool()
    trust_provider_mfa = fields.Bool()
    active = fields.Bool()


def _found(provider_id: int) -> SignInProvider:
    found = api_scope().get(db.session, SignInProvider, provider_id)
    if found is None:
        abort(404, message="No such sign-in provider.")
    return found


@blp.route("/sign-in-providers")
class SignInProviders(MethodView):
    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.response(200, SignInProviderSchema(many=True))
    def get(self) -> Sequence[SignInProvider]:
        """The organisation's sign-in providers."""
        return db.session.scalars(
            api_scope().select(SignInProvider).order_by(SignInProvider.name, SignInProvider.id)
        ).all()

    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.doc(
        **linked(
            201,
            GetSignInProvider=link("get", "/sign-in-providers/{provider_id}", provider_id=BODY_ID),
        )
    )
    @blp.arguments(SignInProviderSchema)
    @blp.response(201, SignInProviderSchema)
    def post(self, data: dict[str, Any]) -> SignInProvider:
        """Add a sign-in provider (audited; the secret is stored encrypted)."""
        return ProviderAdministration(db.session).create(api_user(), ProviderData(**data))


@blp.route("/sign-in-providers/<int:provider_id>")
class SignInProviderItem(MethodView):
    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.response(200, SignInProviderSchema)
    def get(self, provider_id: int) -> SignInProvider:
        """One sign-in provider (without its secret)."""
        return _found(provider_id)

    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.arguments(SignInProviderPatchSchema)
    @blp.response(200, SignInProviderSchema)
    def patch(self, changes: dict[str, Any], provider_id: int) -> SignInProvider:
        """Change some fields; a secret given replaces the stored one (audited)."""
        found = _found(provider_id)
        current = ProviderData(
            name=found.name,
            issuer=found.issuer,
            client_id=found.client_id,
            client_secret=None,
            scopes=found.scopes,
            audience=found.audience,
            groups_claim=found.groups_claim,
            role_mapping=found.role_mapping,
            sync_roles=found.sync_roles,
            trust_provider_mfa=found.trust_provider_mfa,
            active=found.active,
        )
        ProviderAdministration(db.session).update(
            api_user(), found, dataclasses.replace(current, **changes)
        )
        return found
