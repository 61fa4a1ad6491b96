"""The console's front page (what waits for an operator) and the audit log."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _

from marketplace.accounts import queries as accounts
from marketplace.accounts.authz import operator_required
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.mail import failed_mail_count
from marketplace.kernel.web import as_id, page_number

from . import campaigns, designs, kpis, production, redesigns, settlements

operator = Blueprint("operator", __name__, url_prefix="/operator")

_QUEUE_PROVIDERS = (
    designs.queue_counts,
    campaigns.queue_counts,
    settlements.queue_counts,
    redesigns.queue_counts,
)
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
    items: dict[str, list[dict]] = {}
    for provider in _ITEM_PROVIDERS:
        for item in provider():
            items.setdefault(item["queue"], []).append(item)
    return render_template(
        "operator/console.html",
        counts={**accounts.account_counts(), "mail_failed": failed_mail_count()},
        events=accounts.latest_audit_events(),
        queues=_work_queues(),
        items=items,
        now=utcnow(),
        off_track=kpis.off_track(),
        kpi_days=kpis.DEFAULT_DAYS,
    )


AUDIT_PAGE = 100


@operator.get("/audit")
@operator_required
def audit():
    """Every operator action and state change, filterable: who, what, when, why."""
    args = request.args
    form = {
        key: args.get(key, "").strip()
        for key in ("who", "subject_type", "subject_id", "action", "since", "until")
    }
    form["operators_only"] = args.get("operators_only") == "1"
    filters = accounts.AuditFilters(
        who=form["who"],
        subject_type=form["subject_type"],
        subject_id=as_id(form["subject_id"]),
        action=form["action"],
        operators_only=form["operators_only"],
        since=_day(form["since"]),
        until=_day(form["until"]),
    )
    page = page_number()
    rows, has_next = accounts.audit_page(filters, page, AUDIT_PAGE)
    return render_template(
        "operator/audit.html",
        events=rows,
        has_next=has_next,
        page=page,
        filters=form,
        subject_types=accounts.audit_subject_types(),
    )


def _day(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(400, description=_("“%(text)s” is not a date (YYYY-MM-DD).", text=text))


def _work_queues() -> list[tuple[str, int, str]]:
    """What waits for an operator: (label, count, link) rows from each package."""
    return [row for provider in _QUEUE_PROVIDERS for row in provider()]
