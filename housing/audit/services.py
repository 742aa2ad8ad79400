"""Append to and verify the audit chain; record reads in the access log.

Each organisation has one chain. A link's hash covers its own fields, the SHA-256 of its
payload and the previous link's hash, so altering, inserting or deleting any event breaks
every later link and `verify` names the first one that no longer fits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, cast

from sqlalchemy import CTE, Executable, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from housing.audit.models import AccessLog, AuditChainHead, AuditEvent
from housing.clock import utcnow
from housing.db import DbSession
from housing.inputs import column_length, too_long
from housing.security_events import SUCCESS, security_event

GENESIS_HASH = "0" * 64
# Audited acts a SIEM hears of too (BIO2 8.15): accounts, roles, factors, what leaves the
# system. Written when the link commits, never before (housing.security_events).
SECURITY_EVENTS = frozenset(
    {
        "user_created",
        "user_updated",
        "password_reset",
        "signed_out_everywhere",
        "second_factor_enrolled",
        "second_factor_replaced",
        "second_factor_removed",
        "second_factor_reset",
        "recovery_codes_renewed",
        "recovery_code_used",
        "api_token_issued",
        "api_token_revoked",
        "sign_in_failure_spike",
        # Single sign-on (OpenID Connect): accounts made and roles set by a provider, and
        # the providers themselves (who may sign in, and with which roles).
        "sso_user_provisioned",
        "sso_roles_changed",
        "sign_in_provider_added",
        "sign_in_provider_changed",
        "payouts_exported",
        "batch_file_downloaded",
        "audit_exported",
    }
)
# The payload's keys whose values (ids, counts, dates, names of lists) may go along.
_SECURITY_DETAILS = (
    "rows",
    "from",
    "to",
    "format",
    "list",
    "sessions",
    "failures",
    "provider_id",
)
HEAD = cast(Table, AuditChainHead.__table__)
EVENTS = cast(Table, AuditEvent.__table__)


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
    # The hash of the last link found intact (the chain's head when it is intact), and
    # when the first and that last link were written: what a verification report states.
    head_hash: str = GENESIS_HASH
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None

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


@cache
def _head_lock(dialect: str) -> Executable:
    """`AuditTrail._lock_head`'s statement for `organisation_id` (bound), built once."""
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        upsert(HEAD)
        .values(
            organisation_id=bindparam("organisation_id"),
            last_sequence=0,
            last_hash=GENESIS_HASH,
        )
        .on_conflict_do_update(
            index_elements=[HEAD.c.organisation_id],
            set_={HEAD.c.last_sequence: HEAD.c.last_sequence},
        )
        .returning(HEAD.c.last_sequence, HEAD.c.last_hash)
    )


# A link's columns as the INSERT names its values (all but the id, which the database gives).
_LINK_KEYS = tuple(column.key for column in EVENTS.columns if column.key != "id")


@cache
def _link_and_head_write() -> Executable:
    """One link's INSERT with the head's UPDATE in a CTE (PostgreSQL), built once: the
    link's columns are bound as `link_<column>`, the head's as `head_*` (never by a column's
    bare name: the UPDATE would take such a parameter for that column's new value)."""
    move_head = (
        update(HEAD)
        .where(HEAD.c.organisation_id == bindparam("head_organisation_id"))
        .values(last_sequence=bindparam("head_sequence"), last_hash=bindparam("head_hash"))
    )
    return (
        insert(EVENTS)
        .values({key: bindparam(f"link_{key}") for key in _LINK_KEYS})
        .add_cte(move_head.cte("moved_head"))
        .returning(EVENTS.c.id)
    )


class AuditTrail:
    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    def _lock_head(self, organisation_id: int) -> tuple[int, str]:
        """Lock the organisation's chain head until the commit; its sequence and hash.

        One statement. The head of an organisation's first link is created here; a second
        first link at the same moment waits for that insert and then takes the update path
        (ON CONFLICT is race-free). The update changes nothing: it is there for its row
        lock, which serialises the appends of one organisation, and for RETURNING, which
        hands back the predecessor on either path.
        """
        lock = _head_lock(self.session.get_bind().dialect.name)
        sequence, last_hash = self.session.execute(lock, {"organisation_id": organisation_id}).one()
        return sequence, last_hash

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
        """Add a link in the caller's transaction; it commits or rolls back with the change.

        Two statements on PostgreSQL: the head locked and read, then the link inserted
        and the head moved onto it in one statement.
        """
        link = NewLink(event, actor_id, claim_id, from_state, to_state, reason, payload)
        return self.append_many(organisation_id, [link])[0]

    def append_many(self, organisation_id: int, links: Sequence[NewLink]) -> list[AuditEvent]:
        """Add links in order, in the caller's transaction: the head locked once.

        Chained exactly as one `append` after another would chain them (same fields,
        `link_hash`, `payload_digest`), so `verify` checks them alike; they share one
        moment. Many links are inserted with their ids taken from the sequence at once.
        The links returned are written; read them, never change them (a single link on
        PostgreSQL is not in the session).
        """
        if not links:
            return []
        for new in links:
            # Every reason given for an act ends here: bounded once for forms and API alike.
            if new.reason is not None and len(new.reason) > column_length(AuditEvent.reason):
                raise too_long("reason", AuditEvent.reason)
        # The caller's pending changes are flushed first (the flush that wrote the link
        # used to take them along), also under `no_autoflush`.
        self.session.flush()
        sequence, previous_hash = self._lock_head(organisation_id)
        occurred_at = self.clock().astimezone(dt.UTC)
        events = []
        for new in links:
            sequence += 1
            link = AuditEvent(
                organisation_id=organisation_id,
                sequence=sequence,
                claim_id=new.claim_id,
                actor_id=new.actor_id,
                occurred_at=occurred_at,
                event=new.event,
                from_state=new.from_state,
                to_state=new.to_state,
                reason=new.reason,
                payload_hash=payload_digest(new.payload or {}),
                previous_hash=previous_hash,
            )
            link.hash = previous_hash = link_hash(link)
            events.append(link)
        self._write(organisation_id, events)
        for new in links:
            if new.event in SECURITY_EVENTS:
                self._tell_siem(organisation_id, new)
        return events

    def _tell_siem(self, organisation_id: int, new: NewLink) -> None:
        payload = dict(new.payload or {})
        subject = next(
            (
                f"{name.removesuffix('_id')}:{payload[name]}"
                for name in ("user_id", "batch_id")
                if name in payload
            ),
            None,
        )
        roles = payload.get("roles")
        detail = {key: payload[key] for key in _SECURITY_DETAILS if key in payload}
        if isinstance(roles, Mapping):  # a change: what was added and removed
            detail.update(
                roles_added=roles.get("added", []), roles_removed=roles.get("removed", [])
            )
        elif roles:  # a new account's roles
            detail["roles"] = list(roles)
        if "active" in payload:
            detail["active"] = payload["active"]
        security_event(
            new.event,
            result=SUCCESS,
            actor_id=new.actor_id,
            organisation_id=organisation_id,
            object=subject,
            session=self.session,
            **detail,
        )

    def _write(self, organisation_id: int, events: list[AuditEvent]) -> None:
        """Insert the links and move the head onto the last, under the head's lock."""
        last = events[-1]
        if len(events) == 1 and self.session.get_bind().dialect.name == "postgresql":
            # One statement: the link's INSERT carries the head's UPDATE in a data-modifying
            # CTE, so the head and the last link never disagree, not even in between.
            (link,) = events
            values = {f"link_{key}": getattr(link, key) for key in _LINK_KEYS}
            values.update(
                head_organisation_id=organisation_id,
                head_sequence=link.sequence,
                head_hash=link.hash,
            )
            write = _link_and_head_write()
            link.id = self.session.execute(write, values).scalar_one()
            # The row it mirrors is written. Not put in the session: the session would take
            # it for a row of earlier transactions and keep it after a rollback.
            make_transient_to_detached(link)
        else:
            # Many links: ids taken from the sequence at once and one executemany of a
            # short INSERT (PostgreSQL). SQLite has no data-modifying CTE; it serialises
            # writers anyway.
            for link, ident in zip(
                events, reserve_ids(self.session, AuditEvent, len(events)), strict=False
            ):
                link.id = ident
            self.session.execute(
                update(HEAD)
                .where(HEAD.c.organisation_id == organisation_id)
                .values(last_sequence=last.sequence, last_hash=last.hash)
            )
            self.session.add_all(events)
            self.session.flush()
        # A head this session loaded before (`verify`, `chain_length`) is out of date now.
        head = self.session.identity_map.get(
            self.session.identity_key(AuditChainHead, organisation_id)
        )
        if head is not None:
            self.session.expire(head)

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
        first_at: dt.datetime | None = None
        last_at: dt.datetime | None = None
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
                    return ChainReport(
                        organisation_id,
                        checked,
                        link.id,
                        link.sequence,
                        problem,
                        previous_hash,
                        first_at,
                        last_at,
                    )
                previous_hash, expected_sequence = link.hash, link.sequence + 1
                first_at = first_at or link.occurred_at
                last_at = link.occurred_at
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
                previous_hash,
                first_at,
                last_at,
            )
        return ChainReport(
            organisation_id, checked, head_hash=previous_hash, first_at=first_at, last_at=last_at
        )


def chain_length(session: DbSession, organisation_id: int) -> int:
    """How many links the organisation's chain holds, by its head (no table scan)."""
    head = session.get(AuditChainHead, organisation_id)
    return head.last_sequence if head is not None else 0


VIEW_CLAIM, DOWNLOAD = "view_claim", "download"

# Built once: a read's log row is one INSERT of bound values, without the ORM's flush. The
# reader's values are bound under `access_*` names (`_reader_values`), which no read's own
# parameters use, so that a read may carry its log row in its own statement (`read_logged`).
_READER = {
    name: bindparam(f"access_{name}", type_=AccessLog.__table__.c[name].type)
    for name in ("user_id", "document_id", "action", "roles", "request_id", "occurred_at")
}
_ACCESS_INSERT = insert(AccessLog).values(
    organisation_id=bindparam("organisation_id"), claim_id=bindparam("claim_id"), **_READER
)


def _reader_values(
    *,
    user_id: int,
    roles: Iterable[str],
    action: str,
    document_id: int | None,
    request_id: str | None,
    now: dt.datetime | None,
) -> dict[str, Any]:
    return {
        "access_user_id": user_id,
        "access_document_id": document_id,
        "access_action": action,
        "access_roles": ",".join(sorted(roles)),
        "access_request_id": request_id,
        "access_occurred_at": now or utcnow(),
    }


def read_logged(claim_read: Select[int, int]) -> CTE:
    """A read's log row, written by the read's own statement (PostgreSQL's data-modifying
    CTE, `Select.add_cte`): one row for the claim `claim_read` selects (its organisation
    and id, when the reader may see it), none when it selects none. Executed with
    `read_logged_values`; a database without such CTEs logs the read by `record_access`."""
    return (
        insert(AccessLog)
        .from_select(
            ["organisation_id", "claim_id", *_READER],
            claim_read.add_columns(*_READER.values()),
        )
        .cte("read_logged")
    )


def read_logged_values(
    *, user_id: int, roles: Iterable[str], request_id: str | None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The values of `read_logged`'s row: `user_id`, in `roles`, viewed the claim."""
    return _reader_values(
        user_id=user_id,
        roles=roles,
        action=VIEW_CLAIM,
        document_id=None,
        request_id=request_id,
        now=now,
    )


def record_access(
    session: DbSession,
    *,
    organisation_id: int,
    user_id: int,
    roles: Iterable[str],
    claim_id: int,
    action: str,
    document_id: int | None = None,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Log that `user_id`, in `roles`, read (`action`) the claim or one of its documents,
    in the caller's transaction: the log row is saved with the request's work or not at
    all; a download is a security event too, told once it is saved.

    Sent on the session's connection, past the ORM: nothing of the unit of work is
    involved in a row no one reads back in the request (half the time of an ORM INSERT)."""
    reader = _reader_values(
        user_id=user_id,
        roles=roles,
        action=action,
        document_id=document_id,
        request_id=request_id,
        now=now,
    )
    session.connection().execute(
        _ACCESS_INSERT, {"organisation_id": organisation_id, "claim_id": claim_id, **reader}
    )
    if action == DOWNLOAD:
        security_event(
            "download",
            result=SUCCESS,
            actor_id=user_id,
            organisation_id=organisation_id,
            object=f"document:{document_id}" if document_id else f"claim:{claim_id}",
            session=session,
        )
