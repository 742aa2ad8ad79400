"""What every claim service holds, and the one way they lock a claim.

Each use case is one unit of work: lock, act, record its effects and the audit event,
flush. The caller commits (or rolls back on an error).
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l

from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.models import Claim
from housing.claims.notices import NotificationKind, Notifier, applicant_of
from housing.clock import Clock, today, utcnow
from housing.db import DbSession
from housing.scoping import Scope

NO_SUCH_CLAIM = _l("No such claim.")


def locked_claim(session: DbSession, scope: Scope, claim_id: int) -> Claim:
    """The claim, row-locked until commit, if the scope may see it (else NotFound).

    Kept for `housing.payments` until it calls `Scope.get_for_update` itself.
    """
    return scope.get_for_update(session, Claim, claim_id, missing=NO_SUCH_CLAIM)


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
