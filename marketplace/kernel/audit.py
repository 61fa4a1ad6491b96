"""The audit log: every state change and operator decision, with who, when and why."""

from __future__ import annotations

from typing import Any

from .extensions import db
from .models import AuditEvent
from .statemachine import StateMachine


def record(
    action: str,
    *,
    actor,
    subject_type: str,
    subject_id: int | None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one line to the audit log, in the caller's transaction. ``actor`` is an account
    (anything with an ``id``), or None for the system itself."""
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor else None,
        subject_type=subject_type,
        subject_id=subject_id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or None,
    )
    db.session.add(event)
    return event


def apply_transition(
    machine: StateMachine,
    obj,
    event: str,
    *,
    actor,
    subject_type: str,
    reason: str | None = None,
    **data: Any,
) -> bool:
    """Move ``obj.state`` through ``machine`` and record the move in the audit log, in the
    caller's transaction. A repeated event changes and records nothing: returns False."""
    move = machine.next(obj.state, event)
    if not move.changed:
        return False
    obj.state = move.target
    record(
        f"{subject_type}.{event}",
        actor=actor,
        subject_type=subject_type,
        subject_id=obj.id,
        from_state=move.source.value,
        to_state=move.target.value,
        reason=reason,
        **data,
    )
    return True
