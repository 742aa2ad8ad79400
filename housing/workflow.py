"""The one runner of the workflows: fire, map a refusal once, audit in the same transaction.

Every state change of a claim, an objection, a payout or a payment batch goes through
`fire`: the caller has loaded and locked the object; `fire` runs the machine's event, turns
a workflow error into the domain error the user reads (Forbidden for who-may rules,
InvalidInput for the other rules and an unknown event, Conflict for an event the state
does not allow), and appends the audit link to the organisation's chain in the caller's
transaction. So no transition can go unaudited, and every area words a refusal the same way.

The statement import changes thousands of payouts at once: it fires the payout machine
itself and appends the links this module builds (`transition_link`) with
`AuditTrail.append_many`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l

from housing.audit.services import AuditTrail, NewLink
from housing.errors import Conflict, DomainError, Forbidden, InvalidInput
from housing.money import invalid
from housing.permissions import actor_for
from workflows.machine import InvalidTransition, TransitionRecord, UnknownEvent, Workflow
from workflows.rules import AUTHORISATION_RULES, Actor, Rule, RuleViolation

if TYPE_CHECKING:
    from housing.accounts.models import User

__all__ = ["RULE_MESSAGES", "fire", "fire_each", "refusal", "transition_link"]

# The workflow names a broken rule by its code, in English; people read it in their own
# language. For claims the workflow's own sentence (with the amounts and codes involved)
# goes along in the problem's errors as "detail" for integrations.
RULE_MESSAGES = {
    Rule.ROLE: _l("Your role does not allow this step."),
    Rule.NOT_OWN_CLAIM: _l("Only the office holder (or their clerk) can do this."),
    Rule.SELF_DECISION: _l(
        "You cannot assess or decide a claim in which you are the office holder."
    ),
    Rule.FOUR_EYES: _l("Four eyes: the decider cannot be the one who proposed the decision."),
    Rule.OFFICE_NOT_ELIGIBLE: _l("Holders of this office cannot claim at this organisation."),
    Rule.OUTSIDE_TERM: _l(
        "The application lies outside the term of office, and before the appointment was certain."
    ),
    Rule.HOME_NOT_IN_TERRITORY: _l(
        "The home is not the registered address in the territory, and no exemption is recorded."
    ),
    Rule.APPLICATION_DATE_IN_FUTURE: _l("The application date cannot lie in the future."),
    Rule.REGIME_NONE: _l("No regime applies: the scheme starts on 1 January 2021."),
    Rule.REGIME_A_MEASURE: _l("Under Regime A only the five basic measures can be granted."),
    Rule.REGIME_A_CAP: _l(
        "Under Regime A at most the cap per home (EUR 2,400 incl. VAT by default) can be granted,"
        " counting earlier grants for the same home."
    ),
    Rule.REGIME_B_NOT_ADVISED: _l(
        "Under Regime B only measures named in the security advice can be granted."
    ),
    Rule.NO_MEASURES: _l("Request at least one measure."),
    Rule.INVALID_AMOUNT: _l("An amount is missing or not valid."),
    Rule.GRANTED_EXCEEDS_REQUESTED: _l("A granted amount cannot exceed the amount requested."),
    Rule.GRANT_NOT_FULL: _l(
        "A full grant grants every measure in full: use a partial grant or a refusal."
    ),
    Rule.GRANT_NOT_PARTIAL: _l(
        "A partial grant grants something, but not everything: grant in full or refuse."
    ),
    Rule.REFUSAL_GRANTS_AMOUNT: _l("A refusal grants nothing: set every granted amount to 0."),
    Rule.BUDGET: _l("The organisation's budget for this year does not cover this grant."),
    Rule.INFO_TERM_RUNNING: _l("The term to send the information has not ended yet."),
    Rule.RETENTION_RUNNING: _l("The retention period of this claim has not ended yet."),
    Rule.SECOND_APPROVER: _l("Dual control: a second, different finance user approves."),
    Rule.REQUESTER_APPROVES: _l("Who recorded the invoice does not approve it."),
    Rule.RELEASER_APPROVED: _l("Dual control: a second, different finance user releases."),
    Rule.REASON_MISSING: _l("Give a reason."),
    Rule.EMPTY_BATCH: _l("An empty batch cannot be approved."),
}


@dataclass(frozen=True)
class _Subject:
    """How one machine's objects appear in refusals and in the audit chain."""

    # The audit event is the machine's event, after this prefix ("payout_approve").
    event_prefix: str
    claim_id: Callable[[Any], int | None]
    # The base payload of the link, from the object and what happened.
    payload: Callable[[Any, TransitionRecord[Any, Any]], dict[str, Any]]
    conflict: Callable[[str], Any]
    # Claims carry the workflow's own sentence beside the rule code; payments never did.
    detail: bool


def _claim_payload(claim: Any, record: TransitionRecord[Any, Any]) -> dict[str, Any]:
    return {"changes": {k: [str(old), str(new)] for k, (old, new) in record.changes.items()}}


def _moved(key: str) -> Callable[[Any, TransitionRecord[Any, Any]], dict[str, Any]]:
    def payload(obj: Any, record: TransitionRecord[Any, Any]) -> dict[str, Any]:
        return {key: obj.id, "from": record.source.value, "to": record.dest.value}

    return payload


_SUBJECTS: Mapping[str, _Subject] = {
    "claim": _Subject(
        event_prefix="",
        claim_id=lambda claim: claim.id,
        payload=_claim_payload,
        conflict=lambda state: _l("This is not possible now: the claim is %(state)s.", state=state),
        detail=True,
    ),
    "payout": _Subject(
        event_prefix="payout_",
        claim_id=lambda payout: payout.claim_id,
        payload=_moved("payout_id"),
        conflict=lambda state: _l("This is not possible now: it is %(state)s.", state=state),
        detail=False,
    ),
    # An objection runs beside its claim: its links name the claim, the states its own.
    "objection": _Subject(
        event_prefix="objection_",
        claim_id=lambda objection: objection.claim_id,
        payload=_moved("objection_id"),
        conflict=lambda state: _l(
            "This is not possible now: the objection is %(state)s.", state=state
        ),
        detail=False,
    ),
    "batch": _Subject(
        event_prefix="batch_",
        claim_id=lambda batch: None,
        payload=_moved("batch_id"),
        conflict=lambda state: _l("This is not possible now: it is %(state)s.", state=state),
        detail=False,
    ),
}


def refusal(workflow: Workflow[Any, Any], error: Exception, event: str) -> DomainError:
    """The domain error a workflow error becomes, worded for the user."""
    subject = _SUBJECTS[workflow.name]
    if isinstance(error, UnknownEvent):
        return invalid("event", _l("Unknown event %(event)s.", event=event))
    if isinstance(error, InvalidTransition):
        return Conflict(subject.conflict(error.state.value))
    if isinstance(error, RuleViolation):
        kind = Forbidden if error.rule in AUTHORISATION_RULES else InvalidInput
        field_errors = {"rule": [str(error.rule)]}
        if subject.detail:
            field_errors["detail"] = [error.message]
        return kind(str(RULE_MESSAGES[error.rule]), field_errors=field_errors)
    raise TypeError(f"not a refusal of the workflow: {error!r}")


def transition_link(
    workflow: Workflow[Any, Any],
    obj: Any,
    record: TransitionRecord[Any, Any],
    *,
    actor_id: int | None,
    reason: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> NewLink:
    """The audit link of one transition: event, from, to, who, and what changed."""
    subject = _SUBJECTS[workflow.name]
    return NewLink(
        event=f"{subject.event_prefix}{record.event.value}",
        actor_id=actor_id,
        claim_id=subject.claim_id(obj),
        from_state=record.source.value,
        to_state=record.dest.value,
        reason=reason,
        payload={**subject.payload(obj, record), **(payload or {})},
    )


def fire(
    audit: AuditTrail,
    workflow: Workflow[Any, Any],
    obj: Any,
    event: str,
    *,
    user: User | None,
    actor: Actor | None = None,
    context: Any = None,
    reason: str | None = None,
    payload: Mapping[str, Any] | None = None,
    effects: Callable[[], None] | None = None,
) -> TransitionRecord[Any, Any]:
    """Fire `event` on a loaded, locked object by `user` (None: the system), and audit it.

    `actor` is whom the machine sees, by default the user's (a user who matches a
    statement line by hand fires the system's `book`, and is recorded as the one who did).
    `effects` run after the state changed and before the link is written, in the same
    transaction; `payload` adds to the link's payload. Raises the domain error of a
    refusal; the object is unchanged then.
    """
    session = audit.session
    try:
        # No autoflush while the rules run: a value the rules will refuse (an amount above
        # what was requested) must reach them, not a database constraint first.
        with session.no_autoflush:
            record = workflow.fire(
                obj,
                event,
                actor=actor if actor is not None else actor_for(session, user),
                context=context,
            )
    except (UnknownEvent, InvalidTransition, RuleViolation) as error:
        raise refusal(workflow, error, event) from None
    obj.state = record.dest
    if effects is not None:
        effects()
    link = transition_link(
        workflow,
        obj,
        record,
        actor_id=user.id if user is not None else None,
        reason=reason,
        payload=payload,
    )
    audit.append_many(obj.organisation_id, [link])
    return record


def fire_each(
    audit: AuditTrail,
    workflow: Workflow[Any, Any],
    objs: Sequence[Any],
    event: str,
    *,
    user: User | None,
    actor: Actor | None = None,
    payload: Callable[[Any], Mapping[str, Any]] | None = None,
) -> list[TransitionRecord[Any, Any]]:
    """Fire one event on many loaded, locked objects (a batch's payouts), audited as `fire`.

    Their links go into the chain with one `append_many` per organisation, in the order
    of `objs`. A refusal raises as `fire` does; the caller's transaction then rolls back
    whatever the objects before it changed.
    """
    who = actor if actor is not None else actor_for(audit.session, user)
    records = []
    links: dict[int, list[NewLink]] = {}
    for obj in objs:
        try:
            record = workflow.fire(obj, event, actor=who)
        except (UnknownEvent, InvalidTransition, RuleViolation) as error:
            raise refusal(workflow, error, event) from None
        obj.state = record.dest
        records.append(record)
        links.setdefault(obj.organisation_id, []).append(
            transition_link(
                workflow,
                obj,
                record,
                actor_id=user.id if user is not None else None,
                payload=payload(obj) if payload is not None else None,
            )
        )
    for organisation_id, organisation_links in links.items():
        audit.append_many(organisation_id, organisation_links)
    return records
