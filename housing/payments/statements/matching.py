"""Matching a statement against our payouts (issue 5 §5), entry by entry, in the issue's order.

By EndToEndId per transaction detail (also inside batch entries); a batch entry without
details by PmtInfId only when count and total agree; nothing else. A return sends its
payout back for a new IBAN; a second debit for a booked payout is flagged. What is not
matched is stored for the review queue. Each chunk costs the same thirteen or so queries
whatever its size (`_Run.chunk`); the writes go in bulk (`writes.BulkWrites`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import IntEnum
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import select

from housing.db import DbSession
from housing.payments import camt_model
from housing.payments.claims_follow import queue_follow_claims
from housing.payments.models import (
    BankStatement,
    PaymentBatch,
    StatementEntry,
    StatementEntryStatus,
)
from housing.payments.statements.balances import StatementRows
from housing.payments.statements.lookups import (
    SENT_BATCHES,
    Hit,
    batches_by_pmt_inf,
    current_items,
    fully_booked,
    items_by_end_to_end,
)
from housing.payments.statements.writes import BulkWrites, NewEntry
from housing.workflow import fire
from workflows.payments import BATCH, BatchEvent, BatchState, PayoutEvent, PayoutState

NOTE_LENGTH = 300
EURO = "EUR"


@dataclass
class ImportReport:
    """What one import did, in figures only (it becomes the job's result)."""

    statements_new: int = 0
    statements_skipped: int = 0  # imported before: no new statement row
    balance_gaps: int = 0  # opening balance ≠ the previous statement's closing balance
    entries_matched: int = 0  # every payment of the entry found and booked
    payouts_booked: int = 0
    batches_booked: int = 0
    returns: int = 0  # payouts sent back by the bank
    duplicates: int = 0  # entries flagged: a second debit (or return) for the same payout
    unmatched: int = 0  # entries left for the review queue
    already_imported: int = 0  # entries of an earlier import: skipped
    not_booked: int = 0  # pending or informational entries: not bookings, not stored

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _or_unknown(value: Any) -> Any:
    return "?" if value is None else value


def cut(text: str | None, length: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= length else text[: length - 1] + "…"


class _Verdict(IntEnum):
    """One payment's outcome; an entry takes the most serious of its payments'."""

    BOOKED = 0
    RETURNED = 1
    UNMATCHED = 2
    DUPLICATE = 3


_ENTRY_STATUS = {
    _Verdict.BOOKED: StatementEntryStatus.MATCHED,
    _Verdict.RETURNED: StatementEntryStatus.RETURN,
    _Verdict.UNMATCHED: StatementEntryStatus.UNMATCHED,
    _Verdict.DUPLICATE: StatementEntryStatus.DUPLICATE,
}


@dataclass
class _Outcome:
    """What matching decided for one entry, before any of it is written."""

    verdicts: list[_Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    booked: list[Hit] = field(default_factory=list)

    def add(self, verdict: _Verdict, note: str | None = None) -> None:
        self.verdicts.append(verdict)
        if note:
            self.notes.append(note)

    @property
    def status(self) -> StatementEntryStatus:
        return _ENTRY_STATUS[max(self.verdicts, default=_Verdict.UNMATCHED)]


class _Run(StatementRows):
    """The state of one import: the rows it made, what it changed, its report."""

    def __init__(
        self, session: DbSession, clock: Callable[[], dt.datetime], organisation_id: int
    ) -> None:
        self.session = session
        self.clock = clock
        self.organisation_id = organisation_id
        self.report = ImportReport()
        self.writes = BulkWrites(session, clock, organisation_id)
        # Statements that existed before this import: only their entries may be known.
        self.known_statements: set[int] = set()
        # (statement ident, entry reference) seen in this file: a repeat is a skip too.
        self.seen: set[tuple[str, str]] = set()
        # Items booked in this import, before their entry has an id to point at.
        self.booked_items: dict[int, NewEntry] = {}
        self.touched_batches: set[int] = set()
        self.touched_claims: set[int] = set()

    # --- entries ---------------------------------------------------------------------------
    def chunk(self, chunk: Sequence[tuple[BankStatement, camt_model.Entry]]) -> None:
        """Store and match one chunk of entries with a fixed number of queries."""
        fresh = self._fresh(chunk)
        hits = items_by_end_to_end(
            self.session,
            self.organisation_id,
            {
                detail.end_to_end_id
                for _, entry in fresh
                for detail in entry.details
                if detail.end_to_end_id
            },
        )
        batches = batches_by_pmt_inf(
            self.session,
            self.organisation_id,
            {
                entry.batch.payment_information_id
                for _, entry in fresh
                if not entry.details and entry.batch and entry.batch.payment_information_id
            },
        )
        current = current_items(
            self.session,
            {hit.payout.id for hit in hits.values()}
            | {hit.payout.id for found in batches.values() for hit in found[1]},
        )
        decided: list[tuple[NewEntry, _Outcome]] = []
        for statement, entry in fresh:
            row = self._entry_row(statement, entry)
            outcome = self._match(row, entry, hits, batches, current)
            status = outcome.status
            row.values["status"] = status
            row.values["note"] = (
                cut(" ".join(outcome.notes), NOTE_LENGTH) if outcome.notes else None
            )
            self._count(status)
            decided.append((row, outcome))
        self.writes.insert_entries([row for row, _outcome in decided])
        for row, outcome in decided:
            for hit in outcome.booked:
                hit.item.booked_entry_id = row.id
        self.writes.write_payouts()
        self.writes.write_links()
        self.session.flush()

    def _fresh(
        self, chunk: Sequence[tuple[BankStatement, camt_model.Entry]]
    ) -> list[tuple[BankStatement, camt_model.Entry]]:
        """The chunk's entries that are bookings and were not imported before."""
        known: set[tuple[str, str]] = set()
        again = [(row, entry) for row, entry in chunk if row.id in self.known_statements]
        if again:
            known = {
                (ident, reference)
                for ident, reference in self.session.execute(
                    select(StatementEntry.statement_ident, StatementEntry.entry_reference).where(
                        StatementEntry.organisation_id == self.organisation_id,
                        StatementEntry.statement_ident.in_(
                            sorted({r.statement_ident for r, _ in again})
                        ),
                        StatementEntry.entry_reference.in_(sorted({e.reference for _, e in again})),
                    )
                )
            }
        fresh = []
        for row, entry in chunk:
            key = (row.statement_ident, entry.reference)
            if key in known or key in self.seen:
                self.report.already_imported += 1
                continue
            if entry.status is not camt_model.EntryStatus.BOOKED:
                # Pending or informational: not a booking yet. Not stored, so the statement
                # that books it later is matched then.
                self.report.not_booked += 1
                continue
            self.seen.add(key)
            fresh.append((row, entry))
        return fresh

    def _entry_row(self, statement: BankStatement, entry: camt_model.Entry) -> NewEntry:
        single = entry.details[0] if len(entry.details) == 1 else None
        end_to_end = [d.end_to_end_id for d in entry.details if d.end_to_end_id]
        batch = entry.batch
        return NewEntry(
            organisation_id=self.organisation_id,
            statement_id=statement.id,
            statement_ident=statement.statement_ident,
            entry_reference=entry.reference,
            amount=entry.amount,
            credit=entry.credit_debit is camt_model.CreditDebit.CREDIT,
            booking_date=entry.booking_date,
            end_to_end_ids=",".join(end_to_end) or None,
            pmt_inf_id=cut(
                batch.payment_information_id
                if batch is not None
                else (single.payment_information_id if single else None),
                35,
            ),
            counterparty=cut(single.counterparty_name if single else None, 140),
            remittance=cut((single.remittance if single else None) or entry.additional_info, 140),
        )

    def _count(self, status: StatementEntryStatus) -> None:
        if status is StatementEntryStatus.MATCHED:
            self.report.entries_matched += 1
        elif status is StatementEntryStatus.DUPLICATE:
            self.report.duplicates += 1
        elif status is StatementEntryStatus.UNMATCHED:
            self.report.unmatched += 1

    # --- matching (issue 5 §5, in its order) ----------------------------------------------
    def _match(
        self,
        row: NewEntry,
        entry: camt_model.Entry,
        hits: Mapping[str, Hit],
        batches: Mapping[str, tuple[PaymentBatch, list[Hit]]],
        current: Mapping[int, int],
    ) -> _Outcome:
        outcome = _Outcome()
        if entry.currency != EURO:
            outcome.add(
                _Verdict.UNMATCHED, _("Not in euros (%(currency)s).", currency=entry.currency)
            )
        elif entry.reversal:
            outcome.add(_Verdict.UNMATCHED, _("A reversal is not matched automatically."))
        elif entry.credit_debit is camt_model.CreditDebit.CREDIT:
            self._credit(row, entry, hits, current, outcome)
        elif entry.details:
            self._debit_details(row, entry, hits, current, outcome)
        elif entry.batches:
            self._debit_batch(row, entry, batches, current, outcome)
        else:
            outcome.add(
                _Verdict.UNMATCHED,
                _("The entry has no EndToEndId and no batch reference."),
            )
        return outcome

    def _debit_details(
        self,
        row: NewEntry,
        entry: camt_model.Entry,
        hits: Mapping[str, Hit],
        current: Mapping[int, int],
        outcome: _Outcome,
    ) -> None:
        amounts = [detail.amount for detail in entry.details]
        if len(amounts) > 1 and None not in amounts:
            total = sum(cast(list[Decimal], amounts), Decimal("0"))
            if total != entry.amount:
                # The bank took more or less than the payments add up to (costs, a part
                # booked elsewhere): a person looks before anything is booked.
                outcome.add(
                    _Verdict.UNMATCHED,
                    _(
                        "The payments add up to %(total)s, the entry is %(amount)s.",
                        total=total,
                        amount=entry.amount,
                    ),
                )
                return
        for detail in entry.details:
            self._debit(row, detail, hits, current, outcome)

    def _debit(
        self,
        row: NewEntry,
        detail: camt_model.TransactionDetails,
        hits: Mapping[str, Hit],
        current: Mapping[int, int],
        outcome: _Outcome,
    ) -> None:
        e2e = detail.end_to_end_id
        if not e2e:
            outcome.add(_Verdict.UNMATCHED, _("A payment without an EndToEndId."))
            return
        hit = hits.get(e2e)
        if hit is None:
            outcome.add(_Verdict.UNMATCHED, _("Unknown EndToEndId %(id)s.", id=e2e))
            return
        if self._is_booked(hit):
            self._flag(row, hit, _("%(id)s was booked already: a second debit.", id=e2e), outcome)
            return
        problem = self._unpayable(hit, detail.amount, current)
        if problem:
            outcome.add(_Verdict.UNMATCHED, problem)
            return
        self._book(row, hit, outcome)

    def _debit_batch(
        self,
        row: NewEntry,
        entry: camt_model.Entry,
        batches: Mapping[str, tuple[PaymentBatch, list[Hit]]],
        current: Mapping[int, int],
        outcome: _Outcome,
    ) -> None:
        info = entry.batch
        if info is None:
            outcome.add(
                _Verdict.UNMATCHED, _("Several batch references: not matched automatically.")
            )
            return
        pmt = info.payment_information_id
        found = batches.get(pmt) if pmt else None
        if found is None:
            outcome.add(_Verdict.UNMATCHED, _("Unknown batch %(id)s.", id=pmt or "-"))
            return
        batch, items = found
        if batch.state == BatchState.BOOKED or any(self._is_booked(hit) for hit in items):
            self._flag_batch(row, batch, items, outcome)
            return
        if batch.state != BatchState.RELEASED:
            outcome.add(
                _Verdict.UNMATCHED,
                _("Batch %(id)s was not released.", id=batch.pmt_inf_id),
            )
            return
        ours = sum((hit.item.amount for hit in items), Decimal("0"))
        agrees = (
            info.number_of_transactions == batch.item_count == len(items)
            and info.total_amount == batch.total == ours == entry.amount
        )
        if not agrees:
            outcome.add(
                _Verdict.UNMATCHED,
                _(
                    "Batch %(id)s: %(count)s payments of %(total)s on the statement,"
                    " %(our_count)s of %(our_total)s in the batch.",
                    id=batch.pmt_inf_id,
                    count=_or_unknown(info.number_of_transactions),
                    total=info.total_amount if info.total_amount is not None else entry.amount,
                    our_count=batch.item_count,
                    our_total=batch.total,
                ),
            )
            return
        problems = [p for hit in items if (p := self._unpayable(hit, hit.item.amount, current))]
        if problems:
            outcome.add(
                _Verdict.UNMATCHED,
                _(
                    "Batch %(id)s: not every payout waits to be booked.",
                    id=batch.pmt_inf_id,
                ),
            )
            outcome.notes.extend(problems[:3])
            return
        for hit in items:
            self._book(row, hit, outcome)

    def _credit(
        self,
        row: NewEntry,
        entry: camt_model.Entry,
        hits: Mapping[str, Hit],
        current: Mapping[int, int],
        outcome: _Outcome,
    ) -> None:
        returns = [d for d in entry.details if d.return_info is not None]
        if not returns or len(returns) != len(entry.details):
            outcome.add(
                _Verdict.UNMATCHED,
                _("A credit without return information is not matched automatically."),
            )
            return
        for detail in returns:
            e2e = detail.end_to_end_id
            hit = hits.get(e2e) if e2e else None
            if hit is None:
                outcome.add(
                    _Verdict.UNMATCHED, _("A return of unknown EndToEndId %(id)s.", id=e2e or "-")
                )
                continue
            payout = hit.payout
            if current.get(payout.id) != hit.item.id or payout.state == PayoutState.RETURNED:
                self._flag(row, hit, _("%(id)s was returned already.", id=e2e), outcome)
                continue
            if payout.state not in (PayoutState.SENT, PayoutState.BOOKED):
                outcome.add(
                    _Verdict.UNMATCHED,
                    _("%(id)s: the payout is %(state)s.", id=e2e, state=payout.state),
                )
                continue
            if detail.amount != hit.item.amount:
                outcome.add(
                    _Verdict.UNMATCHED,
                    _(
                        "%(id)s: %(found)s returned, %(expected)s was paid.",
                        id=e2e,
                        found=detail.amount if detail.amount is not None else "?",
                        expected=hit.item.amount,
                    ),
                )
                continue
            self._return(row, hit, cast(camt_model.ReturnInfo, detail.return_info), outcome)

    def _is_booked(self, hit: Hit) -> bool:
        return hit.item.booked_entry_id is not None or hit.item.id in self.booked_items

    def _unpayable(
        self, hit: Hit, amount: Decimal | None, current: Mapping[int, int]
    ) -> str | None:
        """Why this debit is not booked against this item automatically, or None."""
        e2e = hit.item.end_to_end_id
        if hit.batch.state not in SENT_BATCHES:
            return _("%(id)s: its batch was not released.", id=e2e)
        if amount is None:
            return _("%(id)s: the statement gives no amount.", id=e2e)
        if amount != hit.item.amount:
            return _(
                "%(id)s: %(found)s on the statement, %(expected)s in the batch.",
                id=e2e,
                found=amount,
                expected=hit.item.amount,
            )
        if current.get(hit.payout.id) != hit.item.id:
            return _("%(id)s: the payout was paid again under a newer EndToEndId.", id=e2e)
        if hit.payout.state != PayoutState.SENT:
            return _("%(id)s: the payout is %(state)s.", id=e2e, state=hit.payout.state)
        return None

    # --- effects ----------------------------------------------------------------------------
    def _book(self, row: NewEntry, hit: Hit, outcome: _Outcome) -> None:
        payout = hit.payout
        record = self.writes.fire(payout, PayoutEvent.BOOK)
        self.booked_items[hit.item.id] = row
        self.touched_batches.add(hit.batch.id)
        self.touched_claims.add(payout.claim_id)
        self.report.payouts_booked += 1
        outcome.booked.append(hit)
        outcome.add(_Verdict.BOOKED)
        self.writes.link_transition(
            payout,
            record,
            lambda: {"end_to_end_id": hit.item.end_to_end_id, "statement_entry_id": row.id},
        )

    def _return(
        self, row: NewEntry, hit: Hit, info: camt_model.ReturnInfo, outcome: _Outcome
    ) -> None:
        payout = hit.payout
        code = (info.code or "").strip().upper()[:10] or None
        reason = cut(info.description_nl, 200)
        record = self.writes.fire(
            payout, PayoutEvent.RETURN, return_reason_code=code, return_reason=reason
        )
        self.touched_batches.add(hit.batch.id)
        self.touched_claims.add(payout.claim_id)
        self.report.returns += 1
        outcome.add(_Verdict.RETURNED)
        self.writes.link_transition(
            payout,
            record,
            lambda: {
                "end_to_end_id": hit.item.end_to_end_id,
                "reason_code": code,
                "statement_entry_id": row.id,
            },
            reason=reason,
        )

    def _flag(self, row: NewEntry, hit: Hit, note: str, outcome: _Outcome) -> None:
        outcome.add(_Verdict.DUPLICATE, note)
        self.writes.link(
            "statement_entry_duplicate",
            hit.payout.claim_id,
            lambda: {
                "statement_entry_id": row.id,
                "payout_id": hit.payout.id,
                "end_to_end_id": hit.item.end_to_end_id,
            },
        )

    def _flag_batch(
        self, row: NewEntry, batch: PaymentBatch, items: list[Hit], outcome: _Outcome
    ) -> None:
        outcome.add(
            _Verdict.DUPLICATE,
            _("Batch %(id)s was booked already: a second debit.", id=batch.pmt_inf_id),
        )
        self.writes.link(
            "statement_entry_duplicate",
            None,
            lambda: {"statement_entry_id": row.id, "batch_id": batch.id},
        )

    # --- the end ------------------------------------------------------------------------
    def finish(self) -> None:
        """Book the batches now fully booked, and let the claims follow their payouts."""
        self.writes.write_links()
        for batch in fully_booked(self.session, self.touched_batches):
            fire(
                self.writes.trail,
                BATCH,
                batch,
                BatchEvent.BOOK,
                user=None,
                payload={"sha256": batch.file_sha256},
            )
            self.report.batches_booked += 1
        self.session.flush()
        # Thousands of claims may follow one statement: a worker moves them, in chunks.
        if self.touched_claims:
            queue_follow_claims(
                self.session, self.touched_claims, f"statement-import:{secrets.token_hex(8)}"
            )
