"""The statements of an import: new ones stored, known ones skipped, balances checked.

An opening balance that does not follow the previous statement's closing balance (of the
same account, by the bank's sequence number or else by date) is flagged and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from sqlalchemy import select

from housing.db import DbSession
from housing.payments import camt_model
from housing.payments.models import BankStatement
from housing.payments.statements.writes import BulkWrites

if TYPE_CHECKING:
    from housing.payments.statements.matching import ImportReport


class StatementRows:
    """The statement rows of one import (mixed into its run)."""

    session: DbSession
    organisation_id: int
    report: ImportReport
    writes: BulkWrites
    # Statements that existed before this import: only their entries may be known.
    known_statements: set[int]

    def statements(
        self, statements: Sequence[camt_model.Statement], user_id: int, digest: str
    ) -> list[tuple[camt_model.Statement, BankStatement]]:
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
        rows: list[tuple[camt_model.Statement, BankStatement]] = []
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

    def _new_statement(
        self, statement: camt_model.Statement, user_id: int, digest: str
    ) -> BankStatement:
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
            self.writes.link(
                "statement_balance_gap",
                None,
                lambda: {
                    "statement_id": row.id,
                    "statement": row.statement_ident,
                    "previous_statement": previous.statement_ident,
                    "previous_closing_balance": previous.closing_balance,
                    "opening_balance": row.opening_balance,
                },
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
