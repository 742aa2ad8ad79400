"""Services built from the app's settings: the one place the ways in get them.

Pages, the API, commands and the demo ask here for a service whose dependencies come from
the configuration (where documents are kept, the size limits, the camt.053 schema), as
warehouse's service factories do. Everything is read from the current app's config at the
moment of building, never from the environment, so a test steers a service by setting
`app.config`. Each area's `from_config(config)` is the one way to build its dependency from
settings; code below this module that runs in a worker (an outbox handler, a job) calls
that same constructor with the app's config.

It sits above the areas it builds from (claims, notifications, payments), beside
`housing.models`.
"""

from __future__ import annotations

from flask import current_app

from housing.accounts.sessions import SessionService
from housing.claims.documents import DocumentStore
from housing.claims.drafting import DraftingService
from housing.claims.handling import CaseHandlingService
from housing.claims.late_decisions import LateDecisionService
from housing.claims.objections import ObjectionService
from housing.claims.workflow import WorkflowService
from housing.clock import Clock, utcnow
from housing.db import DbSession
from housing.deadlines.rules import RulesCache
from housing.notifications.queries import PrintQueue
from housing.notifications.sign_in import SignInWatch
from housing.payments.statements import StatementImport, UploadStore


def document_store() -> DocumentStore:
    """Where the app keeps documents (DOCUMENT_ROOT), and the largest it accepts."""
    return DocumentStore.from_config(current_app.config)


def drafting(session: DbSession, clock: Clock = utcnow) -> DraftingService:
    return DraftingService(session, clock, documents=document_store())


def rules_cache() -> RulesCache:
    """The app's copy of the organisations' rules (settings, terms, the Atw calendar), kept
    for as long as the app lives; each app its own, as each process has its own."""
    cache: RulesCache = current_app.extensions.setdefault("housing.rules_cache", RulesCache())
    return cache


def workflow(session: DbSession, clock: Clock = utcnow) -> WorkflowService:
    return WorkflowService(session, clock, documents=document_store(), rules=rules_cache())


def case_handling(session: DbSession, clock: Clock = utcnow) -> CaseHandlingService:
    """Assigning a claim's assessor and the internal notes: no documents involved."""
    return CaseHandlingService(session, clock)


def late_decisions(session: DbSession, clock: Clock = utcnow) -> LateDecisionService:
    return LateDecisionService(session, clock, documents=document_store())


def objections(session: DbSession, clock: Clock = utcnow) -> ObjectionService:
    return ObjectionService(session, clock, documents=document_store())


def print_queue(session: DbSession, clock: Clock = utcnow) -> PrintQueue:
    return PrintQueue(session, clock, documents=document_store())


def statement_uploads() -> UploadStore:
    """Where uploaded statements wait for their import job (STATEMENT_UPLOAD_ROOT)."""
    return UploadStore.from_config(current_app.config)


def statement_import(session: DbSession, clock: Clock = utcnow) -> StatementImport:
    """The import with the app's limit and schema (STATEMENT_MAX_BYTES, CAMT_XSD_PATH)."""
    return StatementImport.from_config(session, clock, current_app.config)


def user_sessions(session: DbSession, clock: Clock = utcnow) -> SessionService:
    """Sessions that end after SESSION_IDLE_MINUTES unused and SESSION_LIFETIME_HOURS."""
    return SessionService.from_config(session, current_app.config, clock)


def sign_in_watch(session: DbSession, clock: Clock = utcnow) -> SignInWatch:
    """Failed sign-ins, and their spikes by SIGN_IN_SPIKE_FAILURES and SIGN_IN_SPIKE_MINUTES."""
    return SignInWatch.from_config(session, current_app.config, clock)
