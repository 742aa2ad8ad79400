"""The one way our workflows are built: a declared spec table run by one `transitions` machine.

A `Workflow` is built once, at import, with no model (`model=None`). Its `fire(obj, event,
actor=..., context=...)` runs an event on any object with a `state` attribute without
registering it, so memory does not grow with the number of objects and the machine holds
no per-object state (it is safe to share between threads).

Each transition is one `Spec` line: the event, its source states, its destination, the
rules that must hold (each raises `RuleViolation` naming its rule, so a refusal always says
why) and the effects that write the object's attributes. A rule or effect declares with
`reads` the facts it reads beyond the object's own columns, so the caller loads only what
the event being fired needs (`Workflow.facts`). A spec may also carry a `route`:
a question, not a rule, that picks between two transitions of the same event and source
(a payout above the approver's limit goes to a second check instead). An event the
current state does not allow, or that no route takes, raises `InvalidTransition` (HTTP
409); a name that is no event of the workflow raises `UnknownEvent`.

A refused event (any exception) changes nothing: every rule runs before any write.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from transitions import EventData, Machine, MachineError

from workflows.rules import Actor, MissingEventData, WorkflowError

__all__ = [
    "InvalidTransition",
    "Spec",
    "Step",
    "TransitionRecord",
    "UnknownEvent",
    "Workflow",
    "reads",
]

StateT = TypeVar("StateT", bound=StrEnum)
EventT = TypeVar("EventT", bound=StrEnum)

# A rule or an effect: the object, the acting user, and the facts the caller computed.
Step = Callable[[Any, Actor, Any], None]
# A route answers "this way?" without refusing anything.
Route = Callable[[Any, Actor, Any], bool]
StepT = TypeVar("StepT", bound=Callable[..., Any])

# Where `reads` keeps a step's facts.
_FACTS = "workflow_reads"


def reads(*facts: Hashable) -> Callable[[StepT], StepT]:
    """Declare the facts a rule, effect or route reads beyond the object's own columns
    (its related rows, what the caller puts in the context), for `Workflow.facts`."""

    def declare(step: StepT) -> StepT:
        setattr(step, _FACTS, frozenset(facts))
        return step

    return declare


def facts_of(step: Callable[..., Any]) -> frozenset[Hashable]:
    """The facts `step` declared with `reads` (none if it declared none)."""
    declared: frozenset[Hashable] = getattr(step, _FACTS, frozenset())
    return declared


class InvalidTransition(WorkflowError, MachineError):
    """The event is not allowed in the object's current state (HTTP 409)."""

    def __init__(self, event: StrEnum, state: StrEnum) -> None:
        super().__init__(f"{event} is not allowed in state {state}")
        self.event = event
        self.state = state

    def __str__(self) -> str:
        # MachineError shows the repr of its message; ours reads as a sentence.
        return str(self.value)


class UnknownEvent(WorkflowError, ValueError):
    """No such event in this workflow (HTTP 400/422, unlike InvalidTransition's 409)."""


@dataclass(frozen=True, slots=True)
class TransitionRecord(Generic[StateT, EventT]):
    """What happened, for the service to persist and write into the audit event.

    `changes` maps each recorded attribute the event changed to its (old, new) values;
    `state` is in `source`/`dest`.
    """

    event: EventT
    source: StateT
    dest: StateT
    actor_id: int | None
    changes: Mapping[str, tuple[object, object]]


@dataclass(frozen=True, slots=True)
class Spec(Generic[StateT, EventT]):
    """One transition: rules run first (any may refuse), effects only once all held."""

    event: EventT
    sources: tuple[StateT, ...]
    dest: StateT
    rules: tuple[Step, ...] = ()
    effects: tuple[Step, ...] = ()
    route: Route | None = None


def _run(step: Step, event_data: EventData) -> None:
    # fire() checked the actor and context types before triggering.
    step(event_data.model, event_data.kwargs["actor"], event_data.kwargs.get("context"))


def _as_condition(step: Step) -> Callable[[EventData], bool]:
    def condition(event_data: EventData) -> bool:
        _run(step, event_data)
        # Reached only when every rule held: a violated rule has raised, with its reason.
        return True

    condition.__name__ = step.__name__  # transitions logs callbacks by name
    return condition


def _as_route(route: Route) -> Callable[[EventData], bool]:
    def condition(event_data: EventData) -> bool:
        model, kwargs = event_data.model, event_data.kwargs
        return route(model, kwargs["actor"], kwargs.get("context"))

    condition.__name__ = route.__name__
    return condition


def _as_callback(step: Step) -> Callable[[EventData], None]:
    def callback(event_data: EventData) -> None:
        _run(step, event_data)

    callback.__name__ = step.__name__
    return callback


class Workflow(Generic[StateT, EventT]):
    """One machine for every object of a kind, fired on objects it never registers."""

    def __init__(
        self,
        name: str,
        *,
        states: type[StateT],
        events: type[EventT],
        initial: StateT,
        specs: tuple[Spec[StateT, EventT], ...],
        authorisation: Callable[[EventT], Step],
        recorded: tuple[str, ...],
        context_type: type[Any],
        default_context: Callable[[], Any] | None = None,
        final: frozenset[StateT] = frozenset(),
    ) -> None:
        self.name = name
        self.states = states
        self.events = events
        self.recorded = recorded
        self.context_type = context_type
        # None: an event that needs facts refuses to guess them (MissingEventData).
        self.default_context = default_context
        self.machine = Machine(
            model=None,  # objects are passed per event, never registered
            states=[{"name": state, "final": state in final} for state in states],
            initial=initial,
            auto_transitions=False,  # no to_<state>() shortcuts around the guards
            send_event=True,
            model_attribute="state",
            ignore_invalid_triggers=False,
            queued=False,  # a queue would be shared by every object in the process
            name=name,
        )
        facts: dict[EventT, frozenset[Hashable]] = {event: frozenset() for event in events}
        for spec in specs:
            authorise = authorisation(spec.event)
            steps: list[Callable[..., Any]] = [authorise, *spec.rules, *spec.effects]
            if spec.route is not None:
                steps.append(spec.route)
            facts[spec.event] = facts[spec.event].union(*(facts_of(step) for step in steps))
            conditions: list[Callable[[EventData], bool]] = [
                _as_condition(step) for step in (authorise, *spec.rules)
            ]
            if spec.route is not None:
                conditions.append(_as_route(spec.route))
            self.machine.add_transition(
                trigger=spec.event.value,
                source=list(spec.sources),
                dest=spec.dest,
                conditions=list[Any](conditions),
                # "before" runs only after every condition held, so a refusal writes nothing.
                before=[_as_callback(step) for step in spec.effects],
            )
        allowed: dict[StateT, set[EventT]] = {state: set() for state in states}
        for source, event, _dest in self.transition_table():
            allowed[source].add(event)
        self._allowed = MappingProxyType(
            {state: frozenset(found) for state, found in allowed.items()}
        )
        self._facts = MappingProxyType(facts)

    def event(self, event: EventT | str) -> EventT:
        """The event of this workflow by that name, or `UnknownEvent`."""
        try:
            return self.events(event)
        except ValueError:
            raise UnknownEvent(f"{event!r} is not a {self.name} event") from None

    def fire(
        self, obj: Any, event: EventT | str, *, actor: Actor, context: Any = None
    ) -> TransitionRecord[StateT, EventT]:
        """Fire an event on an object by an actor; return what changed, or raise.

        Raises `UnknownEvent` for a name that is no event here, `InvalidTransition` when the
        current state does not allow the event (or no route takes it), `RuleViolation` when
        a rule forbids it, and `MissingEventData` for a missing actor or context. On any
        exception the object is unchanged, except that a state held as a plain string may
        have been replaced by its equal state member.
        """
        fired = self.event(event)
        if not isinstance(actor, Actor):
            raise MissingEventData(f"{fired} needs an Actor, not {type(actor).__name__}")
        if context is None and self.default_context is not None:
            context = self.default_context()
        if context is not None and not isinstance(context, self.context_type):
            raise MissingEventData(
                f"context must be a {self.context_type.__name__}, not {type(context).__name__}"
            )

        source = self.states(obj.state)
        if fired not in self._allowed[source]:
            raise InvalidTransition(fired, source)
        if source is not obj.state:
            # transitions finds a state by enum member; a plain string would be looked up by
            # the member's NAME ("DRAFT") and fail, so hand it the member for the same value.
            obj.state = source

        before = {name: getattr(obj, name) for name in self.recorded}
        # Event.trigger runs the event for this one object without add_model(): nothing is
        # attached to it and the machine keeps no reference to it afterwards.
        if not self.machine.events[fired.value].trigger(obj, actor=actor, context=context):
            # No route took it (every rule held, but no transition's question said yes).
            raise InvalidTransition(fired, source)

        after = {name: getattr(obj, name) for name in self.recorded}
        changes = {
            name: (before[name], after[name]) for name in before if after[name] != before[name]
        }
        return TransitionRecord(
            event=fired,
            source=source,
            dest=self.states(obj.state),
            actor_id=actor.user_id,
            changes=MappingProxyType(changes),
        )

    def facts(self, event: EventT | str) -> frozenset[Hashable]:
        """The facts the event's authorisation, rules, effects and routes declared they read
        (`reads`), over every transition of the event: what the caller loads to fire it."""
        return self._facts[self.event(event)]

    def allowed_events(self, state: StateT | str) -> frozenset[EventT]:
        """Return the events the state allows, by anyone (the rules decide who and whether)."""
        return self._allowed[self.states(state)]

    def transition_table(self) -> tuple[tuple[StateT, EventT, StateT], ...]:
        """Return every (source, event, destination), read from the machine itself."""
        rows: list[tuple[StateT, EventT, StateT]] = []
        for name, event in self.machine.events.items():
            for source_name, transitions in event.transitions.items():
                rows.extend(
                    (self._state(source_name), self.events(name), self._state(transition.dest))
                    for transition in transitions
                )
        return tuple(rows)

    def to_mermaid(self) -> str:
        """Render the machine as a Mermaid stateDiagram-v2, so the documentation cannot drift."""
        lines = ["stateDiagram-v2", f"    [*] --> {self._state(self.machine.initial).value}"]
        lines += [
            f"    {source.value} --> {dest.value}: {event.value}"
            for source, event, dest in self.transition_table()
        ]
        lines += [
            f"    {self._state(name).value} --> [*]"
            for name, state in self.machine.states.items()
            if state.final
        ]
        return "\n".join(lines) + "\n"

    def to_dot(
        self,
        state_label: Callable[[StateT], str] = str,
        event_label: Callable[[EventT], str] = str,
        *,
        title: str | None = None,
    ) -> str:
        """Render the machine as Graphviz DOT text, every state and transition read from it.

        Each state's node has the id `<name>-state-<state>` and each transition's edge
        `<name>-edge-<source>-<event>-<dest>`, so a page can mark a state or a path in the
        drawn SVG without laying it out again. The text depends only on the machine, the
        labels and the title (none: no caption): the same machine gives the same text (and
        `dot` the same drawing).
        """
        initial = self._state(self.machine.initial)
        final = {self._state(name) for name, state in self.machine.states.items() if state.final}
        label = f", label={_dot_id(title)}, labelloc=t" if title else ""
        lines = [
            f"digraph {_dot_id(self.name)} {{",
            f"  graph [id={_dot_id(self.name + '-machine')}, rankdir=TB, nodesep=0.35,"
            f' ranksep=0.45, fontname="Helvetica", fontsize=13{label}];',
            '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", color="#434343",'
            ' fontname="Helvetica", fontsize=12, margin="0.12,0.06"];',
            '  edge [color="#6b6b6b", fontname="Helvetica", fontsize=10, arrowsize=0.7];',
            f"  {_dot_id(self.name + '-start')} [id={_dot_id(self.name + '-start')},"
            ' shape=point, width=0.12, label="", fillcolor="#434343"];',
        ]
        for state in self.states:
            shape = ", peripheries=2" if state in final else ""
            lines.append(
                f"  {_dot_id(state.value)} [id={_dot_id(f'{self.name}-state-{state.value}')},"
                f" label={_dot_id(state_label(state))}{shape}];"
            )
        lines.append(f"  {_dot_id(self.name + '-start')} -> {_dot_id(initial.value)};")
        for source, event, dest in self.transition_table():
            ident = f"{self.name}-edge-{source.value}-{event.value}-{dest.value}"
            lines.append(
                f"  {_dot_id(source.value)} -> {_dot_id(dest.value)}"
                f" [id={_dot_id(ident)}, label={_dot_id(event_label(event))}];"
            )
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _state(self, name: str | None) -> StateT:
        # The machine keys states by the enum member's NAME; every state here is ours.
        if name is None:
            raise ValueError(f"the {self.name} machine has no internal (dest=None) transitions")
        value = self.machine.get_state(name).value
        if not isinstance(value, self.states):
            raise TypeError(f"the {self.name} machine holds a foreign state: {value!r}")
        return value


def _dot_id(text: str) -> str:
    """A DOT identifier: the text quoted, with its quotes and backslashes escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def recorder(attribute: str) -> Step:
    """An effect that records the actor's user id in `attribute`."""

    def record(obj: Any, actor: Actor, context: Any) -> None:
        setattr(obj, attribute, actor.user_id)

    record.__name__ = f"record_{attribute}"
    return record
