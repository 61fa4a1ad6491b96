"""One small engine for every state machine of the product (designs, campaigns, pledges,
production runs).

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
    def __init__(self, name: str, moves: Mapping[tuple[enum.Enum, str], enum.Enum]):
        self.name = name
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
