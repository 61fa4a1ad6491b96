"""The console's front page (what waits for an operator) and the audit log."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import joinedload

from marketplace.accounts.authz import operator_required
from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent, MailStatus, OutboxMail

from . import campaigns, designs, production, settlements

operator = Blueprint("operator", __name__, url_prefix="/operator")

_QUEUE_PROVIDERS = (designs.queue_counts, campaigns.queue_counts, settlements.queue_counts)
#: Items (queue, title, link, since or due) of the console's work queues.
_ITEM_PROVIDERS = (
    designs.queue_items,
    campaigns.queue_items,
    settlements.queue_items,
    production.queue_items,
)


@operator.get("/")
@operator_required
def console():
    counts = {
        "accounts": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
        "verified": db.session.scalar(
            sa.select(sa.func.count()).where(User.email_verified_at.is_not(None))
        ),
        "designers": db.session.scalar(
            sa.select(sa.func.count()).where(User.designer_terms_version.is_not(None))
        ),
        "mail_failed": db.session.scalar(
            sa.select(sa.func.count()).where(OutboxMail.status == MailStatus.FAILED)
        ),
    }
    events = db.session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(25)
    ).all()
    items: dict[str, list[dict]] = {}
    for provider in _ITEM_PROVIDERS:
        for item in provider():
            items.setdefault(item["queue"], []).append(item)
    return render_template(
        "operator/console.html",
        counts=counts,
        events=events,
        queues=_work_queues(),
        items=items,
        now=utcnow(),
    )


AUDIT_PAGE = 100


@operator.get("/audit")
@operator_required
def audit():
    """Every operator action and state change, filterable: who, what, when, why."""
    args = request.args
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    filters = {
        "who": args.get("who", "").strip(),
        "subject_type": args.get("subject_type", "").strip(),
        "subject_id": args.get("subject_id", "").strip(),
        "action": args.get("action", "").strip(),
        "operators_only": args.get("operators_only") == "1",
        "since": args.get("since", "").strip(),
        "until": args.get("until", "").strip(),
    }
    if filters["who"] == "system":
        query = query.where(AuditEvent.actor_id.is_(None))
    elif filters["who"]:
        query = query.join(User, User.id == AuditEvent.actor_id).where(
            User.email.contains(filters["who"].lower())
        )
    if filters["operators_only"]:
        operators = sa.select(User.id).where(User.is_operator)
        query = query.where(AuditEvent.actor_id.in_(operators))
    if filters["subject_type"]:
        query = query.where(AuditEvent.subject_type == filters["subject_type"])
    if filters["subject_id"].isdigit():
        query = query.where(AuditEvent.subject_id == int(filters["subject_id"]))
    if filters["action"]:
        query = query.where(AuditEvent.action.startswith(filters["action"], autoescape=True))
    for key, op in (("since", "__ge__"), ("until", "__lt__")):
        if filters[key]:
            try:
                day = dt.date.fromisoformat(filters[key])
            except ValueError:
                abort(400, description=f"“{filters[key]}” is not a date (YYYY-MM-DD).")
            if key == "until":
                day += dt.timedelta(days=1)
            bound = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            query = query.where(getattr(AuditEvent.created_at, op)(bound))
    page = max(args.get("page", 1, type=int), 1)
    rows = db.session.scalars(
        query.options(joinedload(AuditEvent.actor))
        .limit(AUDIT_PAGE + 1)
        .offset((page - 1) * AUDIT_PAGE)
    ).all()
    subject_types = db.session.scalars(
        sa.select(AuditEvent.subject_type).distinct().order_by(AuditEvent.subject_type)
    ).all()
    return render_template(
        "operator/audit.html",
        events=rows[:AUDIT_PAGE],
        has_next=len(rows) > AUDIT_PAGE,
        page=page,
        filters=filters,
        subject_types=subject_types,
    )


def _work_queues() -> list[tuple[str, int, str]]:
    """What waits for an operator: (label, count, link) rows from each package."""
    return [row for provider in _QUEUE_PROVIDERS for row in provider()]
