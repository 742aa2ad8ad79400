"""API v1 resources: who am I, organisations and office holders."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import BODY_ID, Blueprint, link, linked
from housing.api.paging import page_of
from housing.api.schemas import (
    MeSchema,
    OfficeHolderPatchSchema,
    OfficeHolderSchema,
    OrganisationPatchSchema,
    OrganisationSchema,
)
from housing.db import db
from housing.organisations.models import OfficeHolder, Organisation
from housing.organisations.services import OfficeHolderData, OrganisationService
from housing.roles import Role

# token_required comes first (outermost): nobody learns anything, not even how the body
# is validated, before the token and the role are checked.
blp = Blueprint("api_v1", __name__, url_prefix="/api/v1", description="Veilig Wonen API, version 1")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("/me")
class Me(MethodView):
    @token_required()
    @blp.doc(security=SECURITY)
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """The user the token belongs to."""
        user = api_user()
        return {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "roles": sorted(user.roles),
            "language": user.language,
            "channel_preference": user.channel_preference,
            "organisation": user.organisation,
        }


@blp.route("/organisations")
class Organisations(MethodView):
    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.response(200, OrganisationSchema(many=True))
    def get(self) -> Sequence[Organisation]:
        """Organisations the administrator manages (their own)."""
        return db.session.scalars(
            api_scope().select(Organisation).order_by(Organisation.name)
        ).all()


@blp.route("/organisations/<int:organisation_id>")
class OrganisationItem(MethodView):
    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.response(200, OrganisationSchema)
    def get(self, organisation_id: int) -> Organisation:
        """One organisation."""
        found = api_scope().get(db.session, Organisation, organisation_id)
        if found is None:
            abort(404, message="No such organisation.")
        return found

    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.arguments(OrganisationPatchSchema)
    @blp.response(200, OrganisationSchema)
    def patch(self, changes: dict[str, Any], organisation_id: int) -> Organisation:
        """Change the name, IBAN or BIC."""
        scope = api_scope()
        found = scope.get(db.session, Organisation, organisation_id)
        if found is None:
            abort(404, message="No such organisation.")
        updated = OrganisationService(db.session).update_organisation(
            scope,
            organisation_id,
            name=changes.get("name", found.name),
            iban=changes.get("iban", found.iban),
            bic=changes.get("bic", found.bic),
        )
        return updated


@blp.route("/office-holders")
class OfficeHolders(MethodView):
    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.response(200, OfficeHolderSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Sequence[OfficeHolder]:
        """Office holders of the organisation, a page at a time."""
        query = api_scope().select(OfficeHolder)
        return page_of(
            query.order_by(OfficeHolder.full_name, OfficeHolder.id), pagination_parameters
        )

    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.doc(
        **linked(
            201,
            GetOfficeHolder=link("get", "/office-holders/{holder_id}", holder_id=BODY_ID),
            EditOfficeHolder=link("patch", "/office-holders/{holder_id}", holder_id=BODY_ID),
        )
    )
    @blp.arguments(OfficeHolderSchema)
    @blp.response(201, OfficeHolderSchema)
    def post(self, data: dict[str, Any]) -> OfficeHolder:
        """Add an office holder."""
        holder = OrganisationService(db.session).create_office_holder(
            api_scope(), OfficeHolderData(**data)
        )
        return holder


@blp.route("/office-holders/<int:holder_id>")
class OfficeHolderItem(MethodView):
    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.response(200, OfficeHolderSchema)
    def get(self, holder_id: int) -> OfficeHolder:
        """One office holder."""
        found = api_scope().get(db.session, OfficeHolder, holder_id)
        if found is None:
            abort(404, message="No such office holder.")
        return found

    @token_required(Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.arguments(OfficeHolderPatchSchema)
    @blp.response(200, OfficeHolderSchema)
    def patch(self, changes: dict[str, Any], holder_id: int) -> OfficeHolder:
        """Change some fields of an office holder."""
        scope = api_scope()
        found = scope.get(db.session, OfficeHolder, holder_id)
        if found is None:
            abort(404, message="No such office holder.")
        current = OfficeHolderData(
            full_name=found.full_name,
            office_type=found.office_type,
            term_start=found.term_start,
            term_end=found.term_end,
            appointment_certain_on=found.appointment_certain_on,
            user_id=found.user_id,
        )
        holder = OrganisationService(db.session).update_office_holder(
            scope, holder_id, dataclasses.replace(current, **changes)
        )
        return holder
