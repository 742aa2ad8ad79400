"""The process diagrams, drawn from the live machines: `dot` lays out each machine's DOT text
(`Workflow.to_dot`) once per process and language, and the claim page marks the claim's
current state and the path it took in a copy of that drawing.

Marking never lays the diagram out again, so the states stand in the same places on every
claim page. The SVG is put inline in the page (no request of its own, nothing from another
origin); its colours are presentation attributes, which the strict CSP allows (it forbids
inline `style` only), and it carries a `<title>` that says in words what it shows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from housing.audit.models import AuditEvent
from housing.web.forms import STATE_LABELS
from workflows.claim import WORKFLOW as CLAIM_WORKFLOW
from workflows.claim import ClaimEvent, ClaimState
from workflows.machine import Workflow
from workflows.payments import BATCH, PAYOUT

SVG_NS = "http://www.w3.org/2000/svg"
_SVG = f"{{{SVG_NS}}}"

# Short names of the claim's events for the diagram's arrows (the buttons' labels are
# sentences, too long to stand on an arrow; the system's events have none).
CLAIM_EVENT_LABELS = {
    ClaimEvent.SUBMIT: _l("submit"),
    ClaimEvent.START_ASSESSMENT: _l("start assessment"),
    ClaimEvent.REQUEST_INFO: _l("ask for information"),
    ClaimEvent.PROVIDE_INFO: _l("information sent"),
    ClaimEvent.INFO_TERM_EXPIRED: _l("information term expired"),
    ClaimEvent.REQUEST_ADVICE: _l("ask for advice"),
    ClaimEvent.RECORD_ADVICE: _l("advice recorded"),
    ClaimEvent.PROPOSE_DECISION: _l("propose a decision"),
    ClaimEvent.GRANT: _l("grant"),
    ClaimEvent.GRANT_PARTIALLY: _l("grant partially"),
    ClaimEvent.REFUSE: _l("refuse"),
    ClaimEvent.DECLARE_NOT_CONSIDERED: _l("declare not considered"),
    ClaimEvent.SEND_BACK: _l("send back"),
    ClaimEvent.START_PAYMENT: _l("first payout"),
    ClaimEvent.SETTLE: _l("settle"),
    ClaimEvent.REOPEN_PAYMENT: _l("payout paid again"),
    ClaimEvent.REOPEN_AFTER_OBJECTION: _l("objection upheld"),
    ClaimEvent.WITHDRAW: _l("withdraw"),
    ClaimEvent.RETENTION_EXPIRED: _l("retention period over"),
}

# The marks (contrast on white, see theme.css's palette): the current state in navy with
# white text (14.5:1) and a thick border, the states and arrows of the path in blue (8.4:1)
# and thicker, so the mark is no colour alone.
_CURRENT_FILL = "#0b2a4a"
_CURRENT_TEXT = "#ffffff"
_PATH_COLOUR = "#1b4e8c"
_PATH_FILL = "#e8f0fa"


@functools.lru_cache(maxsize=16)
def layout(dot_source: str) -> str:
    """The SVG that `dot` draws for this DOT text, drawn once per process (the same text
    gives the same bytes with the same Graphviz)."""
    # Imported here: an app that never draws (a command) does not load them.
    import graphviz

    svg: bytes = graphviz.pipe("dot", "svg", dot_source.encode("utf-8"))
    return svg.decode("utf-8")


def machine_svg(
    workflow: Workflow[Any, Any],
    state_label: Callable[[Any], str] = str,
    event_label: Callable[[Any], str] = str,
    *,
    title: str | None = None,
) -> str:
    """The whole machine as SVG, with these labels (the states' and events' own names by
    default, as the README shows them)."""
    return layout(workflow.to_dot(state_label, event_label, title=title))


# The README's diagrams: each machine drawn with its states' and events' own names, as the
# code and the API name them (`python scripts/diagrams.py` writes them; a test compares).
README_DIAGRAMS: dict[str, Workflow[Any, Any]] = {
    "docs/claim-machine.svg": CLAIM_WORKFLOW,
    "docs/payout-machine.svg": PAYOUT,
    "docs/batch-machine.svg": BATCH,
}


def readme_diagram(workflow: Workflow[Any, Any]) -> str:
    """The machine as the README shows it."""
    return machine_svg(workflow, title=f"The {workflow.name} machine")


@dataclass(frozen=True)
class ClaimPath:
    """Where a claim went: its transitions in order, as its history recorded them."""

    steps: tuple[tuple[ClaimState, ClaimEvent, ClaimState], ...]

    @property
    def states(self) -> tuple[ClaimState, ...]:
        """The states in the order the claim was in them (from the first one)."""
        if not self.steps:
            return ()
        return (self.steps[0][0], *(dest for _source, _event, dest in self.steps))


def path_of(history: Iterable[AuditEvent]) -> ClaimPath:
    """The claim's transitions of its machine, read from its audit history (already loaded
    for the timeline: no query of its own). Other events of the history are no step."""
    known = set(CLAIM_WORKFLOW.transition_table())
    steps = []
    for event in history:
        try:
            step = (
                ClaimState(event.from_state or ""),
                ClaimEvent(event.event),
                ClaimState(event.to_state or ""),
            )
        except ValueError:
            continue
        if step in known:
            steps.append(step)
    return ClaimPath(tuple(steps))


def _state_label(state: ClaimState) -> str:
    return str(STATE_LABELS[state.value])


def _event_label(event: ClaimEvent) -> str:
    return str(CLAIM_EVENT_LABELS[event])


def claim_diagram(state: ClaimState, path: ClaimPath) -> Markup:
    """The claim machine in the reader's language, the claim's state and path marked."""
    # No caption in the drawing: the page's heading names it.
    svg = machine_svg(CLAIM_WORKFLOW, _state_label, _event_label)
    description = _("Diagram of the claim process.") + " " + statement(state, path)
    # Safe to put in the page as it is: lxml wrote it, escaping every text in it (the labels
    # are our own catalogue's, and no user's text is in it).
    return Markup(mark(svg, CLAIM_WORKFLOW.name, state, path.steps, description))  # noqa: S704


def statement(state: ClaimState, path: ClaimPath) -> str:
    """In words what the diagram marks: the current state, and the states the claim went
    through (the page shows it beside the diagram; the diagram only adds to it)."""
    current = _("Current state: %(state)s.", state=_state_label(state))
    if len(path.states) < 2:
        return current
    went = " → ".join(_state_label(step) for step in path.states)
    return current + " " + _("The path so far: %(path)s.", path=went)


def mark(
    svg: str,
    machine: str,
    current: Any,
    steps: Sequence[tuple[Any, Any, Any]],
    description: str,
) -> str:
    """A copy of the machine's SVG for inline use: the current state and the path marked,
    named for assistive technology by `description` (role img, its own title)."""
    from lxml import etree  # a page that draws loads it; the app's start does not

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    root = etree.fromstring(svg.encode("utf-8"), parser)
    # The viewBox scales it to its box (theme.css); graphviz's size in points would not.
    for attribute in ("width", "height"):
        root.attrib.pop(attribute, None)
    # One title for the whole: the nodes' own titles (their DOT names) would show as
    # tooltips in code names.
    for title in root.iter(f"{_SVG}title"):
        parent = title.getparent()
        if parent is not None:
            parent.remove(title)
    title_id = f"{machine}-diagram-title"
    title = etree.Element(f"{_SVG}title", id=title_id)
    title.text = description
    root.insert(0, title)
    root.set("role", "img")
    root.set("aria-labelledby", title_id)
    root.set("class", "vw-diagram__svg")
    root.set("focusable", "false")

    groups = {group.get("id"): group for group in root.iter(f"{_SVG}g")}
    for source, event, dest in steps:
        edge = groups.get(f"{machine}-edge-{source}-{event}-{dest}")
        if edge is not None:
            _add_class(edge, "vw-diagram__path")
            for shape in edge.iter(f"{_SVG}path", f"{_SVG}polygon"):
                shape.set("stroke", _PATH_COLOUR)
                shape.set("stroke-width", "2.5")
                if shape.tag == f"{_SVG}polygon":
                    shape.set("fill", _PATH_COLOUR)
            for text in edge.iter(f"{_SVG}text"):
                text.set("fill", _PATH_COLOUR)
                text.set("font-weight", "bold")
        for state in (source, dest):
            node = groups.get(f"{machine}-state-{state}")
            if node is not None and state != current:
                _add_class(node, "vw-diagram__visited")
                for shape in node.iter(f"{_SVG}path", f"{_SVG}polygon"):
                    shape.set("stroke", _PATH_COLOUR)
                    shape.set("stroke-width", "2")
                    shape.set("fill", _PATH_FILL)
    node = groups.get(f"{machine}-state-{current}")
    if node is not None:
        _add_class(node, "vw-diagram__current")
        node.set("aria-current", "step")
        for shape in node.iter(f"{_SVG}path", f"{_SVG}polygon"):
            shape.set("fill", _CURRENT_FILL)
            shape.set("stroke", _CURRENT_FILL)
            shape.set("stroke-width", "3")
        for text in node.iter(f"{_SVG}text"):
            text.set("fill", _CURRENT_TEXT)
            text.set("font-weight", "bold")
    return etree.tostring(root, encoding="unicode")


def _add_class(element: Any, name: str) -> None:
    element.set("class", f"{element.get('class', '')} {name}".strip())
