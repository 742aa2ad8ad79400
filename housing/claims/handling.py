"""Handling a claim inside the organisation: who its assessor is, and the case handlers'
internal notes.

Neither changes the claim's state; each act is audited in the caller's unit of work
(`record_act`). The audit link of a note carries its id and the SHA-256 of its text, never
the text: the timeline shows an audit link's reason, and a note is for the case handlers
alone. Internal acts leave the timeline of anyone else (`history_for`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from housing.accounts.models import User, UserRole
from housing.audit.models import AuditEvent
from housing.claims.base import NO_SUCH_CLAIM, ClaimServiceBase, record_act
from housing.claims.models import Claim, ClaimNote
from housing.claims.permissions import may_assign, may_handle_internally
from housing.db import DbSession
from housing.errors import NotFound
from housing.inputs import check_text
from housing.money import invalid
from housing.permissions import actor_for, acts_for_office_holder, require
from housing.roles import Role
from housing.scoping import Scope
from workflows.rules import Actor

ASSIGNED, UNASSIGNED, NOTE_ADDED = "assessor_assigned", "assessor_unassigned", "internal_note_added"
# Audit events on a claim that only its case handlers see in its timeline.
INTERNAL_EVENTS = frozenset({ASSIGNED, UNASSIGNED, NOTE_ADDED})
NOT_AN_ASSESSOR = _l("Choose an assessor of your organisation.")


@dataclass(frozen=True)
class NoteView:
    note: ClaimNote
    author: str


class CaseHandlingService(ClaimServiceBase):
    def assign(self, scope: Scope, user: User, claim_id: int, assessor_id: int | None) -> Claim:
        """Make `assessor_id` the claim's assessor (None: nobody); the same again is a no-op."""
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        require(may_assign(actor_for(self.session, user), claim))
        if assessor_id is not None:
            assessor = scope.get(self.session, User, assessor_id)
            if assessor is None or not assessor.active or Role.ASSESSOR not in assessor.roles:
                raise invalid("assessor_id", NOT_AN_ASSESSOR)
            if acts_for_office_holder(actor_for(self.session, assessor), claim):
                raise invalid("assessor_id", _l("Nobody handles a claim of their own."))
        previous = claim.assessor_id
        if previous == assessor_id:
            return claim
        claim.assessor_id = assessor_id
        record_act(
            self.audit,
            claim,
            ASSIGNED if assessor_id is not None else UNASSIGNED,
            actor_id=user.id,
            payload={"assessor_id": assessor_id, "previous_assessor_id": previous},
        )
        return claim

    def add_note(self, scope: Scope, user: User, claim_id: int, text: str) -> ClaimNote:
        """An internal note on the claim, for its case handlers."""
        claim = scope.get(self.session, Claim, claim_id)
        if claim is None:
            raise NotFound(NO_SUCH_CLAIM)
        require(may_handle_internally(actor_for(self.session, user), claim))
        note = ClaimNote(
            organisation_id=claim.organisation_id,
            claim_id=claim.id,
            author_id=user.id,
            text=check_text(text, "text", ClaimNote.text),
        )
        self.session.add(note)
        self.session.flush()
        record_act(
            self.audit,
            claim,
            NOTE_ADDED,
            actor_id=user.id,
            payload={"note_id": note.id, "sha256": hashlib.sha256(note.text.encode()).hexdigest()},
        )
        return note


def notes_of(session: DbSession, scope: Scope, actor: Actor, claim: Claim) -> list[NoteView]:
    """The claim's internal notes with their authors, oldest first (one query); none for
    whoever may not read them."""
    if may_handle_internally(actor, claim) is not None:
        return []
    rows = session.execute(
        select(ClaimNote, User.full_name)
        .join(User, User.id == ClaimNote.author_id)
        .where(*scope.criteria(ClaimNote), ClaimNote.claim_id == claim.id)
        .order_by(ClaimNote.id)
    ).all()
    return [NoteView(note, author) for note, author in rows]


def history_for(session: DbSession, actor: Actor, claim: Claim) -> Sequence[AuditEvent]:
    """The claim's timeline as this actor may read it: internal acts for case handlers only."""
    query = select(AuditEvent).where(AuditEvent.claim_id == claim.id)
    if not _reads_internal_acts(actor, claim):
        query = query.where(AuditEvent.event.not_in(INTERNAL_EVENTS))
    return session.scalars(query.order_by(AuditEvent.sequence)).all()


def readable_history(
    actor: Actor, claim: Claim, timeline: Iterable[AuditEvent]
) -> list[AuditEvent]:
    """`history_for` over a timeline already read (the claim's whole, in order)."""
    if _reads_internal_acts(actor, claim):
        return list(timeline)
    return [event for event in timeline if event.event not in INTERNAL_EVENTS]


def _reads_internal_acts(actor: Actor, claim: Claim) -> bool:
    return may_handle_internally(actor, claim) is None


def actors_of(
    session: DbSession, history: Iterable[AuditEvent]
) -> dict[int, tuple[str, frozenset[Role]]]:
    """Who acted in this timeline: each actor's name and roles (one query, whatever the
    number of events)."""
    ids = {event.actor_id for event in history if event.actor_id is not None}
    found: dict[int, tuple[str, frozenset[Role]]] = {}
    if not ids:
        return found
    rows = session.execute(
        select(User.id, User.full_name, UserRole.role)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(User.id.in_(ids))
    ).all()
    for ident, name, role in rows:
        roles = found.get(ident, (name, frozenset()))[1]
        found[ident] = (name, roles | {role} if role is not None else roles)
    return found


def assessors(session: DbSession, scope: Scope) -> list[tuple[int, str]]:
    """The organisation's active assessors, by name: whom a claim can be assigned to."""
    rows = session.execute(
        scope.select(User)
        .with_only_columns(User.id, User.full_name)
        .where(User.active, User.role_rows.any(UserRole.role == Role.ASSESSOR))
        .order_by(User.full_name, User.id)
    ).all()
    return [(ident, name) for ident, name in rows]


def assessor_names(session: DbSession, scope: Scope, claims: Iterable[Claim]) -> dict[int, str]:
    """The names of these claims' assessors (one query, whatever the number of claims)."""
    ids = {claim.assessor_id for claim in claims if claim.assessor_id is not None}
    rows = session.execute(
        scope.select(User).with_only_columns(User.id, User.full_name).where(User.id.in_(ids))
    ).all()
    return {ident: name for ident, name in rows}
