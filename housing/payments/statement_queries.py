"""Reads and the upload check shared by the statement pages and the API (issue 5 §7, §8).

Thin on purpose: the import and the review live in `housing.payments.statements`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from housing.accounts.models import User
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.payments.models import BankStatement, StatementEntry, StatementEntryStatus
from housing.scoping import Scope

REVIEW_STATUSES = (StatementEntryStatus.UNMATCHED, StatementEntryStatus.DUPLICATE)


def check_upload(data: bytes | None) -> bytes:
    """Refuse at once what cannot be a camt.053: no file, an empty one, or no XML at all.

    The job's hardened reader checks the rest (schema, declarations, size).
    """
    if not data:
        message = _l("Choose a camt.053 file to upload.")
        raise InvalidInput(message, field_errors={"file": [message]})
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"<"):
        message = _l("The file is not an XML file. Upload the camt.053 statement from the bank.")
        raise InvalidInput(message, field_errors={"file": [message]})
    return data


@dataclass(frozen=True)
class StatementRow:
    statement: BankStatement
    imported_by: str | None


def count_statements(session: DbSession, scope: Scope) -> int:
    return int(
        session.scalar(select(func.count()).select_from(scope.select(BankStatement).subquery()))
        or 0
    )


def statements(session: DbSession, scope: Scope, *, offset: int, size: int) -> list[StatementRow]:
    """Imported statements, the newest first, with who imported them (one query)."""
    importer = aliased(User)
    query = (
        scope.select(BankStatement)
        .outerjoin(importer, importer.id == BankStatement.imported_by_id)
        .add_columns(importer.full_name)
        .order_by(BankStatement.created_at.desc(), BankStatement.id.desc())
        .offset(offset)
        .limit(size)
    )
    return [StatementRow(statement, name) for statement, name in session.execute(query)]


def review_query(scope: Scope, status: str | None = None) -> Select[Any]:
    """Entries waiting for a person (unmatched and flagged duplicates), oldest first."""
    wanted: Sequence[StatementEntryStatus] = (
        REVIEW_STATUSES if status is None else (StatementEntryStatus(status),)
    )
    return scope.select(StatementEntry).where(StatementEntry.status.in_(wanted))


def ordered(query: Select[Any]) -> Select[Any]:
    return query.order_by(StatementEntry.booking_date, StatementEntry.id)
