"""The claim's timeline as the claim page shows it: what happened, who did it and in
which role, with the reasons given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from housing.audit.models import AuditEvent
from housing.claims.handling import actors_of
from housing.claims.models import Claim
from housing.db import DbSession
from housing.roles import Role
from housing.web.forms import ROLE_LABELS
from workflows.claim import EVENT_ROLES, ClaimEvent

SYSTEM = _l("the system")
_CLAIM_EVENTS = {event.value: event for event in ClaimEvent}


@dataclass(frozen=True)
class TimelineEntry:
    event: AuditEvent
    # None: done by the system (a scheduled task), or by an account since removed.
    who: str | None
    role: str


def _role(event: AuditEvent, claim: Claim, roles: frozenset[Role]) -> str:
    """The role the act was done in: the workflow's own for its events, the applicant for
    the claim's own office holder or the clerk who filed it, else the actor's roles."""
    workflow_event = _CLAIM_EVENTS.get(event.event)
    if workflow_event is not None:
        role = EVENT_ROLES[workflow_event].value
        return str(SYSTEM) if role == "system" else str(ROLE_LABELS[Role(role)])
    if event.actor_id in (claim.filed_by_id, claim.office_holder.user_id):
        return str(ROLE_LABELS[Role.APPLICANT])
    named = [ROLE_LABELS[role] for role in Role if role in roles and role is not Role.APPLICANT]
    return " / ".join(str(label) for label in named)


def timeline_of(
    session: DbSession, claim: Claim, history: Sequence[AuditEvent]
) -> list[TimelineEntry]:
    """Each event of the history with who did it (their names in one query)."""
    actors = actors_of(session, history)
    entries = []
    for event in history:
        if event.actor_id is None or event.actor_id not in actors:
            entries.append(TimelineEntry(event, None, str(SYSTEM)))
            continue
        name, roles = actors[event.actor_id]
        entries.append(TimelineEntry(event, name, _role(event, claim, roles)))
    return entries
