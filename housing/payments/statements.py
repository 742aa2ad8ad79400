"""Bank statements (issue 5 §5): import a camt.053, match it against our payouts, review the rest.

`StatementImport.import_file` is one unit of work: it parses the file with the hardened
reader (a refusal writes nothing), skips what was already imported, flags an opening balance
that does not follow the previous closing balance, and matches entry by entry in the order
the issue gives: by EndToEndId per transaction detail (also inside batch entries), a batch
entry without details by PmtInfId only when count and total agree, and nothing else. A
return sends its payout back for a new IBAN; a second debit for a booked payout is flagged.
What is not matched waits in the `ReviewQueue`, where finance matches or dismisses it.

Services flush, never commit: the job (or the caller) commits, so the import, its audit
links and the claims that follow their payouts are one transaction.

Made for statements of 50,000 entries: entries are handled in chunks of `CHUNK`, each with
the same thirteen or so queries whatever its size (see `_Run.chunk`), never one per entry.
Beyond that a file costs a few queries per statement (the balance check) and, at the end,
what `follow_claims` needs per claim whose payouts moved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any, cast

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, link_hash, payload_digest
from housing.clock import utcnow
from housing.crypto import active_cipher
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.jobs.kinds import job_kind
from housing.jobs.services import JobContext, JobFailed
from housing.payments import camt
from housing.payments.claims_follow import follow_claims, queue_follow_claims
from housing.payments.models import (
    BankStatement,
    PaymentBatch,
    PaymentBatchItem,
    Payout,
    StatementEntry,
    StatementEntryStatus,
)
from housing.roles import Role
from housing.scoping import Scope
from workflows.payments import BatchState, PayoutState, fire_batch, fire_payout
from workflows.rules import Actor

# 50,000 entries with full details (about 1.5 kB each) and room to spare; the app setting
# `STATEMENT_MAX_BYTES` overrides it for the job.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# Entries per round of queries: each chunk costs the same queries, whatever its size.
CHUNK = 1000
# Ids per IN (...) list: a batch entry may carry thousands of EndToEndIds on its own.
IN_LIMIT = 1000
NOTE_LENGTH = 300
EURO = "EUR"
# Key space of the advisory lock that serialises imports per organisation (PostgreSQL).
_IMPORT_LOCK = 0x5354_4D54  # "STMT"

STATEMENT_IMPORT = "statement_import"

Progress = Callable[[int, int], None]

_SYSTEM = Actor.system()
# Batches whose payouts have left: their items may appear on a statement.
_SENT_BATCHES = (BatchState.RELEASED.value, BatchState.BOOKED.value)
_REVIEW = (StatementEntryStatus.UNMATCHED, StatementEntryStatus.DUPLICATE)


class ImportRefused(InvalidInput):
    """The file is not imported at all; `code` names why (camt.py's codes, or "account")."""

    def __init__(self, message: Any, *, code: str) -> None:
        super().__init__(message, field_errors={"file": [message]})
        self.code = code


# What finance reads first, per kind of refusal; the reader's technical detail follows it.
_REFUSALS: Mapping[str, Any] = {
    "too_large": _l("The file is too large to import."),
    "not_xml": _l("The file is not valid XML."),
    "doctype": _l("The file contains XML declarations that bank statements never have."),
    "schema": _l("The file does not follow the camt.053.001.02 standard."),
    "unsupported_version": _l("This camt.053 version is not supported."),
    "namespace": _l("The file is not a camt.053 bank statement."),
    "content": _l("The statement holds a value that cannot be read."),
}


def _refused(exc: camt.CamtError) -> ImportRefused:
    summary = _REFUSALS.get(exc.code, _l("The file cannot be read as a bank statement."))
    message = _l(
        "%(summary)s Nothing was imported. (%(detail)s)", summary=summary, detail=exc.message
    )
    return ImportRefused(message, code=exc.code)


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


# --- uploads -----------------------------------------------------------------------------
# The job runs in a worker, later, so the uploaded bytes must wait somewhere. A `Document`
# belongs to a claim and a statement to none, and the job's params are JSON in a table
# that lists jobs: the file (names and IBANs of payees) is stored encrypted with the field
# cipher, in the instance folder outside the web root, under a random key that the view
# passes in the job's params. The runner removes it once the import is done or refused.

UPLOAD_FOLDER = "statement_uploads"
_UPLOAD_KEY = re.compile(r"^[0-9a-f]{40}$")


def _upload_root() -> Path:
    if has_app_context():
        return Path(current_app.instance_path) / UPLOAD_FOLDER
    from housing.config import Settings

    return Settings.from_env().instance_path / UPLOAD_FOLDER


def _upload_path(key: str) -> Path:
    # The key comes back from the job's params: only our own format, never a path.
    if not _UPLOAD_KEY.fullmatch(key):
        raise FileNotFoundError("not an upload key")
    return _upload_root() / key


def store_upload(data: bytes) -> str:
    """Keep an uploaded statement, encrypted, for the import job; returns its key."""
    key = secrets.token_hex(20)
    path = _upload_path(key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_suffix(".partial")
    partial.write_bytes(active_cipher().encrypt_bytes(bytes(data)))
    partial.chmod(0o600)
    os.replace(partial, path)  # a reader never sees half a file
    return key


def load_upload(key: str) -> bytes:
    """The bytes stored under `key`; FileNotFoundError when they are gone."""
    return active_cipher().decrypt_bytes(_upload_path(key).read_bytes())


def discard_upload(key: str) -> None:
    # A key not of our format names nothing of ours: there is nothing to remove.
    with contextlib.suppress(FileNotFoundError):
        _upload_path(key).unlink(missing_ok=True)


# --- the import ----------------------------------------------------------------------------


class StatementImport:
    """Import camt.053 files for an organisation, in the caller's transaction."""

    def __init__(
        self,
        session: Session,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        xsd_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.max_bytes = max_bytes
        self.xsd_path = xsd_path

    def parse(self, data: bytes) -> camt.BankStatementData:
        """Parse and validate, or raise `ImportRefused` (nothing is written either way)."""
        try:
            parsed = camt.parse_statement(data, max_bytes=self.max_bytes, xsd_path=self.xsd_path)
        except camt.CamtError as exc:
            raise _refused(exc) from None
        for statement in parsed.statements:
            # The account's IBAN ties statements together for the balance check.
            if statement.account_iban is None:
                raise ImportRefused(
                    _l(
                        "Statement %(ident)s does not name its account by IBAN. Nothing was"
                        " imported.",
                        ident=statement.statement_id,
                    ),
                    code="account",
                )
        return parsed

    def import_file(
        self,
        organisation_id: int,
        user_id: int,
        data: bytes,
        *,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Import one camt.053 file; importing it again changes nothing."""
        parsed = self.parse(data)  # every refusal comes before the first write
        self._lock(organisation_id)
        run = _Run(self.session, self.clock, organisation_id)
        rows = run.statements(parsed.statements, user_id, hashlib.sha256(data).hexdigest())
        total = sum(len(statement.entries) for statement in parsed.statements)
        if progress is not None:
            progress(0, total)
        done = 0
        for chunk in _chunks(
            ((row, entry) for statement, row in rows for entry in statement.entries), CHUNK
        ):
            run.chunk(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        run.finish()
        return run.report

    def _lock(self, organisation_id: int) -> None:
        # Two imports of one file at once (a double click, two colleagues) would both find
        # nothing imported yet; one waits for the other's commit, then skips it all.
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(_IMPORT_LOCK, organisation_id)))


def _reserve_ids(session: Session, model: type[Any], count: int) -> list[int]:
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


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _slices(values: Sequence[Any], size: int = IN_LIMIT) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _or_unknown(value: Any) -> Any:
    return "?" if value is None else value


def _cut(text: str | None, length: int) -> str | None:
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


class _NewEntry:
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


@dataclass
class _Hit:
    """A batch item of ours, with its batch and payout, as one lookup found them."""

    item: PaymentBatchItem
    batch: PaymentBatch
    payout: Payout


@dataclass
class _Outcome:
    """What matching decided for one entry, before any of it is written."""

    verdicts: list[_Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    booked: list[_Hit] = field(default_factory=list)

    def add(self, verdict: _Verdict, note: str | None = None) -> None:
        self.verdicts.append(verdict)
        if note:
            self.notes.append(note)

    @property
    def status(self) -> StatementEntryStatus:
        return _ENTRY_STATUS[max(self.verdicts, default=_Verdict.UNMATCHED)]


@dataclass
class _PendingLink:
    """An audit link to write at the end of the chunk, once the entries have their ids."""

    event: str
    claim_id: int | None
    from_state: str | None
    to_state: str | None
    reason: str | None
    payload: Callable[[], Mapping[str, Any]]


class _Run:
    """The state of one import: the rows it made, what it changed, its report."""

    def __init__(
        self, session: Session, clock: Callable[[], dt.datetime], organisation_id: int
    ) -> None:
        self.session = session
        self.clock = clock
        self.organisation_id = organisation_id
        self.report = ImportReport()
        self.trail = AuditTrail(session, clock)
        self.links: list[_PendingLink] = []
        # Statements that existed before this import: only their entries may be known.
        self.known_statements: set[int] = set()
        # (statement ident, entry reference) seen in this file: a repeat is a skip too.
        self.seen: set[tuple[str, str]] = set()
        # Items booked in this import, before their entry has an id to point at.
        self.booked_items: dict[int, _NewEntry] = {}
        self.booked_payouts: list[dict[str, Any]] = []
        self.returned_payouts: list[dict[str, Any]] = []
        self.touched_batches: set[int] = set()
        self.touched_claims: set[int] = set()

    # --- statements -----------------------------------------------------------------------
    def statements(
        self, statements: Sequence[camt.Statement], user_id: int, digest: str
    ) -> list[tuple[camt.Statement, BankStatement]]:
        idents = sorted({s.statement_id for s in statements})
        existing = {
            row.statement_ident: row
            for row in self.session.scalars(
                select(BankStatement).where(
                    BankStatement.organisation_id == self.organisation_id,
                    BankStatement.statement_ident.in_(idents),
                )
            )
        }
        self.known_statements = {row.id for row in existing.values()}
        rows: list[tuple[camt.Statement, BankStatement]] = []
        for statement in statements:
            row = existing.get(statement.statement_id)
            if row is not None:
                self.report.statements_skipped += 1
            else:
                row = self._new_statement(statement, user_id, digest)
                existing[statement.statement_id] = row
                self.report.statements_new += 1
            rows.append((statement, row))
        return rows

    def _new_statement(self, statement: camt.Statement, user_id: int, digest: str) -> BankStatement:
        opening, closing = statement.opening_balance, statement.closing_balance
        row = BankStatement(
            organisation_id=self.organisation_id,
            statement_ident=statement.statement_id,
            account_iban=cast(str, statement.account_iban),  # refused in parse() when None
            sequence_number=statement.electronic_sequence_number,
            opening_balance=opening.signed_amount,
            closing_balance=closing.signed_amount,
            opening_date=opening.date,
            closing_date=closing.date,
            balance_gap=False,
            file_sha256=digest,
            imported_by_id=user_id,
        )
        previous = self._previous(row)  # before the add: the query must not find `row`
        self.session.add(row)
        self.session.flush()
        if previous is not None and previous.closing_balance != row.opening_balance:
            row.balance_gap = True
            self.report.balance_gaps += 1
            self.links.append(
                _PendingLink(
                    event="statement_balance_gap",
                    claim_id=None,
                    from_state=None,
                    to_state=None,
                    reason=None,
                    payload=lambda: {
                        "statement_id": row.id,
                        "statement": row.statement_ident,
                        "previous_statement": previous.statement_ident,
                        "previous_closing_balance": previous.closing_balance,
                        "opening_balance": row.opening_balance,
                    },
                )
            )
        return row

    def _previous(self, row: BankStatement) -> BankStatement | None:
        """The latest earlier statement of the same account (one query per statement)."""
        query = select(BankStatement).where(
            BankStatement.organisation_id == self.organisation_id,
            BankStatement.account_iban == row.account_iban,
        )
        if row.sequence_number is not None:
            # The bank numbers its statements: "earlier" is by that number, so a statement
            # imported late is checked against the one before it, not the newest.
            query = query.where(BankStatement.sequence_number < row.sequence_number).order_by(
                BankStatement.sequence_number.desc(), BankStatement.id.desc()
            )
        else:
            if row.opening_date is not None:
                query = query.where(BankStatement.closing_date <= row.opening_date)
            query = query.order_by(BankStatement.closing_date.desc(), BankStatement.id.desc())
        return self.session.scalars(query.limit(1)).first()

    # --- entries ---------------------------------------------------------------------------
    def chunk(self, chunk: Sequence[tuple[BankStatement, camt.Entry]]) -> None:
        """Store and match one chunk of entries with a fixed number of queries."""
        fresh = self._fresh(chunk)
        hits = self._items_by_end_to_end(
            {
                detail.end_to_end_id
                for _, entry in fresh
                for detail in entry.details
                if detail.end_to_end_id
            }
        )
        batches = self._batches_by_pmt_inf(
            {
                entry.batch.payment_information_id
                for _, entry in fresh
                if not entry.details and entry.batch and entry.batch.payment_information_id
            }
        )
        current = self._current_items(
            {hit.payout.id for hit in hits.values()}
            | {hit.payout.id for found in batches.values() for hit in found[1]}
        )
        decided: list[tuple[_NewEntry, _Outcome]] = []
        for statement, entry in fresh:
            row = self._entry_row(statement, entry)
            outcome = self._match(row, entry, hits, batches, current)
            status = outcome.status
            row.values["status"] = status
            row.values["note"] = (
                _cut(" ".join(outcome.notes), NOTE_LENGTH) if outcome.notes else None
            )
            self._count(status)
            decided.append((row, outcome))
        self._insert_entries([row for row, _outcome in decided])
        for row, outcome in decided:
            for hit in outcome.booked:
                hit.item.booked_entry_id = row.id
        self._write_payouts()
        self._write_links()
        self.session.flush()

    def _fresh(
        self, chunk: Sequence[tuple[BankStatement, camt.Entry]]
    ) -> list[tuple[BankStatement, camt.Entry]]:
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
            if entry.status is not camt.EntryStatus.BOOKED:
                # Pending or informational: not a booking yet. Not stored, so the statement
                # that books it later is matched then.
                self.report.not_booked += 1
                continue
            self.seen.add(key)
            fresh.append((row, entry))
        return fresh

    def _items_by_end_to_end(self, ids: set[str]) -> dict[str, _Hit]:
        hits: dict[str, _Hit] = {}
        for part in _slices(sorted(ids)):
            rows = self.session.execute(
                select(PaymentBatchItem, PaymentBatch, Payout)
                .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
                .join(Payout, Payout.id == PaymentBatchItem.payout_id)
                .where(
                    PaymentBatchItem.end_to_end_id.in_(part),
                    # Another organisation's id is an unknown id here.
                    PaymentBatch.organisation_id == self.organisation_id,
                )
                # Locked until commit: finance cannot correct a payout while it is booked.
                .with_for_update(of=[PaymentBatchItem, Payout])
                .execution_options(populate_existing=True)
            )
            for item, batch, payout in rows:
                hits[item.end_to_end_id] = _Hit(item, batch, payout)
        return hits

    def _batches_by_pmt_inf(self, ids: set[str]) -> dict[str, tuple[PaymentBatch, list[_Hit]]]:
        if not ids:
            return {}
        found: dict[int, tuple[PaymentBatch, list[_Hit]]] = {}
        for part in _slices(sorted(ids)):
            for batch in self.session.scalars(
                select(PaymentBatch)
                .where(
                    PaymentBatch.organisation_id == self.organisation_id,
                    PaymentBatch.pmt_inf_id.in_(part),
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            ):
                found[batch.id] = (batch, [])
        for part in _slices(sorted(found)):
            rows = self.session.execute(
                select(PaymentBatchItem, Payout)
                .join(Payout, Payout.id == PaymentBatchItem.payout_id)
                .where(PaymentBatchItem.batch_id.in_(part))
                .order_by(PaymentBatchItem.id)
                .with_for_update(of=[PaymentBatchItem, Payout])
                .execution_options(populate_existing=True)
            )
            for item, payout in rows:
                batch, hits = found[item.batch_id]
                hits.append(_Hit(item, batch, payout))
        return {batch.pmt_inf_id: (batch, hits) for batch, hits in found.values()}

    def _current_items(self, payout_ids: set[int]) -> dict[int, int]:
        """Per payout, its latest item in a sent batch: the payment the bank is handling.

        A payout returned and paid again travels under a new EndToEndId; the old one may
        still turn up (a late debit, a second return) and must not touch the new payment.
        """
        current: dict[int, int] = {}
        for part in _slices(sorted(payout_ids)):
            rows = self.session.execute(
                select(PaymentBatchItem.payout_id, func.max(PaymentBatchItem.id))
                .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
                .where(
                    PaymentBatchItem.payout_id.in_(part),
                    PaymentBatch.state.in_(_SENT_BATCHES),
                )
                .group_by(PaymentBatchItem.payout_id)
            )
            current.update({payout_id: item_id for payout_id, item_id in rows})
        return current

    def _insert_entries(self, rows: Sequence[_NewEntry]) -> None:
        """Insert the chunk's entries with one executemany, and learn their ids.

        Core, not ORM objects: the ORM renders a thousand rows into one long INSERT, which
        psycopg parses slowly (ten times the cost of the rest of the row's work); with the
        ids taken from the sequence first, a short prepared INSERT is sent once per row.
        """
        if not rows:
            return
        table = cast(Table, StatementEntry.__table__)
        ids = _reserve_ids(self.session, StatementEntry, len(rows))
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

    def _entry_row(self, statement: BankStatement, entry: camt.Entry) -> _NewEntry:
        single = entry.details[0] if len(entry.details) == 1 else None
        end_to_end = [d.end_to_end_id for d in entry.details if d.end_to_end_id]
        batch = entry.batch
        return _NewEntry(
            organisation_id=self.organisation_id,
            statement_id=statement.id,
            statement_ident=statement.statement_ident,
            entry_reference=entry.reference,
            amount=entry.amount,
            credit=entry.credit_debit is camt.CreditDebit.CREDIT,
            booking_date=entry.booking_date,
            end_to_end_ids=",".join(end_to_end) or None,
            pmt_inf_id=_cut(
                batch.payment_information_id
                if batch is not None
                else (single.payment_information_id if single else None),
                35,
            ),
            counterparty=_cut(single.counterparty_name if single else None, 140),
            remittance=_cut((single.remittance if single else None) or entry.additional_info, 140),
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
        row: _NewEntry,
        entry: camt.Entry,
        hits: Mapping[str, _Hit],
        batches: Mapping[str, tuple[PaymentBatch, list[_Hit]]],
        current: Mapping[int, int],
    ) -> _Outcome:
        outcome = _Outcome()
        if entry.currency != EURO:
            outcome.add(
                _Verdict.UNMATCHED, _("Not in euros (%(currency)s).", currency=entry.currency)
            )
        elif entry.reversal:
            outcome.add(_Verdict.UNMATCHED, _("A reversal is not matched automatically."))
        elif entry.credit_debit is camt.CreditDebit.CREDIT:
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
        row: _NewEntry,
        entry: camt.Entry,
        hits: Mapping[str, _Hit],
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
        row: _NewEntry,
        detail: camt.TransactionDetails,
        hits: Mapping[str, _Hit],
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
        row: _NewEntry,
        entry: camt.Entry,
        batches: Mapping[str, tuple[PaymentBatch, list[_Hit]]],
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
        row: _NewEntry,
        entry: camt.Entry,
        hits: Mapping[str, _Hit],
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
            self._return(row, hit, cast(camt.ReturnInfo, detail.return_info), outcome)

    def _is_booked(self, hit: _Hit) -> bool:
        return hit.item.booked_entry_id is not None or hit.item.id in self.booked_items

    def _unpayable(
        self, hit: _Hit, amount: Decimal | None, current: Mapping[int, int]
    ) -> str | None:
        """Why this debit is not booked against this item automatically, or None."""
        e2e = hit.item.end_to_end_id
        if hit.batch.state not in _SENT_BATCHES:
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
    def _book(self, row: _NewEntry, hit: _Hit, outcome: _Outcome) -> None:
        payout = hit.payout
        source = str(payout.state)
        self._fire(payout, "book", self.booked_payouts)
        self.booked_items[hit.item.id] = row
        self.touched_batches.add(hit.batch.id)
        self.touched_claims.add(payout.claim_id)
        self.report.payouts_booked += 1
        outcome.booked.append(hit)
        outcome.add(_Verdict.BOOKED)
        self._link(
            "payout_book",
            payout,
            source,
            payload=lambda: {
                "payout_id": payout.id,
                "from": source,
                "to": PayoutState.BOOKED.value,
                "end_to_end_id": hit.item.end_to_end_id,
                "statement_entry_id": row.id,
            },
        )

    def _return(self, row: _NewEntry, hit: _Hit, info: camt.ReturnInfo, outcome: _Outcome) -> None:
        payout = hit.payout
        source = str(payout.state)
        code = (info.code or "").strip().upper()[:10] or None
        reason = _cut(info.description_nl, 200)
        self._fire(
            payout,
            "return",
            self.returned_payouts,
            return_reason_code=code,
            return_reason=reason,
        )
        self.touched_batches.add(hit.batch.id)
        self.touched_claims.add(payout.claim_id)
        self.report.returns += 1
        outcome.add(_Verdict.RETURNED)
        self._link(
            "payout_return",
            payout,
            source,
            reason=reason,
            payload=lambda: {
                "payout_id": payout.id,
                "from": source,
                "to": PayoutState.RETURNED.value,
                "end_to_end_id": hit.item.end_to_end_id,
                "reason_code": code,
                "statement_entry_id": row.id,
            },
        )

    def _flag(self, row: _NewEntry, hit: _Hit, note: str, outcome: _Outcome) -> None:
        outcome.add(_Verdict.DUPLICATE, note)
        self.links.append(
            _PendingLink(
                event="statement_entry_duplicate",
                claim_id=hit.payout.claim_id,
                from_state=None,
                to_state=None,
                reason=None,
                payload=lambda: {
                    "statement_entry_id": row.id,
                    "payout_id": hit.payout.id,
                    "end_to_end_id": hit.item.end_to_end_id,
                },
            )
        )

    def _flag_batch(
        self, row: _NewEntry, batch: PaymentBatch, items: list[_Hit], outcome: _Outcome
    ) -> None:
        outcome.add(
            _Verdict.DUPLICATE,
            _("Batch %(id)s was booked already: a second debit.", id=batch.pmt_inf_id),
        )
        self.links.append(
            _PendingLink(
                event="statement_entry_duplicate",
                claim_id=None,
                from_state=None,
                to_state=None,
                reason=None,
                payload=lambda: {"statement_entry_id": row.id, "batch_id": batch.id},
            )
        )

    def _fire(self, payout: Payout, event: str, queue: list[dict[str, Any]], **values: Any) -> None:
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
        fire_payout(stand_in, event, actor=_SYSTEM)
        version = payout.version
        changes = {"state": stand_in.state, "version": version + 1, **values}
        for name, value in changes.items():
            set_committed_value(payout, name, value)
        row = {"b_id": payout.id, "b_version": version, "b_state": stand_in.state}
        row.update({f"b_{name}": value for name, value in values.items()})
        queue.append(row)

    def _write_payouts(self) -> None:
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

    def _link(
        self,
        event: str,
        payout: Payout,
        source: str,
        *,
        payload: Callable[[], Mapping[str, Any]],
        reason: str | None = None,
    ) -> None:
        self.links.append(
            _PendingLink(
                event=event,
                claim_id=payout.claim_id,
                from_state=source,
                to_state=str(payout.state),
                reason=reason,
                payload=payload,
            )
        )

    def _write_links(self) -> None:
        """Append the chunk's audit links: the head locked once, one INSERT for them all.

        `AuditTrail.append` locks and reads the chain head for every link; one import may
        write tens of thousands. The links are chained exactly as `append` chains them (same
        fields, `link_hash`, `payload_digest`), so `AuditTrail.verify` checks them alike.
        """
        if not self.links:
            return
        head = self.trail._locked_head(self.organisation_id)  # the lock `append` takes
        occurred_at = self.clock().astimezone(dt.UTC)
        events = []
        for pending in self.links:
            link = AuditEvent(
                organisation_id=self.organisation_id,
                sequence=head.last_sequence + 1,
                claim_id=pending.claim_id,
                actor_id=None,  # the system: the bank's statement did it
                occurred_at=occurred_at,
                event=pending.event,
                from_state=pending.from_state,
                to_state=pending.to_state,
                reason=pending.reason,
                payload_hash=payload_digest(pending.payload()),
                previous_hash=head.last_hash,
            )
            link.hash = link_hash(link)
            head.last_sequence, head.last_hash = link.sequence, link.hash
            events.append(link)
        for link, ident in zip(
            events, _reserve_ids(self.session, AuditEvent, len(events)), strict=False
        ):
            link.id = ident
        self.session.add_all(events)
        self.links.clear()

    # --- the end ------------------------------------------------------------------------
    def finish(self) -> None:
        """Book the batches now fully booked, and let the claims follow their payouts."""
        for batch in _fully_booked(self.session, self.touched_batches):
            fire_batch(batch, "book", actor=_SYSTEM)
            self.report.batches_booked += 1
            self.links.append(
                _PendingLink(
                    event="batch_book",
                    claim_id=None,
                    from_state=BatchState.RELEASED.value,
                    to_state=BatchState.BOOKED.value,
                    reason=None,
                    payload=_batch_payload(batch),
                )
            )
        self._write_links()
        self.session.flush()
        # Thousands of claims may follow one statement: a worker moves them, in chunks.
        if self.touched_claims:
            queue_follow_claims(
                self.session, self.touched_claims, f"statement-import:{secrets.token_hex(8)}"
            )


def _batch_payload(batch: PaymentBatch) -> Callable[[], Mapping[str, Any]]:
    return lambda: {
        "batch_id": batch.id,
        "from": BatchState.RELEASED.value,
        "to": BatchState.BOOKED.value,
        "sha256": batch.file_sha256,
    }


def _fully_booked(session: Session, batch_ids: Iterable[int]) -> list[PaymentBatch]:
    """The released batches among these of which no payout still waits for its debit.

    A payout returned before its debit showed no longer waits: the bank answered for it.
    """
    ready: list[PaymentBatch] = []
    for part in _slices(sorted(batch_ids)):
        waiting = (
            select(PaymentBatchItem.id)
            .join(Payout, Payout.id == PaymentBatchItem.payout_id)
            .where(
                PaymentBatchItem.batch_id == PaymentBatch.id,
                PaymentBatchItem.booked_entry_id.is_(None),
                Payout.state == PayoutState.SENT.value,
            )
            .exists()
        )
        ready.extend(
            session.scalars(
                select(PaymentBatch)
                .where(
                    PaymentBatch.id.in_(part),
                    PaymentBatch.state == BatchState.RELEASED.value,
                    ~waiting,
                )
                .with_for_update()
            )
        )
    return ready


# --- the review queue ------------------------------------------------------------------------


class ReviewQueue:
    """What the import left to a person: match by hand or dismiss, each audited."""

    def __init__(self, session: Session, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def unmatched(self, scope: Scope, *, limit: int | None = None) -> Sequence[StatementEntry]:
        """Unmatched entries and flagged duplicates, oldest first."""
        _require_finance(scope)
        query = (
            scope.select(StatementEntry)
            .where(StatementEntry.status.in_(_REVIEW))
            .order_by(StatementEntry.booking_date, StatementEntry.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return cast(Sequence[StatementEntry], self.session.scalars(query).all())

    def open_amount(self, entry: StatementEntry) -> Decimal:
        """What of the entry is not yet booked against a payout."""
        booked = self.session.scalar(
            select(func.coalesce(func.sum(PaymentBatchItem.amount), 0)).where(
                PaymentBatchItem.booked_entry_id == entry.id
            )
        )
        return entry.amount - Decimal(booked or 0)

    def match_by_hand(
        self, scope: Scope, user: User, entry_id: int, payout_id: int, reason: str
    ) -> StatementEntry:
        """Book a sent payout against an unmatched debit of the same amount."""
        _require_finance(scope, user)
        reason = _reason(reason)
        entry = self._locked_entry(scope, entry_id)
        if entry.status is not StatementEntryStatus.UNMATCHED:
            raise Conflict(_l("This entry is not waiting to be matched."))
        if entry.credit:
            raise InvalidInput(
                _l("Only a debit is matched to a payout; dismiss a credit with a note."),
                field_errors={"entry_id": [_l("This entry is a credit.")]},
            )
        payout: Payout | None = self.session.scalars(  # type: ignore[assignment]
            scope.select(Payout)
            .where(Payout.id == payout_id, Payout.organisation_id == entry.organisation_id)
            .with_for_update(of=Payout)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if payout is None:
            raise NotFound(_l("No such payout."))
        if payout.state != PayoutState.SENT:
            raise Conflict(
                _l(
                    "Only a payout that was sent can be booked; this one is %(state)s.",
                    state=payout.state,
                )
            )
        open_amount = self.open_amount(entry)
        if payout.amount != open_amount:
            message = _l(
                "The amounts disagree: %(entry)s on the statement, %(payout)s for the payout.",
                entry=open_amount,
                payout=payout.amount,
            )
            raise InvalidInput(message, field_errors={"payout_id": [message]})
        item = self.session.scalars(
            select(PaymentBatchItem)
            .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
            .where(
                PaymentBatchItem.payout_id == payout.id,
                PaymentBatchItem.booked_entry_id.is_(None),
                PaymentBatch.state.in_(_SENT_BATCHES),
            )
            .order_by(PaymentBatchItem.id.desc())
            .limit(1)
            .with_for_update(of=PaymentBatchItem)
        ).first()
        if item is None:  # sent means released in a batch: a broken invariant, not input
            raise Conflict(_l("This payout is not in a released batch."))
        source = str(payout.state)
        # `book` is the system's event: the statement shows the debit. The user only says
        # which payout it was, and is recorded as the actor in the audit link.
        fire_payout(payout, "book", actor=_SYSTEM)
        item.booked_entry_id = entry.id
        previous_note = entry.note
        entry.status = StatementEntryStatus.MATCHED
        entry.note = _cut(reason, NOTE_LENGTH)
        entry.resolved_by_id = user.id
        entry.resolved_at = self.clock()
        self.session.flush()
        self.audit.append(
            entry.organisation_id,
            event="payout_book",
            actor_id=user.id,
            claim_id=payout.claim_id,
            from_state=source,
            to_state=str(payout.state),
            reason=reason,
            payload={
                "payout_id": payout.id,
                "from": source,
                "to": str(payout.state),
                "end_to_end_id": item.end_to_end_id,
                "statement_entry_id": entry.id,
                "by_hand": True,
                "queue_note": previous_note,
            },
        )
        for batch in _fully_booked(self.session, [item.batch_id]):
            fire_batch(batch, "book", actor=_SYSTEM)
            self.audit.append(
                batch.organisation_id,
                event="batch_book",
                actor_id=user.id,
                payload=_batch_payload(batch)(),
            )
        self.session.flush()
        follow_claims(self.session, [payout.claim_id], self.clock)
        return entry

    def dismiss(self, scope: Scope, user: User, entry_id: int, reason: str) -> StatementEntry:
        """Close an entry that is not ours to book (bank costs, another payment), with why."""
        _require_finance(scope, user)
        reason = _reason(reason)
        entry = self._locked_entry(scope, entry_id)
        if entry.status not in _REVIEW:
            raise Conflict(_l("This entry is not in the review queue."))
        previous = entry.status
        previous_note = entry.note
        entry.status = StatementEntryStatus.DISMISSED
        entry.note = _cut(reason, NOTE_LENGTH)
        entry.resolved_by_id = user.id
        entry.resolved_at = self.clock()
        self.session.flush()
        self.audit.append(
            entry.organisation_id,
            event="statement_entry_dismiss",
            actor_id=user.id,
            reason=reason,
            payload={
                "statement_entry_id": entry.id,
                "from": previous.value,
                "to": entry.status.value,
                "queue_note": previous_note,
            },
        )
        return entry

    def _locked_entry(self, scope: Scope, entry_id: int) -> StatementEntry:
        entry: StatementEntry | None = self.session.scalars(  # type: ignore[assignment]
            scope.select(StatementEntry)
            .where(StatementEntry.id == entry_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if entry is None:
            raise NotFound(_l("No such statement entry."))
        return entry


def _require_finance(scope: Scope, user: User | None = None) -> None:
    if user is not None and scope.user_id != user.id:
        raise Forbidden(_l("Your role does not allow this step."))
    if Role.FINANCE not in scope.roles or scope.organisation_id is None:
        raise Forbidden(_l("Your role does not allow this step."))


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        message = _l("Give a reason.")
        raise InvalidInput(message, field_errors={"reason": [message]})
    return text


# --- the job ------------------------------------------------------------------------------


def configured_max_bytes() -> int:
    if has_app_context():
        return int(current_app.config.get("STATEMENT_MAX_BYTES", DEFAULT_MAX_BYTES))
    return DEFAULT_MAX_BYTES


@job_kind(
    STATEMENT_IMPORT,
    roles=frozenset({Role.FINANCE}),
    title=_l("Import of a bank statement"),
    unit=_l("entries read"),
    result_template="jobs/results/statement_import.html",
)
def run_statement_import(context: JobContext) -> Mapping[str, Any]:
    """The job: import the upload named in the params; the result is the report's figures."""
    key = str(context.params.get("upload_key", ""))
    try:
        data = load_upload(key)
    except FileNotFoundError:
        raise JobFailed(
            _("The uploaded file is no longer there. Please upload it again.")
        ) from None
    service = StatementImport(context.session, context.clock, max_bytes=configured_max_bytes())
    try:
        report = service.import_file(
            context.organisation_id,
            context.created_by_id,
            data,
            progress=context.progress,
        )
    except ImportRefused as exc:
        discard_upload(key)  # refused for good: the same bytes would be refused again
        raise JobFailed(str(exc.message)) from None
    # Removed before the commit: if that fails, the retried job asks for a new upload,
    # which imports the same (the import is idempotent); the bank's data is not kept.
    discard_upload(key)
    return report.as_dict()
