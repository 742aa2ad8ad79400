"""What every claim service holds, and how an act that keeps the claim's state is audited.

Each use case is one unit of work: lock, act, record its effects and the audit event,
flush. The caller commits (or rolls back on an error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.models import Claim, Decision
from housing.claims.notices import NotificationKind, Notifier, applicant_of
from housing.clock import Clock, today, utcnow
from housing.db import DbSession

NO_SUCH_CLAIM = _l("No such claim.")


def record_act(
    audit: AuditTrail,
    claim: Claim,
    event: str,
    *,
    actor_id: int | None,
    payload: Mapping[str, Any],
    reason: str | None = None,
) -> None:
    """Audit an act on the claim that leaves its state as it is (a notice of default, an
    extension or penalty decision, a term that ran out); a change of state is the
    workflow runner's to audit."""
    audit.append(
        claim.organisation_id,
        event=event,
        actor_id=actor_id,
        claim_id=claim.id,
        from_state=claim.state,
        to_state=claim.state,
        reason=reason,
        payload=payload,
    )


class ClaimServiceBase:
    """The session, clock, audit chain, document store and notifier a claim service uses."""

    def __init__(
        self,
        session: DbSession,
        clock: Clock = utcnow,
        documents: DocumentStore | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)
        self._documents = documents
        self.notifier = Notifier(session, clock)

    @property
    def documents(self) -> DocumentStore:
        """Where documents are kept: `housing.services` passes the app's (DOCUMENT_ROOT)."""
        if self._documents is None:
            # Never guessed from the environment: a service that stores or reads documents
            # is built with the app's store.
            raise RuntimeError(f"{type(self).__name__} was built without a document store")
        return self._documents

    @documents.setter
    def documents(self, store: DocumentStore) -> None:
        self._documents = store

    def today(self) -> dt.date:
        return today(self.clock)

    def _tell_applicant(
        self, claim: Claim, kind: NotificationKind, event_key: str, on_date: dt.date | None
    ) -> None:
        """News for the applicant, through the outbox, in this same transaction."""
        self.notifier.notify(
            kind,
            recipients=applicant_of(self.session, claim),
            organisation_id=claim.organisation_id,
            event_key=event_key,
            claim=claim,
            on_date=on_date,
        )

    def _tell_decision(self, claim: Claim, decision: Decision, on_date: dt.date | None) -> None:
        """The applicant hears a decision was taken; on paper, its letter is what is posted."""
        self.notifier.notify(
            NotificationKind.DECISION_TAKEN,
            recipients=applicant_of(self.session, claim),
            organisation_id=claim.organisation_id,
            event_key=f"decision:{decision.id}",
            claim=claim,
            on_date=on_date,
            decision_id=decision.id,
        )
