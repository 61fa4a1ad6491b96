"""Campaign pages, "My pledges", updates, and the operators' campaign console."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from marketplace.accounts.authz import verified_required
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.models import AuditEvent
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.signals import campaign_timeline, collect, pledge_details
from marketplace.kernel.web import committed, posted

from . import queries, services
from .forms import (
    ChangePledgeForm,
    PledgeForm,
    UpdateForm,
)
from .models import Campaign, CampaignState, CampaignUpdate, CampaignVariant, Pledge

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
pledges_bp = Blueprint("pledges", __name__, url_prefix="/pledges")

SORTS = {"ending": "Ending soon", "funded": "Most funded", "new": "New"}
RESULT_STATES = tuple(
    s for s in CampaignState if s not in (CampaignState.SCHEDULED, CampaignState.LIVE)
)


def _variant_choices(campaign: Campaign) -> list[SelectChoice]:
    choices = []
    for v in campaign.variants:
        left = v.units_left
        label = v.label if left is None else f"{v.label} ({left} left)"
        choices.append(SelectChoice(v.id, label, render_kw={"disabled": True} if left == 0 else {}))
    return choices


@bp.get("/")
@cached_for_anonymous
def index():
    sort = request.args.get("sort", "ending")
    if sort not in SORTS:
        sort = "ending"
    units = (
        sa.select(sa.func.coalesce(sa.func.sum(CampaignVariant.reserved_units), 0))
        .where(CampaignVariant.campaign_id == Campaign.id)
        .scalar_subquery()
    )
    stmt = sa.select(Campaign).where(Campaign.state == CampaignState.LIVE)
    if sort == "funded":
        stmt = stmt.order_by((units * 1.0 / Campaign.goal_units).desc(), Campaign.id)
    elif sort == "new":
        stmt = stmt.order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    else:
        stmt = stmt.order_by(Campaign.deadline, Campaign.id)
    live = db.session.scalars(stmt.options(*queries.campaign_options()).limit(60)).all()
    results = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state.in_(RESULT_STATES))
        .options(*queries.campaign_options())
        .order_by(Campaign.closed_at.desc().nulls_last(), Campaign.id.desc())
        .limit(12)
    ).all()
    upcoming = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state == CampaignState.SCHEDULED)
        .options(*queries.campaign_options())
        .order_by(Campaign.starts_at)
        .limit(12)
    ).all()
    return render_template(
        "campaigns/index.html",
        live=live,
        results=results,
        upcoming=upcoming,
        sort=sort,
        sorts=SORTS,
    )


@bp.get("/<int:campaign_id>")
@cached_for_anonymous
def show(campaign_id: int):
    campaign = db.session.scalar(
        sa.select(Campaign).where(Campaign.id == campaign_id).options(*queries.campaign_options())
    )
    if campaign is None:
        abort(404)
    is_backer = services.is_backer(campaign.id, current_user)
    can_post = services.can_post_update(campaign, current_user)
    updates_stmt = sa.select(CampaignUpdate).where(CampaignUpdate.campaign_id == campaign.id)
    if not (is_backer or can_post):
        updates_stmt = updates_stmt.where(sa.not_(CampaignUpdate.backers_only))
    updates = db.session.scalars(
        updates_stmt.options(joinedload(CampaignUpdate.author)).order_by(CampaignUpdate.id.desc())
    ).all()
    my_pledges = []
    if current_user.is_authenticated:
        my_pledges = db.session.scalars(
            sa.select(Pledge)
            .where(Pledge.campaign_id == campaign.id, Pledge.backer_id == current_user.id)
            .options(joinedload(Pledge.variant))
            .order_by(Pledge.id)
        ).all()
    pledge_form = None
    if current_user.is_authenticated:  # a CSRF token means a session: members only
        pledge_form = PledgeForm(formdata=None, idempotency_key=secrets.token_urlsafe(24))
        pledge_form.variant_id.choices = _variant_choices(campaign)
    # Packages built on campaigns (production runs) add their own subjects' events.
    subjects = [("campaign", campaign.id)] + [
        subject for found in collect(campaign_timeline, campaign) for subject in found
    ]
    timeline = db.session.scalars(
        sa.select(AuditEvent)
        .where(
            sa.or_(
                *(
                    sa.and_(AuditEvent.subject_type == kind, AuditEvent.subject_id == sid)
                    for kind, sid in subjects
                )
            ),
            AuditEvent.action != "production_run.orders_shipped",
        )
        .order_by(AuditEvent.id)
    ).all()
    return render_template(
        "campaigns/show.html",
        campaign=campaign,
        backers=services.backer_count(campaign.id),
        updates=updates,
        my_pledges=my_pledges,
        pledge_form=pledge_form,
        update_form=UpdateForm(formdata=None) if can_post else None,
        timeline=timeline,
        now=utcnow(),
    )


@bp.post("/<int:campaign_id>/updates")
@login_required
def post_update(campaign_id: int):
    form = posted(UpdateForm, "An update needs a title (3-120 characters) and a text.")
    services.post_update(
        campaign_id, current_user, form.title.data, form.body.data, bool(form.backers_only.data)
    )
    return committed(
        url_for("campaigns.show", campaign_id=campaign_id),
        "Update posted; backers are being mailed.",
        "success",
    )


# --- my pledges -------------------------------------------------------------------------------


@pledges_bp.get("/")
@login_required
def mine():
    pledges = db.session.scalars(
        sa.select(Pledge)
        .where(Pledge.backer_id == current_user.id)
        .options(
            joinedload(Pledge.variant),
            joinedload(Pledge.campaign).joinedload(Campaign.design),
            joinedload(Pledge.campaign).selectinload(Campaign.variants),
        )
        .order_by(Pledge.id.desc())
    ).all()
    forms = {}
    for pledge in pledges:
        if pledge.is_changeable:
            form = ChangePledgeForm(
                formdata=None, variant_id=pledge.variant_id, quantity=pledge.quantity
            )
            form.variant_id.choices = _variant_choices(pledge.campaign)
            forms[pledge.id] = form
    # Production (which builds on this package) adds its survey and order lines.
    details: dict[int, list] = {}
    for found in collect(pledge_details, pledges):
        for pledge_id, lines in found.items():
            details.setdefault(pledge_id, []).extend(lines)
    return render_template(
        "campaigns/my_pledges.html",
        pledges=pledges,
        forms=forms,
        details=details,
        button=ButtonForm(formdata=None),
    )


@pledges_bp.post("/<int:pledge_id>/change")
@verified_required
def change(pledge_id: int):
    form = posted(ChangePledgeForm, "Choose a variant and a quantity from 1 to 10.")
    services.change_pledge(pledge_id, current_user, form.variant_id.data, form.quantity.data)
    return committed(url_for("pledges.mine"), "Pledge changed.", "success")


@pledges_bp.post("/<int:pledge_id>/cancel")
@verified_required
def cancel(pledge_id: int):
    posted(ButtonForm)
    services.cancel_pledge(pledge_id, current_user)
    return committed(
        url_for("pledges.mine"),
        "Pledge cancelled. Nothing was charged, and nothing will be.",
        "info",
    )
