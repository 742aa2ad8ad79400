"""Append to and verify the audit chain; record reads in the access log.

Each organisation has one chain. A link's hash covers its own fields, the SHA-256 of its
payload and the previous link's hash, so altering, inserting or deleting any event breaks
every later link and `verify` names the first one that no longer fits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from housing.audit.models import AccessLog, AuditChainHead, AuditEvent
from housing.clock import utcnow
from housing.db import DbSession
from housing.inputs import column_length, too_long

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal | dt.date | dt.datetime):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if hasattr(value, "value"):  # enums
        return str(value.value)
    raise TypeError(f"cannot put {type(value).__name__} in an audit payload")


def payload_digest(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(canonical.encode()).hexdigest()


def link_hash(event: AuditEvent) -> str:
    """The hash a link must carry, computed from its fields and its predecessor's hash."""
    fields = [
        event.organisation_id,
        event.sequence,
        event.claim_id,
        event.actor_id,
        event.occurred_at.astimezone(dt.UTC).isoformat(),
        event.event,
        event.from_state,
        event.to_state,
        event.reason,
        event.payload_hash,
        event.previous_hash,
    ]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    organisation_id: int
    checked: int
    first_broken_id: int | None = None
    first_broken_sequence: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class NewLink:
    """One link to append: what happened, by whom, to what; the chain adds the rest."""

    event: str
    actor_id: int | None
    claim_id: int | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    payload: Mapping[str, Any] | None = None


def reserve_ids(session: DbSession, model: type[Any], count: int) -> list[int]:
    """Take `count` ids from the table's sequence at once (PostgreSQL; elsewhere none).

    Rows whose ids are known are inserted with one executemany of a short prepared
    statement. Without them the ORM renders one INSERT ... VALUES with a thousand rows and
    RETURNING, and psycopg spends most of a large import parsing those long statements.
    """
    if count == 0 or session.get_bind().dialect.name != "postgresql":
        return []
    sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
    return list(
        session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count)))
    )


class AuditTrail:
    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    def _locked_head(self, organisation_id: int) -> AuditChainHead:
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.session.execute(
            insert(AuditChainHead)
            .values(organisation_id=organisation_id, last_sequence=0, last_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=[AuditChainHead.organisation_id])
        )
        # Row lock until commit: appends in one organisation are serialised.
        return self.session.scalars(
            select(AuditChainHead)
            .where(AuditChainHead.organisation_id == organisation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()

    def append(
        self,
        organisation_id: int,
        *,
        event: str,
        actor_id: int | None,
        claim_id: int | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        reason: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Add a link in the caller's transaction; it commits or rolls back with the change."""
        link = NewLink(event, actor_id, claim_id, from_state, to_state, reason, payload)
        return self.append_many(organisation_id, [link])[0]

    def append_many(self, organisation_id: int, links: Sequence[NewLink]) -> list[AuditEvent]:
        """Add links in order, in the caller's transaction: the head locked once.

        Chained exactly as one `append` after another would chain them (same fields,
        `link_hash`, `payload_digest`), so `verify` checks them alike; they share one
        moment. Many links are inserted with their ids taken from the sequence at once.
        """
        if not links:
            return []
        for new in links:
            # Every reason given for an act ends here: bounded once for forms and API alike.
            if new.reason is not None and len(new.reason) > column_length(AuditEvent.reason):
                raise too_long("reason", AuditEvent.reason)
        head = self._locked_head(organisation_id)
        occurred_at = self.clock().astimezone(dt.UTC)
        events = []
        for new in links:
            link = AuditEvent(
                organisation_id=organisation_id,
                sequence=head.last_sequence + 1,
                claim_id=new.claim_id,
                actor_id=new.actor_id,
                occurred_at=occurred_at,
                event=new.event,
                from_state=new.from_state,
                to_state=new.to_state,
                reason=new.reason,
                payload_hash=payload_digest(new.payload or {}),
                previous_hash=head.last_hash,
            )
            link.hash = link_hash(link)
            head.last_sequence, head.last_hash = link.sequence, link.hash
            events.append(link)
        if len(events) > 1:  # one link: the INSERT is short anyway; spare the round trip
            for link, ident in zip(
                events, reserve_ids(self.session, AuditEvent, len(events)), strict=False
            ):
                link.id = ident
        self.session.add_all(events)
        self.session.flush()
        return events

    def verify(
        self,
        organisation_id: int,
        *,
        on_progress: Callable[[int], None] | None = None,
        every: int = 1000,
    ) -> ChainReport:
        """Walk the chain in order; report the first link that does not fit.

        With `on_progress`, call it with the number of links checked after every `every`.
        """
        previous_hash, expected_sequence, checked = GENESIS_HASH, 1, 0
        links = self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organisation_id == organisation_id)
            .order_by(AuditEvent.sequence)
            .execution_options(yield_per=1000)
        )
        try:
            for link in links:
                problem = None
                if link.sequence != expected_sequence:
                    problem = f"sequence {link.sequence}, {expected_sequence} due: a link is gone"
                elif link.previous_hash != previous_hash:
                    problem = "its previous hash does not match the link before it"
                elif link_hash(link) != link.hash:
                    problem = "its contents were changed after it was written"
                if problem:
                    return ChainReport(organisation_id, checked, link.id, link.sequence, problem)
                previous_hash, expected_sequence = link.hash, link.sequence + 1
                checked += 1
                if on_progress is not None and checked % every == 0:
                    on_progress(checked)
        finally:
            links.close()  # a server-side cursor on PostgreSQL
        head = self.session.get(AuditChainHead, organisation_id)
        if head is not None and (head.last_sequence, head.last_hash) != (
            expected_sequence - 1,
            previous_hash,
        ):
            return ChainReport(
                organisation_id,
                checked,
                None,
                head.last_sequence,
                "links after the last one were removed",
            )
        return ChainReport(organisation_id, checked)


def chain_length(session: DbSession, organisation_id: int) -> int:
    """How many links the organisation's chain holds, by its head (no table scan)."""
    head = session.get(AuditChainHead, organisation_id)
    return head.last_sequence if head is not None else 0


def record_access(
    session: DbSession,
    *,
    organisation_id: int,
    user_id: int,
    claim_id: int,
    action: str,
    document_id: int | None = None,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> AccessLog:
    entry = AccessLog(
        organisation_id=organisation_id,
        user_id=user_id,
        claim_id=claim_id,
        document_id=document_id,
        action=action,
        request_id=request_id,
        occurred_at=now or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry
