"""Who may do what with a claim, as refusals: the services `require(...)` them, the claim
pages ask the same predicates which buttons and forms to show.

Each predicate returns None when the actor may, else the domain error the service raises.
The own-claim question is `acts_for_office_holder` (the office holder, or a clerk acting
for them), never a comparison of user ids. The claim workflow's own events are checked
by `workflows.claim` and `workflows.rules`; these are the use cases around it.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from housing.claims.documents import may_download
from housing.claims.models import Claim, Document, DocumentKind
from housing.claims.states import EXTENDABLE_STATES
from housing.errors import Conflict, Forbidden, NotFound
from housing.money import invalid
from housing.organisations.models import Home
from housing.permissions import Refusal, acts_for_office_holder
from housing.roles import Role
from workflows.claim import ClaimState
from workflows.rules import Actor

# What each role may send in: the applicant their quotes, invoices and photos; the
# assessor also the scan report and the security advice.
UPLOAD_KINDS: dict[Role, frozenset[DocumentKind]] = {
    Role.APPLICANT: frozenset({DocumentKind.QUOTE, DocumentKind.INVOICE, DocumentKind.PHOTO}),
    Role.ASSESSOR: frozenset(
        {
            DocumentKind.SCAN_REPORT,
            DocumentKind.SECURITY_ADVICE,
            DocumentKind.QUOTE,
            DocumentKind.INVOICE,
            DocumentKind.PHOTO,
            DocumentKind.OTHER,
        }
    ),
}
UPLOADABLE: frozenset[DocumentKind] = frozenset().union(*UPLOAD_KINDS.values())
CLOSED_STATES = (ClaimState.WITHDRAWN, ClaimState.ARCHIVED)
CASE_HANDLERS = frozenset({Role.ASSESSOR, Role.DECIDER})


def _has(actor: Actor, *roles: Role) -> bool:
    return any(role in actor.roles for role in roles)


def _open(claim: Claim) -> bool:
    """Before the decision: the term runs and can still be extended (art. 4:14)."""
    return claim.state in {s.value for s in EXTENDABLE_STATES}


def is_own_claim(actor: Actor, claim: Claim) -> bool:
    """Whether the actor is the claim's applicant (the office holder, or their clerk)."""
    return acts_for_office_holder(actor, claim)


# --- drafting ---------------------------------------------------------------------------
def may_start_claim(actor: Actor) -> Refusal | None:
    if not _has(actor, Role.APPLICANT):
        return Forbidden(_l("Only an applicant can start a claim."))
    return None


def may_claim_for_home(actor: Actor, home: Home | None) -> Refusal | None:
    """A claim is started for a home of an office holder the actor acts for."""
    if home is None or home.office_holder_id not in actor.office_holder_ids:
        return NotFound(_l("No such home."))
    return None


def may_add_line(actor: Actor, claim: Claim) -> Refusal | None:
    if not is_own_claim(actor, claim):
        return Forbidden(_l("Only the applicant changes the measures of a draft claim."))
    if claim.state != ClaimState.DRAFT:
        return Conflict(_l("Measures can only be changed while the claim is a draft."))
    return None


def may_see_draft(actor: Actor, claim: Claim) -> bool:
    """Whether the draft wizard is the actor's: a draft is its applicant's alone."""
    return is_own_claim(actor, claim)


# --- documents --------------------------------------------------------------------------
def upload_kinds(actor: Actor, claim: Claim) -> frozenset[DocumentKind]:
    """The kinds of document the actor may add to this claim now (empty: none; none to a
    withdrawn or archived claim)."""
    if claim.state in CLOSED_STATES:
        return frozenset()
    return _kinds_by_role(actor, claim)


def _kinds_by_role(actor: Actor, claim: Claim) -> frozenset[DocumentKind]:
    kinds: frozenset[DocumentKind] = frozenset()
    if _has(actor, Role.ASSESSOR):
        kinds |= UPLOAD_KINDS[Role.ASSESSOR]
    if _has(actor, Role.APPLICANT) and is_own_claim(actor, claim):
        kinds |= UPLOAD_KINDS[Role.APPLICANT]
    return kinds


def may_upload(actor: Actor, claim: Claim, kind: DocumentKind) -> Refusal | None:
    allowed = _kinds_by_role(actor, claim)
    if not allowed:
        return Forbidden(_l("You cannot add documents to this claim."))
    if kind not in allowed:
        return invalid("kind", _l("You cannot add this kind of document."))
    if claim.state in CLOSED_STATES:
        return Conflict(_l("This claim is closed."))
    return None


def may_read_document(actor: Actor, claim: Claim, document: Document) -> Refusal | None:
    """The bytes of a document of a claim the actor can already see."""
    assert actor.user_id is not None
    if not may_download(
        document,
        user_id=actor.user_id,
        roles=set(actor.roles),
        own=is_own_claim(actor, claim),
    ):
        return Forbidden(_l("Your role does not allow this document."))
    return None


# --- information requests -------------------------------------------------------------
def may_see_information_requests(actor: Actor, claim: Claim) -> bool:
    """Questions and answers may describe the home's weak spots, as the scan does: its
    applicant and the case handlers only (not finance)."""
    return is_own_claim(actor, claim) or _has(actor, *CASE_HANDLERS)


# --- the woningscan ---------------------------------------------------------------------
def may_see_scan(actor: Actor, claim: Claim) -> bool:
    """The scan describes the home's weak spots: its applicant and the case handlers only."""
    return is_own_claim(actor, claim) or _has(actor, *CASE_HANDLERS)


def may_record_scan(actor: Actor, claim: Claim) -> Refusal | None:
    """The applicant records the scan in the draft; an assessor later, before the decision."""
    own = is_own_claim(actor, claim)
    if _has(actor, Role.APPLICANT) and own and claim.state == ClaimState.DRAFT:
        return None
    if _has(actor, Role.ASSESSOR) and not own and _open(claim):
        return None
    if own and _has(actor, Role.APPLICANT):
        return Conflict(_l("The scan can only be changed while the claim is a draft."))
    return Forbidden(_l("You cannot record the scan of this claim."))


# --- the decision term ------------------------------------------------------------------
def may_extend_terms(actor: Actor) -> Refusal | None:
    """Whether the actor's role extends decision terms at all (asked before any lock)."""
    if not _has(actor, *CASE_HANDLERS):
        return Forbidden(_l("Only an assessor or a decider can extend the decision term."))
    return None


def may_extend(actor: Actor, claim: Claim) -> Refusal | None:
    """An extension notice (art. 4:14 Awb) for this claim, now."""
    refusal = may_extend_terms(actor)
    if refusal is not None:
        return refusal
    if not _open(claim) or claim.received_on is None:
        return Conflict(_l("The decision term of this claim cannot be extended now."))
    if is_own_claim(actor, claim):
        return Forbidden(_l("You cannot act on your own claim."))
    return None


# --- a late decision --------------------------------------------------------------------
def gives_notice_online(actor: Actor, claim: Claim) -> bool:
    """The applicant gives notice of default online; it arrives the day it is sent."""
    return _has(actor, Role.APPLICANT) and is_own_claim(actor, claim)


def may_record_default_notice(actor: Actor, claim: Claim) -> Refusal | None:
    """Who gives (the applicant) or records (a case handler, from paper) a notice of default."""
    if gives_notice_online(actor, claim):
        return None
    if not is_own_claim(actor, claim) and _has(actor, *CASE_HANDLERS):
        return None
    return Forbidden(_l("You cannot record a notice of default on this claim."))


def may_decide_penalty_as(actor: Actor) -> Refusal | None:
    """Whether the actor's role fixes penalties at all (asked before any lock)."""
    if not _has(actor, Role.DECIDER):
        return Forbidden(_l("Only a decider can fix the penalty."))
    return None


def may_decide_penalty(actor: Actor, claim: Claim) -> Refusal | None:
    """Who may fix this claim's penalty; whether it can be fixed yet is the service's."""
    refusal = may_decide_penalty_as(actor)
    if refusal is not None:
        return refusal
    if is_own_claim(actor, claim):
        return Forbidden(
            _l("You cannot decide on a claim in which you are the office holder."),
            field_errors={"rule": ["self_decision"]},
        )
    return None


# --- handling the case: the assessor assigned, internal notes ---------------------------
def _received(claim: Claim) -> bool:
    """Filed with the organisation: a draft (or one withdrawn as a draft) never was."""
    return claim.received_on is not None


def may_handle_internally(actor: Actor, claim: Claim) -> Refusal | None:
    """Assign the claim's assessor, or read and write its internal notes: the case handlers
    of a claim filed with the organisation, never on their own claim."""
    if not _has(actor, *CASE_HANDLERS):
        return Forbidden(_l("Only an assessor or a decider can do this."))
    if is_own_claim(actor, claim):
        return Forbidden(_l("You cannot act on your own claim."))
    if not _received(claim):
        return Conflict(_l("This claim has not been submitted."))
    return None


def may_assign(actor: Actor, claim: Claim) -> Refusal | None:
    refusal = may_handle_internally(actor, claim)
    if refusal is not None:
        return refusal
    if claim.state in CLOSED_STATES:
        return Conflict(_l("This claim is closed."))
    return None
