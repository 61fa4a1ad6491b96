"""One small engine for every state machine of the product (designs, campaigns, pledges,
charge attempts, refunds, production runs, orders, outbox mail).

A machine is a table of legal moves ``(state, event) -> new state``. Applying an event that is
not in the table raises :class:`IllegalTransition`, except when the record already is in the
state that event leads to: a repeated event (a job run twice, a webhook delivered twice) is a
no-op, not an error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class IllegalTransition(Exception):
    def __init__(self, machine: str, state: enum.Enum, event: str):
        self.machine, self.state, self.event = machine, state, event
        super().__init__(f"{machine}: cannot {event} from {state.value}")


@dataclass(frozen=True)
class Move:
    source: enum.Enum
    target: enum.Enum
    changed: bool


class StateMachine:
    def __init__(
        self,
        name: str,
        moves: Mapping[tuple[enum.Enum, str], enum.Enum],
        *,
        attribute: str = "state",
    ):
        self.name = name
        #: The column of the record that holds its state ("state", or "status").
        self.attribute = attribute
        self.moves = dict(moves)
        self.events = {event for _, event in self.moves}
        self._targets: dict[str, set[enum.Enum]] = {}
        for (_, event), target in self.moves.items():
            self._targets.setdefault(event, set()).add(target)

    def next(self, state: enum.Enum, event: str) -> Move:
        if event not in self.events:
            raise ValueError(f"{self.name}: unknown event {event!r}")
        target = self.moves.get((state, event))
        if target is not None:
            return Move(state, target, True)
        if state in self._targets[event]:
            return Move(state, state, False)
        raise IllegalTransition(self.name, state, event)

    @classmethod
    def from_table(
        cls, name: str, states: type[enum.Enum], table: str, *, attribute: str = "state"
    ) -> StateMachine:
        """A machine written as its table, one move a line: ``source  event  target``, the
        states by their stored values, ``#`` starting a comment. It reads like the pipeline
        in DESIGN.md, and a misspelt state fails at import."""
        moves = {}
        for line in table.splitlines():
            words = line.partition("#")[0].split()
            if not words:
                continue
            source, event, target = words
            if (states(source), event) in moves:
                raise ValueError(f"{name}: {source} {event} is written twice")
            moves[(states(source), event)] = states(target)
        return cls(name, moves, attribute=attribute)

    def allows(self, state: enum.Enum, event: str) -> bool:
        """Whether ``event`` is legal from ``state`` (a move, or a repeat that changes nothing)."""
        try:
            self.next(state, event)
        except IllegalTransition:
            return False
        return True

    def sources(self, event: str) -> set[enum.Enum]:
        """The states that ``event`` moves on: what a bulk UPDATE of that event matches."""
        if event not in self.events:
            raise ValueError(f"{self.name}: unknown event {event!r}")
        return {state for state, moved_by in self.moves if moved_by == event}

    def target(self, event: str) -> enum.Enum:
        """Where ``event`` leads, for an event with a single destination (bulk updates)."""
        (only,) = self._targets[event]
        return only

    def apply(self, obj, event: str) -> bool:
        """Move ``obj`` through the machine; False when the event was a repeat. For records
        whose moves are audited through another record (an attempt through its pledge); the
        rest go through ``marketplace.kernel.audit.apply_transition``."""
        move = self.next(getattr(obj, self.attribute), event)
        if move.changed:
            setattr(obj, self.attribute, move.target)
        return move.changed
