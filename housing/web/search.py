"""Finding any claim: the staff's search over all the organisation's claims, open or closed."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from housing.claims.handling import assessor_names, assessors
from housing.claims.search import SEARCHABLE_STATES, UNASSIGNED, ClaimSearch, search_claims
from housing.db import db
from housing.errors import InvalidInput
from housing.scope_rules import CLAIM_READERS
from housing.web.access import current_scope, role_required

bp = Blueprint("claim_search", __name__, url_prefix="/claims")


@bp.route("/search")
@role_required(*CLAIM_READERS)
def search() -> ResponseReturnValue:
    """All claims received, newest first; the filters stay in the URL."""
    scope = current_scope()
    errors: dict[str, list[str]] = {}
    try:
        wanted = ClaimSearch.from_args(request.args)
    except InvalidInput as error:
        wanted = ClaimSearch()
        errors = {name: [str(m) for m in messages] for name, messages in error.field_errors.items()}
    page = search_claims(db.session, scope, wanted) if not errors else None
    page_claims = page.claims if page is not None else []
    return (
        render_template(
            "claims/search.html",
            args=request.args,
            errors=errors,
            page=page,
            names=assessor_names(db.session, scope, page_claims),
            assessors=assessors(db.session, scope),
            states=SEARCHABLE_STATES,
            unassigned=UNASSIGNED,
            paged=bool(request.args.get("after")),
        ),
        400 if errors else 200,
    )
