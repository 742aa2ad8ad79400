"""Scope rules for every model that holds organisation or case data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, select

from housing.accounts.models import ApiToken, User
from housing.audit.models import AccessLog, AuditEvent
from housing.claims.models import Claim, ClaimNote, Objection
from housing.jobs.models import Job
from housing.notifications.models import Notification, PrintItem
from housing.organisations.models import (
    Budget,
    Home,
    MeasureCatalogue,
    OfficeHolder,
    Organisation,
    SignInProvider,
)
from housing.outbox.models import OutboxMessage
from housing.payments.models import (
    ApprovalLimit,
    BankStatement,
    PaymentBatch,
    Payout,
    StatementEntry,
)
from housing.roles import Role
from housing.scoping import Scope, scope_rule


@scope_rule(Organisation)
def _organisation(scope: Scope) -> list[ColumnElement[bool]]:
    return [Organisation.id == scope.organisation_id]


@scope_rule(User)
def _user(scope: Scope) -> list[ColumnElement[bool]]:
    # The auditor reviews who holds which role (and reads who did what in the trail).
    if scope.sees_whole_organisation or Role.AUDITOR in scope.roles:
        return [User.organisation_id == scope.organisation_id]
    return [User.id == scope.user_id]


# The audit trail and the access log are the auditor's, of their own organisation only
# (DESIGN.md §1); the services that append to them need no scope to write.
AUDIT_READERS = frozenset({Role.AUDITOR})


@scope_rule(AuditEvent)
def _audit_event(scope: Scope) -> list[ColumnElement[bool]]:
    if scope.roles & AUDIT_READERS:
        return [AuditEvent.organisation_id == scope.organisation_id]
    return [false()]


@scope_rule(AccessLog)
def _access_log(scope: Scope) -> list[ColumnElement[bool]]:
    if scope.roles & AUDIT_READERS:
        return [AccessLog.organisation_id == scope.organisation_id]
    return [false()]


@scope_rule(ApiToken)
def _api_token(scope: Scope) -> list[ColumnElement[bool]]:
    # Tokens are personal: even an administrator sees only their own.
    return [ApiToken.user_id == scope.user_id]


@scope_rule(OfficeHolder)
def _office_holder(scope: Scope) -> list[ColumnElement[bool]]:
    criteria = [OfficeHolder.organisation_id == scope.organisation_id]
    if scope.sees_whole_organisation:
        return criteria
    if scope.sees_own_records:
        return [*criteria, OfficeHolder.user_id == scope.user_id]
    return [false()]


# The address is the most sensitive datum we hold: only those who handle the case see it,
# not finance (who pay) nor administrators (who manage office holders).
HOME_READERS = frozenset({Role.ASSESSOR, Role.DECIDER})


@scope_rule(Home)
def _home(scope: Scope) -> list[ColumnElement[bool]]:
    in_organisation = OfficeHolder.organisation_id == scope.organisation_id
    if scope.roles & HOME_READERS:
        return [Home.office_holder.has(in_organisation)]
    if scope.sees_own_records:
        return [
            Home.office_holder.has(and_(in_organisation, OfficeHolder.user_id == scope.user_id))
        ]
    return [false()]


# Case handlers and finance (who pay) see the organisation's claims; an applicant only
# their own; administrators and auditors see no case contents.
CLAIM_READERS = frozenset({Role.ASSESSOR, Role.DECIDER, Role.FINANCE})


@scope_rule(Claim)
def _claim(scope: Scope) -> list[ColumnElement[bool]]:
    in_organisation = Claim.organisation_id == scope.organisation_id
    if scope.roles & CLAIM_READERS:
        return [in_organisation]
    if scope.sees_own_records:
        return [in_organisation, Claim.office_holder.has(OfficeHolder.user_id == scope.user_id)]
    return [false()]


# Internal notes pass between those who handle the case; finance pays without them, and
# the applicant never reads them (nor does an assessor on their own claim: the service).
@scope_rule(ClaimNote)
def _claim_note(scope: Scope) -> list[ColumnElement[bool]]:
    if scope.roles & HOME_READERS:
        return [ClaimNote.organisation_id == scope.organisation_id]
    return [false()]


# An objection is case data: the case handlers (who read homes) hear it, an applicant
# sees their own.
@scope_rule(Objection)
def _objection(scope: Scope) -> list[ColumnElement[bool]]:
    in_organisation = Objection.organisation_id == scope.organisation_id
    if scope.roles & HOME_READERS:
        return [in_organisation]
    if scope.sees_own_records:
        own = Claim.office_holder.has(OfficeHolder.user_id == scope.user_id)
        return [in_organisation, Objection.claim_id.in_(select(Claim.id).where(own))]
    return [false()]


# An organisation's rules (its measure catalogue and its budgets) are no case data: its
# staff may read them; an applicant only picks from the catalogue inside a claim.
@scope_rule(MeasureCatalogue)
def _measure_catalogue(scope: Scope) -> list[ColumnElement[bool]]:
    if scope.sees_whole_organisation:
        return [MeasureCatalogue.organisation_id == scope.organisation_id]
    return [false()]


# Sign-in providers hold a client secret and decide who gets which role: administrators only.
@scope_rule(SignInProvider)
def _sign_in_provider(scope: Scope) -> list[ColumnElement[bool]]:
    if Role.ADMIN in scope.roles:
        return [SignInProvider.organisation_id == scope.organisation_id]
    return [false()]


@scope_rule(Budget)
def _budget(scope: Scope) -> list[ColumnElement[bool]]:
    if scope.sees_whole_organisation:
        return [Budget.organisation_id == scope.organisation_id]
    return [false()]


# A notice is personal, like a token: nobody reads another's, an administrator neither.
@scope_rule(Notification)
def _notification(scope: Scope) -> list[ColumnElement[bool]]:
    return [
        Notification.organisation_id == scope.organisation_id,
        Notification.user_id == scope.user_id,
    ]


# The outbox's messages carry notices for people: only the organisation's administrator
# looks after them (retrying one that was parked as dead).
@scope_rule(OutboxMessage)
def _outbox_message(scope: Scope) -> list[ColumnElement[bool]]:
    if Role.ADMIN in scope.roles:
        return [OutboxMessage.organisation_id == scope.organisation_id]
    return [false()]


# A letter in the print queue carries the addressee's home address: only those who may
# read addresses print and post it.
@scope_rule(PrintItem)
def _print_item(scope: Scope) -> list[ColumnElement[bool]]:
    if scope.roles & HOME_READERS:
        return [PrintItem.organisation_id == scope.organisation_id]
    return [false()]


# A job is its starter's; colleagues see it if their role may run that kind of job
# (an auditor another auditor's verification), nobody outside the organisation.
@scope_rule(Job)
def _job(scope: Scope) -> list[ColumnElement[bool]]:
    from housing.jobs.kinds import default_kinds  # the kinds import services, not models

    kinds = [name for name, kind in default_kinds().items() if scope.roles & kind.roles]
    return [
        Job.organisation_id == scope.organisation_id,
        (Job.created_by_id == scope.user_id) | Job.kind.in_(kinds),
    ]


# Payouts: finance pays them, case handlers record supplier invoices, and an applicant
# sees the payouts of their own claims. Batches and bank statements are finance's alone.
PAYOUT_READERS = frozenset({Role.FINANCE, Role.ASSESSOR, Role.DECIDER})


@scope_rule(Payout)
def _payout(scope: Scope) -> list[ColumnElement[bool]]:
    in_organisation = Payout.organisation_id == scope.organisation_id
    if scope.roles & PAYOUT_READERS:
        return [in_organisation]
    if scope.sees_own_records:
        own = Claim.office_holder.has(OfficeHolder.user_id == scope.user_id)
        return [in_organisation, Payout.claim_id.in_(select(Claim.id).where(own))]
    return [false()]


def _finance_only(organisation_column: Any) -> Callable[[Scope], list[ColumnElement[bool]]]:
    def rule(scope: Scope) -> list[ColumnElement[bool]]:
        if Role.FINANCE in scope.roles:
            return [organisation_column == scope.organisation_id]
        return [false()]

    return rule


scope_rule(PaymentBatch)(_finance_only(PaymentBatch.organisation_id))
scope_rule(BankStatement)(_finance_only(BankStatement.organisation_id))
scope_rule(StatementEntry)(_finance_only(StatementEntry.organisation_id))
# An approval limit is set by the organisation's administrator, seen by finance too.
scope_rule(ApprovalLimit)(
    lambda scope: (
        [ApprovalLimit.organisation_id == scope.organisation_id]
        if scope.roles & {Role.FINANCE, Role.ADMIN}
        else [false()]
    )
)
