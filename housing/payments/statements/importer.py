"""Importing a camt.053 file for an organisation (issue 5 §5), in the caller's transaction.

`StatementImport.import_file` is one unit of work: it parses the file with the hardened
reader (a refusal writes nothing), skips what was already imported, flags an opening balance
that does not follow the previous closing balance, and matches entry by entry
(`housing.payments.statements.matching`). What is not matched waits in the `ReviewQueue`.

Services flush, never commit: the job (or the caller) commits, so the import, its audit
links and the claims that follow their payouts are one transaction.

Made for statements of 50,000 entries: entries are handled in chunks of `CHUNK`, each with
the same thirteen or so queries whatever its size, never one per entry. Beyond that a file
costs a few queries per statement (the balance check) and, at the end, what
`follow_claims` needs per claim whose payouts moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.organisations.models import Organisation
from housing.payments import camt_model
from housing.payments.statements.matching import ImportReport, _Run

# 50,000 entries with full details (about 1.5 kB each) and room to spare; the app setting
# `STATEMENT_MAX_BYTES` (of the same default) is what the job and the factory pass.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# Entries per round of queries: each chunk costs the same queries, whatever its size.
CHUNK = 1000
# Key space of the advisory lock that serialises imports per organisation (PostgreSQL).
_IMPORT_LOCK = 0x5354_4D54  # "STMT"

Progress = Callable[[int, int], None]


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


def _refused(exc: camt_model.CamtError) -> ImportRefused:
    summary = _REFUSALS.get(exc.code, _l("The file cannot be read as a bank statement."))
    message = _l(
        "%(summary)s Nothing was imported. (%(detail)s)", summary=summary, detail=exc.message
    )
    return ImportRefused(message, code=exc.code)


class StatementImport:
    """Import camt.053 files for an organisation, in the caller's transaction."""

    def __init__(
        self,
        session: DbSession,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        xsd_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.max_bytes = max_bytes
        self.xsd_path = xsd_path

    @classmethod
    def from_config(
        cls,
        session: DbSession,
        clock: Callable[[], dt.datetime],
        config: Mapping[str, Any],
    ) -> StatementImport:
        """The import with the app's limit and schema (STATEMENT_MAX_BYTES, CAMT_XSD_PATH)."""
        return cls(
            session,
            clock,
            max_bytes=int(config["STATEMENT_MAX_BYTES"]),
            xsd_path=config.get("CAMT_XSD_PATH"),
        )

    def parse(self, data: bytes) -> camt_model.BankStatementData:
        """Parse and validate, or raise `ImportRefused` (nothing is written either way)."""
        # The reader (lxml and the XSD) is loaded by the first import, not by the app factory.
        from housing.payments.camt import parse_statement

        try:
            parsed = parse_statement(data, max_bytes=self.max_bytes, xsd_path=self.xsd_path)
        except camt_model.CamtError as exc:
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
        self._refuse_other_accounts(parsed, organisation_id)
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

    def _refuse_other_accounts(
        self, parsed: camt_model.BankStatementData, organisation_id: int
    ) -> None:
        """Refuse the whole file when a statement is not of the organisation's own account.

        Refused, not held for review: entries of another account can book none of our
        payouts, yet their EndToEndIds could match ours (a payee's bank reuses ids, or the
        wrong organisation's file is picked), and a wrong booking marks a payout paid that
        never left. Finance can only fix this by fetching the right file, so it is told now.
        """
        own = _compact(self.session.get_one(Organisation, organisation_id).iban)
        for statement in parsed.statements:
            account = _compact(statement.account_iban or "")
            if account != own:
                raise ImportRefused(
                    _l(
                        "Statement %(ident)s is of account %(account)s, not of the"
                        " organisation's own account %(own)s. Nothing was imported.",
                        ident=statement.statement_id,
                        account=account,
                        own=own,
                    ),
                    code="foreign_account",
                )

    def _lock(self, organisation_id: int) -> None:
        # Two imports of one file at once (a double click, two colleagues) would both find
        # nothing imported yet; one waits for the other's commit, then skips it all.
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(_IMPORT_LOCK, organisation_id)))


def _compact(iban: str) -> str:
    # The organisation's IBAN is stored compact and upper case; camt's schema allows
    # lower-case letters in the account part.
    return "".join(iban.split()).upper()


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
