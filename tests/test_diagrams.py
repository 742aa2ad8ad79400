"""The process diagrams are drawn from the live machines: the README's copies show exactly
the machines' states and transitions, the drawing is the same bytes each time, and the
claim page marks the claim's state and path, in words too, within the strict CSP."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import graphviz
from lxml import etree

from housing.audit.models import AuditEvent
from housing.web import CONTENT_SECURITY_POLICY
from housing.web.diagrams import (
    README_DIAGRAMS,
    SVG_NS,
    layout,
    machine_svg,
    path_of,
    readme_diagram,
)
from tests.builders.claims import World
from tests.conftest import login
from workflows.claim import WORKFLOW as CLAIM_WORKFLOW
from workflows.claim import ClaimEvent, ClaimState
from workflows.machine import Spec, Workflow
from workflows.payments import PAYOUT
from workflows.rules import Actor

ROOT = Path(__file__).resolve().parent.parent
G = f"{{{SVG_NS}}}g"


def drawn(svg: str, machine: str) -> tuple[set[str], set[tuple[str, str, str]]]:
    """The states and the (source, event, destination) arrows an SVG of the machine shows,
    by the ids `Workflow.to_dot` gives them."""
    root = etree.fromstring(svg.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    ids = [group.get("id", "") for group in root.iter(G)]
    states = {i.removeprefix(f"{machine}-state-") for i in ids if i.startswith(f"{machine}-state-")}
    edges = set()
    for ident in ids:
        if ident.startswith(f"{machine}-edge-"):
            source, event, dest = ident.removeprefix(f"{machine}-edge-").split("-")
            edges.add((source, event, dest))
    return states, edges


def in_machine(workflow: Workflow) -> tuple[set[str], set[tuple[str, str, str]]]:
    return (
        {state.value for state in workflow.states},
        {(s.value, e.value, d.value) for s, e, d in workflow.transition_table()},
    )


def test_the_readme_shows_each_machine_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # The version of the `dot` installed (graphviz runs `dot -V`).
    installed = ".".join(str(part) for part in graphviz.version())
    for relative, workflow in README_DIAGRAMS.items():
        assert f"]({relative})" in readme, f"the README does not show {relative}"
        copy = (ROOT / relative).read_text(encoding="utf-8")
        assert drawn(copy, workflow.name) == in_machine(workflow), (
            f"{relative} no longer shows the {workflow.name} machine:"
            " run `python scripts/diagrams.py`"
        )
        # With the Graphviz that drew it, the copy is what the machine draws today, byte for
        # byte (labels and layout too). Another version lays out differently: then the
        # states and arrows above are what must agree.
        if f"graphviz version {installed} " in copy:
            assert copy == readme_diagram(workflow), (
                f"run `python scripts/diagrams.py` ({relative})"
            )


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Change(StrEnum):
    GO = "go"
    STOP = "stop"


def _toy(specs: tuple[Spec, ...]) -> Workflow:
    def anyone(event: Change):
        def allow(obj: object, actor: Actor, context: object) -> None:
            return None

        return allow

    return Workflow(
        "toy",
        states=Colour,
        events=Change,
        initial=Colour.RED,
        specs=specs,
        authorisation=anyone,
        recorded=(),
        context_type=object,
    )


def test_a_changed_machine_no_longer_matches_its_drawing() -> None:
    before = _toy((Spec(Change.GO, (Colour.RED,), Colour.GREEN),))
    after = _toy(
        (
            Spec(Change.GO, (Colour.RED,), Colour.GREEN),
            Spec(Change.STOP, (Colour.GREEN,), Colour.BLUE),
        )
    )
    svg = machine_svg(before)
    assert drawn(svg, "toy") == in_machine(before)
    assert drawn(svg, "toy") != in_machine(after)
    assert drawn(svg, "toy")[1] == {("red", "go", "green")}


def test_the_same_machine_draws_the_same_bytes() -> None:
    dot = PAYOUT.to_dot()
    assert dot == PAYOUT.to_dot()
    first = layout(dot)
    layout.cache_clear()
    assert layout(dot) == first  # drawn again by a new `dot`, not the cache
    assert layout(dot) is layout(dot)  # and once per process


def _event(source: str | None, event: str, dest: str | None) -> AuditEvent:
    return AuditEvent(from_state=source, event=event, to_state=dest)


def test_the_path_is_read_from_the_history_and_only_its_machine_steps() -> None:
    history = [
        _event(None, "create", "draft"),
        _event("draft", "submit", "submitted"),
        _event(None, "add_document", None),
        _event("submitted", "start_assessment", "in_assessment"),
        # An audit link of a state no longer in the machine is no step of it.
        _event("refused", "lodge_objection", "objection"),
        _event("in_assessment", "propose_decision", "decision_proposed"),
    ]
    path = path_of(history)
    assert path.steps == (
        (ClaimState.DRAFT, ClaimEvent.SUBMIT, ClaimState.SUBMITTED),
        (ClaimState.SUBMITTED, ClaimEvent.START_ASSESSMENT, ClaimState.IN_ASSESSMENT),
        (ClaimState.IN_ASSESSMENT, ClaimEvent.PROPOSE_DECISION, ClaimState.DECISION_PROPOSED),
    )
    assert path.states == ("draft", "submitted", "in_assessment", "decision_proposed")
    assert path_of([]).states == ()


def _svg_of(page: str) -> etree._Element:
    found = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert found is not None
    return etree.fromstring(found.group(0).encode("utf-8"))


def test_the_claim_page_marks_the_state_and_the_path_in_the_drawing_and_in_words(app, session):
    world = World(session)
    claim = world.proposed()  # under regime B: by way of the security advice
    client = app.test_client()
    login(client, world.assessor.email)
    answer = client.get(f"/claims/{claim.id}")
    assert answer.status_code == 200
    page = answer.text

    svg = _svg_of(page)
    assert svg.get("role") == "img"
    title = svg.find(f"{{{SVG_NS}}}title")
    assert title is not None and svg.get("aria-labelledby") == title.get("id")
    assert title.text == (
        "Schema van het aanvraagproces. Huidige status: Besluit voorgesteld. De weg tot nu"
        " toe: Concept → Ingediend → In behandeling → Wacht op advies → In behandeling →"
        " Besluit voorgesteld."
    )
    groups = {group.get("id"): group for group in svg.iter(G)}
    current = [i for i, g in groups.items() if "vw-diagram__current" in (g.get("class") or "")]
    assert current == ["claim-state-decision_proposed"]
    assert groups["claim-state-decision_proposed"].get("aria-current") == "step"
    marked = {i for i, g in groups.items() if "vw-diagram__path" in (g.get("class") or "")}
    assert marked == {
        "claim-edge-draft-submit-submitted",
        "claim-edge-submitted-start_assessment-in_assessment",
        "claim-edge-in_assessment-request_advice-awaiting_advice",
        "claim-edge-awaiting_advice-record_advice-in_assessment",
        "claim-edge-in_assessment-propose_decision-decision_proposed",
    }
    visited = {i for i, g in groups.items() if "vw-diagram__visited" in (g.get("class") or "")}
    assert visited == {
        "claim-state-draft",
        "claim-state-submitted",
        "claim-state-in_assessment",
        "claim-state-awaiting_advice",
    }
    # The current state stands out by more than its colour: a thick border, bold text.
    shape = groups["claim-state-decision_proposed"].find(f"{{{SVG_NS}}}path")
    assert shape is not None and shape.get("stroke-width") == "3"
    # Every state in Dutch, the page's language; the arrows too.
    texts = {text.text for text in svg.iter(f"{{{SVG_NS}}}text")}
    assert {"Besluit voorgesteld", "Toegekend", "indienen", "bezwaar gegrond"} <= texts
    assert "decision_proposed" not in texts

    # The page says it in words, beside the drawing.
    statement = re.search(r'<p class="utrecht-paragraph" id="process-statement">(.*?)</p>', page)
    assert statement is not None
    assert statement.group(1) == (
        "Huidige status: Besluit voorgesteld. De weg tot nu toe: Concept → Ingediend → In"
        " behandeling → Wacht op advies → In behandeling → Besluit voorgesteld."
    )

    # Within the strict CSP, as it was: no style or script in the drawing.
    csp = answer.headers["Content-Security-Policy"]
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert CONTENT_SECURITY_POLICY["style-src"] == "'self'"
    serialised = etree.tostring(svg, encoding="unicode")
    assert "style=" not in serialised and "<style" not in serialised
    assert "<script" not in serialised and "href" not in serialised


def test_a_claim_in_its_first_state_has_no_path_yet(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    client = app.test_client()
    login(client, world.assessor.email)
    page = client.get(f"/claims/{claim.id}").text
    statement = re.search(r'id="process-statement">(.*?)</p>', page)
    assert statement is not None
    assert (
        statement.group(1) == "Huidige status: Ingediend. De weg tot nu toe: Concept → Ingediend."
    )
    svg = _svg_of(page)
    groups = {group.get("id"): group for group in svg.iter(G)}
    assert "vw-diagram__current" in (groups["claim-state-submitted"].get("class") or "")
    assert "vw-diagram__visited" in (groups["claim-state-draft"].get("class") or "")


def test_every_claim_state_and_event_has_a_label_on_the_diagram() -> None:
    from housing.web.diagrams import CLAIM_EVENT_LABELS
    from housing.web.forms import STATE_LABELS

    assert set(CLAIM_EVENT_LABELS) == set(ClaimEvent)
    assert {state.value for state in ClaimState} <= set(STATE_LABELS)
    assert drawn(machine_svg(CLAIM_WORKFLOW), "claim") == in_machine(CLAIM_WORKFLOW)


def test_a_reader_who_chose_english_gets_the_diagram_in_english(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.assessor.language = "en"
    session.commit()
    client = app.test_client()
    login(client, world.assessor.email)
    page = client.get(f"/claims/{claim.id}").text
    svg = _svg_of(page)
    texts = {text.text for text in svg.iter(f"{{{SVG_NS}}}text")}
    assert {"Submitted", "Decision proposed", "submit", "objection upheld"} <= texts
    assert "Ingediend" not in texts
    title = svg.find(f"{{{SVG_NS}}}title")
    assert title is not None
    assert title.text == (
        "Diagram of the claim process. Current state: Submitted. The path so far: Draft →"
        " Submitted."
    )
