"""The audit log: every state change and operator decision, with who, when and why."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from .extensions import db
from .models import AuditEvent
from .statemachine import StateMachine


class Audited(Protocol):
    """A model the audit log speaks of: the class names its kind once (``__audit_type__ =
    "pledge"``), so no call site can file a line under a misspelt subject type."""

    __audit_type__: ClassVar[str]
    id: Any


#: What an audit line is about: the record itself, or (subject type, id) where the record is
#: not at hand or the line belongs to another record's history (an order's, to its run's).
Subject = Audited | tuple[str, int | None]


def record_about(
    action: str,
    subject: Subject,
    *,
    actor,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one line to the audit log, in the caller's transaction. ``actor`` is an account
    (anything with an ``id``), or None for the system itself."""
    if isinstance(subject, tuple):
        subject_type, subject_id = subject
    else:
        subject_type, subject_id = subject.__audit_type__, subject.id
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
    obj: Audited,
    event: str,
    *,
    actor,
    reason: str | None = None,
    **data: Any,
) -> bool:
    """Move ``obj.state`` through ``machine`` and record the move in the audit log as
    ``<audit type>.<event>``, in the caller's transaction. A repeated event changes and
    records nothing: returns False."""
    move = machine.next(obj.state, event)
    if not move.changed:
        return False
    obj.state = move.target
    record_about(
        f"{obj.__audit_type__}.{event}",
        obj,
        actor=actor,
        from_state=move.source.value,
        to_state=move.target.value,
        reason=reason,
        **data,
    )
    return True
