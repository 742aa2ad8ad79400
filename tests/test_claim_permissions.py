"""The claim predicates say what the services do: a page offers exactly what may be done."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest

from housing.claims.drafting import ScanInput
from housing.claims.models import DocumentKind
from housing.claims.permissions import (
    is_own_claim,
    may_add_line,
    may_decide_penalty,
    may_extend,
    may_record_default_notice,
    may_record_scan,
    upload_kinds,
)
from housing.errors import DomainError, Forbidden
from housing.permissions import actor_for
from housing.roles import Role
from tests.builders.claims import World
from tests.factories import UserFactory
from workflows.rules import Actor

SCAN = ScanInput("CCV-adviseur", "2026-02-20", "certified", "Achterdeur zonder slot.")


@pytest.fixture
def world(session):
    return World(session)


def _people(world):
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    return [world.applicant, world.assessor, world.decider, world.both, finance]


def _agrees(session, refusal, attempt) -> bool:
    """The predicate allows exactly when the service's attempt is not refused by it; say
    whether it allowed."""
    savepoint = session.begin_nested()
    try:
        attempt()
        refused = None
    except DomainError as exc:
        refused = exc
    finally:
        savepoint.rollback()
    if refusal is None:
        # Allowed: the service may still refuse the input or the moment, never the person.
        assert not isinstance(refused, Forbidden), refused
    else:
        assert refused is not None and type(refused) is type(refusal)
        assert str(refused.message) == str(refusal.message)
    return refusal is None


STAFF = {"assessor", "assessor+decider", "decider"}
# Who may do it (never finance; an assessor records the scan once the claim is in), as the
# predicate and the service agree; "allowed" is about the person, not the moment.
EXPECTED = {
    "draft": {"scan": {"applicant"}, "extend": set(), "notice": {"applicant"} | STAFF},
    "submitted": {
        "scan": {"assessor", "assessor+decider"},
        "extend": STAFF,
        "notice": {"applicant"} | STAFF,
    },
    "in_assessment": {
        "scan": {"assessor", "assessor+decider"},
        "extend": STAFF,
        "notice": {"applicant"} | STAFF,
    },
}


@pytest.mark.parametrize("state", ["draft", "submitted", "in_assessment"])
def test_the_scan_and_extension_predicates_match_the_services(world, session, state):
    claim = world.draft()
    if state != "draft":
        world.fire(world.applicant, claim, "submit")
    if state == "in_assessment":
        world.fire(world.assessor, claim, "start_assessment")
    allowed: dict[str, set[frozenset[str]]] = {"scan": set(), "extend": set(), "notice": set()}
    for user in _people(world):
        actor, scope = actor_for(session, user), world.scope(user)
        if _agrees(
            session,
            may_record_scan(actor, claim),
            partial(world.drafting.record_scan, scope, user, claim.id, SCAN),
        ):
            allowed["scan"].add(frozenset(user.roles))
        if _agrees(
            session,
            may_extend(actor, claim),
            partial(
                world.workflow.notify_extension,
                scope,
                user,
                claim.id,
                new_deadline=dt.date(2026, 6, 1),
                reason="Advies van de politie volgt later.",
            ),
        ):
            allowed["extend"].add(frozenset(user.roles))
        if _agrees(
            session,
            may_record_default_notice(actor, claim),
            partial(
                world.late.record_default_notice,
                scope,
                user,
                claim.id,
                received_on=dt.date(2026, 3, 1),
            ),
        ):
            allowed["notice"].add(frozenset(user.roles))
    names = {
        what: {"+".join(sorted(r.value for r in roles)) for roles in who}
        for what, who in allowed.items()
    }
    assert names == EXPECTED[state]


def test_upload_kinds_are_what_the_service_accepts(world, session, tmp_path):
    from housing.claims.documents import DocumentStore

    world.documents = DocumentStore(tmp_path / "documents")
    claim = world.draft()
    pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    for user in _people(world):
        kinds = upload_kinds(actor_for(session, user), claim)
        for kind in DocumentKind:
            if kind in (DocumentKind.DECISION_LETTER, DocumentKind.NOTICE_LETTER):
                continue
            savepoint = session.begin_nested()
            try:
                world.drafting.upload(
                    world.scope(user), user, claim.id, kind=kind.value, filename="a.pdf", data=pdf
                )
                accepted = True
            except DomainError:
                accepted = False
            finally:
                savepoint.rollback()
            assert accepted == (kind in kinds), (user.roles, kind)


def test_a_clerk_acting_for_the_office_holder_is_the_applicant(world, session):
    claim = world.draft()
    clerk = Actor(
        user_id=world.assessor.id + 1000,
        roles=frozenset({"applicant"}),
        office_holder_ids=frozenset({world.holder.id}),
    )
    stranger = Actor(user_id=world.assessor.id + 1001, roles=frozenset({"applicant"}))
    assert is_own_claim(clerk, claim) and not is_own_claim(stranger, claim)
    assert may_add_line(clerk, claim) is None
    assert isinstance(may_add_line(stranger, claim), Forbidden)
    assert DocumentKind.QUOTE in upload_kinds(clerk, claim)
    assert upload_kinds(stranger, claim) == frozenset()
    # Nobody decides on a claim they act for, not even as its clerk.
    deciding_clerk = Actor(
        user_id=clerk.user_id,
        roles=frozenset({"decider"}),
        office_holder_ids=clerk.office_holder_ids,
    )
    assert isinstance(may_decide_penalty(deciding_clerk, claim), Forbidden)
