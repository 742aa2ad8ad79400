"""The statement import's writes, in bulk: entries, payout updates and audit links per chunk.

A statement of 50,000 entries must not cost 50,000 round trips: entries go in with one
executemany, the payouts the bank booked or returned with one UPDATE per chunk, and their
audit links with one `AuditTrail.append_many`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Table, bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value

from housing.audit.services import AuditTrail, NewLink, reserve_ids
from housing.db import DbSession
from housing.errors import Conflict
from housing.payments.models import Payout, StatementEntry
from housing.workflow import transition_link
from workflows.machine import TransitionRecord
from workflows.payments import PAYOUT, PayoutEvent, PayoutState, fire_payout
from workflows.rules import Actor

_SYSTEM = Actor.system()


class NewEntry:
    """A statement entry on its way in: its column values, and its id once inserted."""

    __slots__ = ("id", "values")

    def __init__(self, **values: Any) -> None:
        self.values: dict[str, Any] = values
        self.id: int | None = None


@dataclass
class _MachinePayout:
    """What the payout machine reads and writes (`workflows.payments.PayoutLike`)."""

    state: Any
    amount: Decimal
    requested_by_id: int | None
    first_approved_by_id: int | None
    approved_by_id: int | None


class BulkWrites:
    """What one import has yet to write, and the writing of it once per chunk."""

    def __init__(
        self, session: DbSession, clock: Callable[[], dt.datetime], organisation_id: int
    ) -> None:
        self.session = session
        self.organisation_id = organisation_id
        self.trail = AuditTrail(session, clock)
        # Links to write once the chunk's entries have their ids (a payload may name one).
        self.links: list[Callable[[], NewLink]] = []
        self.booked_payouts: list[dict[str, Any]] = []
        self.returned_payouts: list[dict[str, Any]] = []

    def insert_entries(self, rows: Sequence[NewEntry]) -> None:
        """Insert the chunk's entries with one executemany, and learn their ids.

        Core, not ORM objects: the ORM renders a thousand rows into one long INSERT, which
        psycopg parses slowly (ten times the cost of the rest of the row's work); with the
        ids taken from the sequence first, a short prepared INSERT is sent once per row.
        """
        if not rows:
            return
        table = cast(Table, StatementEntry.__table__)
        ids = reserve_ids(self.session, StatementEntry, len(rows))
        if ids:
            for row, ident in zip(rows, ids, strict=True):
                row.id = row.values["id"] = ident
            self.session.execute(insert(table), [row.values for row in rows])
            return
        # Elsewhere (SQLite) the database hands out the ids, in the order of the rows.
        returned = self.session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [row.values for row in rows],
        )
        for row, ident in zip(rows, returned.scalars(), strict=True):
            row.id = ident

    def fire(
        self, payout: Payout, event: PayoutEvent, **values: Any
    ) -> TransitionRecord[PayoutState, PayoutEvent]:
        """Run the payout's workflow event, and queue its write for one UPDATE per chunk.

        Payouts carry a version column, with which the ORM writes each changed payout in
        an UPDATE of its own: 50,000 round trips for a large statement. The machine still
        decides (an event it does not allow raises here, and nothing changed); the new
        values are written in one executemany per chunk, checked against the version read
        (the rows are locked besides). The machine runs on a stand-in, and the session
        learns the outcome as committed state, so the ORM neither writes the payout again
        nor keeps every booked payout on its list of changed objects until the end.
        """
        stand_in = _MachinePayout(
            state=payout.state,
            amount=payout.amount,
            requested_by_id=payout.requested_by_id,
            first_approved_by_id=payout.first_approved_by_id,
            approved_by_id=payout.approved_by_id,
        )
        record = fire_payout(stand_in, event, actor=_SYSTEM)
        state = record.dest.value
        version = payout.version
        for name, value in {"state": state, "version": version + 1, **values}.items():
            set_committed_value(payout, name, value)
        row = {"b_id": payout.id, "b_version": version, "b_state": state}
        row.update({f"b_{name}": value for name, value in values.items()})
        queue = self.returned_payouts if event is PayoutEvent.RETURN else self.booked_payouts
        queue.append(row)
        return record

    def link_transition(
        self,
        payout: Payout,
        record: TransitionRecord[PayoutState, PayoutEvent],
        payload: Callable[[], dict[str, Any]],
        reason: str | None = None,
    ) -> None:
        """Queue the audit link of a payout's transition, as `housing.workflow` words it."""
        self.links.append(
            lambda: transition_link(
                PAYOUT, payout, record, actor_id=None, reason=reason, payload=payload()
            )
        )

    def link(self, event: str, claim_id: int | None, payload: Callable[[], dict[str, Any]]) -> None:
        """Queue a link of something the import noticed (a gap, a duplicate)."""
        self.links.append(
            lambda: NewLink(event=event, actor_id=None, claim_id=claim_id, payload=payload())
        )

    def write_payouts(self) -> None:
        table = cast(Table, Payout.__table__)
        columns = {
            "state": bindparam("b_state"),
            "version": bindparam("b_version", type_=Integer) + 1,
        }
        for queue, extra in (
            (self.booked_payouts, ()),
            (self.returned_payouts, ("return_reason_code", "return_reason")),
        ):
            if not queue:
                continue
            statement = (
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
                .values(**columns, **{name: bindparam(f"b_{name}") for name in extra})
            )
            written = self.session.connection().execute(statement, queue).rowcount
            if written != len(queue):
                # Locked rows cannot change under us; if they did, stop rather than guess.
                raise Conflict(_l("A payout changed during the import. Please import again."))
            queue.clear()

    def write_links(self) -> None:
        """Append the queued audit links: the chain head locked once, one INSERT for all."""
        if not self.links:
            return
        # The system did it: the bank's statement (actor None on every link).
        self.trail.append_many(self.organisation_id, [make() for make in self.links])
        self.links.clear()
