"""The information requests of a claim as a thread: each question with its term, each
answer with the files sent with it, in the order they were asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from housing.claims.models import Document, InformationRequest
from housing.db import DbSession

# Files sent with one answer; each is bounded by DOCUMENT_MAX_BYTES.
MAX_ANSWER_FILES = 5


@dataclass(frozen=True)
class Attachment:
    """A file sent with an answer, as it came in."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class ThreadEntry:
    request: InformationRequest
    due_on: dt.date
    attachments: Sequence[Document]


def due_on(request: InformationRequest) -> dt.date:
    """The last day of the term given to answer (art. 4:5 Awb)."""
    return request.requested_on + dt.timedelta(days=request.term_days)


def information_thread(session: DbSession, claim_id: int) -> list[ThreadEntry]:
    """The claim's questions and answers, the first asked first, with the answers' files."""
    requests = session.scalars(
        select(InformationRequest)
        .where(InformationRequest.claim_id == claim_id)
        .order_by(InformationRequest.id)
    ).all()
    files: dict[int, list[Document]] = {}
    if requests:
        for document in session.scalars(
            select(Document)
            .where(Document.information_request_id.in_([r.id for r in requests]))
            .order_by(Document.id)
        ):
            assert document.information_request_id is not None
            files.setdefault(document.information_request_id, []).append(document)
    return [ThreadEntry(r, due_on(r), files.get(r.id, [])) for r in requests]
