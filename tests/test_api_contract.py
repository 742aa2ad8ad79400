"""The OpenAPI document is the truth: schemathesis calls every operation of the real app (on
PostgreSQL) with a token of every role and checks each answer against the document.

Every check schemathesis has runs (server errors, response schema, content type, headers,
documented status codes, ...), on generated valid and invalid requests, with the path ids
either generated or those of a real claim, payout, batch, document, ... so the answers are
not only 404s. The target is no failure of any kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.payments import Finance
from tests.factories import UserFactory

# Examples per operation and role; every role meets every operation (six roles).
EXAMPLES = 6
# A request the document allows may still break a rule no schema can state (an IBAN's
# check digits, an execution date in the past, a measure of another claim): that is a 422
# naming the field. Anything else a valid request gets (400 included) is a failure.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            }
        }
    }
)


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)

    def record(self, where: str, kind: str, text: str) -> None:
        self.failures[kind] += 1
        self.samples.setdefault(f"{kind} @ {where}", text[:1500])


@pytest.fixture
def contract_world(session, document_root) -> dict[str, Any]:
    """A granted claim with a payout, a draft, a document and users of every role."""
    fin = Finance(session, name="Gemeente Contract")
    world = fin.world
    payout = fin.request()
    draft = world.draft()
    document = world.drafting.upload(
        world.scope(world.applicant),
        world.applicant,
        draft.id,
        kind="quote",
        filename="offerte.pdf",
        data=b"%PDF-1.4\n%%EOF\n",
    )
    admin = UserFactory(organisation=world.org, roles={Role.ADMIN})
    auditor = UserFactory(organisation=world.org, roles={Role.AUDITOR})
    session.commit()
    users = {
        Role.APPLICANT: world.applicant,
        Role.ASSESSOR: world.assessor,
        Role.DECIDER: world.decider,
        Role.FINANCE: fin.f1,
        Role.ADMIN: admin,
        Role.AUDITOR: auditor,
    }
    return {
        "tokens": {role: bearer(session, user) for role, user in users.items()},
        "ids": {
            "claim_id": fin.claim.id,
            "payout_id": payout.id,
            "document_id": document.id,
            "organisation_id": world.org.id,
            "holder_id": world.holder.id,
        },
    }


def _strategy(operation: Any, ids: dict[str, int]) -> st.SearchStrategy[Any]:
    names = {p.name for p in operation.path_parameters}
    known = {name: ids[name] for name in names if name in ids}
    strategies = [
        operation.as_strategy(),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if known:
        strategies.append(operation.as_strategy(path_parameters=known))
    return st.one_of(strategies)


def _explore(
    operation: Any, ids: dict[str, int], where: str, headers: dict[str, str], tally: Tally
) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, ids))
    def check(case: Any) -> None:
        tally.cases += 1
        try:
            case.call_and_validate(headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                tally.record(where, failure.title, f"{failure}\n{group}")
        except Exception as error:  # the app raised: a server error
            tally.record(where, "Server error (raised)", repr(error))

    check()


def run_contract(app, tokens: dict[Role, dict[str, str]], ids: dict[str, int]) -> Tally:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        where = f"{operation.method.upper()} {operation.path}"
        tally.operations.add(where)
        for role, headers in tokens.items():
            _explore(operation, ids, f"{where} as {role}", headers, tally)
    return tally


def test_every_operation_keeps_to_the_document_for_every_role(app, session, contract_world):
    tally = run_contract(app, contract_world["tokens"], contract_world["ids"])
    report = "\n\n".join(f"{key}:\n{text}" for key, text in sorted(tally.samples.items()))
    print(  # the figures, for the record (pytest -s shows them)
        f"operations={len(tally.operations)} cases={tally.cases} failures={dict(tally.failures)}"
    )
    assert len(tally.operations) >= 25
    assert tally.cases >= len(tally.operations) * len(Role) * 2
    assert not tally.failures, report


def test_the_document_links_new_resources_to_what_is_done_with_them_next(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()

    def links(path, method, status):
        return spec["paths"][path][method]["responses"][status]["links"]

    def target(found):
        pointer = found["operationRef"].removeprefix("#/paths/")
        path, method = pointer.rsplit("/", 1)
        path = path.replace("~1", "/").replace("~0", "~")
        assert method in spec["paths"][path], found  # the operation it names exists
        return f"{method.upper()} {path}"

    created = links("/api/v1/claims", "post", "201")
    assert {target(found) for found in created.values()} >= {
        "GET /api/v1/claims/{claim_id}",
        "POST /api/v1/claims/{claim_id}/lines",
        "POST /api/v1/claims/{claim_id}/events",
    }
    assert {found["parameters"]["claim_id"] for found in created.values()} == {"$response.body#/id"}
    payout = links("/api/v1/claims/{claim_id}/payouts", "post", "201")
    assert target(payout["DecidePayout"]) == "POST /api/v1/payouts/{payout_id}/events"
    assert payout["DecidePayout"]["parameters"] == {"payout_id": "$response.body#/id"}
    start = links("/api/v1/homes", "get", "200")["StartClaim"]
    assert start["requestBody"] == {"home_id": "$response.body#/0/id"}
    for path in ("/api/v1/batches", "/api/v1/statements"):
        poll = links(path, "post", "202")["PollJob"]
        assert target(poll) == "GET /api/v1/jobs/{job_id}"
    holder = links("/api/v1/office-holders", "post", "201")
    assert target(holder["GetOfficeHolder"]) == "GET /api/v1/office-holders/{holder_id}"
    document = links("/api/v1/claims/{claim_id}/documents", "post", "201")["GetDocument"]
    assert document["parameters"]["claim_id"] == "$request.path.claim_id"
