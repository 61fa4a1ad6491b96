"""Campaign pages, "My pledges", updates, and the operators' campaign console."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectChoice

from marketplace.accounts.authz import verified_required
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import limiter
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.i18n import money
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.signals import (
    campaign_sections,
    campaign_timeline,
    collect,
    pledge_details,
    sections,
)
from marketplace.kernel.web import arg_choice, committed, or_404, posted, retried_on_conflict

from . import images, queries, services
from .forms import (
    ChangePledgeForm,
    PledgeForm,
    UpdateForm,
)
from .models import Campaign, zone_label

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
pledges_bp = Blueprint("pledges", __name__, url_prefix="/pledges")
# Pages and mails that name a pledge's shipping zone.
bp.add_app_template_global(zone_label)

SORTS = {"ending": _l("Ending soon"), "funded": _l("Most funded"), "new": _l("New")}


def _variant_choices(campaign: Campaign) -> list[SelectChoice]:
    choices = []
    for v in campaign.variants:
        left = v.units_left
        label = (
            v.label if left is None else _("%(label)s (%(left)s left)", label=v.label, left=left)
        )
        choices.append(SelectChoice(v.id, label, render_kw={"disabled": True} if left == 0 else {}))
    return choices


def _zone_choices(campaign: Campaign) -> list[SelectChoice]:
    """Each zone with its shipping price, so the choice shows what it adds to the charge."""
    return [
        SelectChoice(
            zone,
            _(
                "%(zone)s: %(price)s",
                zone=zone_label(zone, campaign.ships_from),
                price=money(cents, campaign.currency) if cents else _("free shipping"),
            ),
        )
        for zone, cents in campaign.shipping_rates
    ]


@bp.get("/")
@cached_for_anonymous
def index():
    sort = arg_choice("sort", SORTS, "ending")
    return render_template(
        "campaigns/index.html",
        live=queries.live_campaigns(sort),
        results=queries.closed_campaigns(),
        upcoming=queries.upcoming_campaigns(),
        sort=sort,
        sorts=SORTS,
    )


@bp.get("/<int:campaign_id>")
@cached_for_anonymous
def show(campaign_id: int):
    campaign = or_404(queries.campaign_for_page(campaign_id))
    is_backer = queries.is_backer(campaign.id, current_user)
    can_post = services.can_post_update(campaign, current_user)
    updates = queries.updates(campaign.id, include_backers_only=is_backer or can_post)
    my_pledges = queries.pledges_on(campaign.id, current_user)
    pledge_form = None
    if current_user.is_authenticated:  # a CSRF token means a session: members only
        pledge_form = PledgeForm(formdata=None, idempotency_key=secrets.token_urlsafe(24))
        pledge_form.variant_id.choices = _variant_choices(campaign)
        pledge_form.shipping_zone.choices = _zone_choices(campaign)
    # Packages built on campaigns (production runs) add their own subjects' events.
    subjects = [("campaign", campaign.id)] + [
        subject for found in collect(campaign_timeline, campaign) for subject in found
    ]
    return render_template(
        "campaigns/show.html",
        campaign=campaign,
        backers=queries.backer_count(campaign.id),
        updates=updates,
        my_pledges=my_pledges,
        pledge_form=pledge_form,
        update_form=UpdateForm(formdata=None) if can_post else None,
        timeline=queries.timeline_events(subjects),
        now=utcnow(),
        sections=sections(campaign_sections, campaign),
    )


@bp.get("/<int:campaign_id>/images/<int:image_id>/<size>")
def image(campaign_id: int, image_id: int, size: str):
    """A product picture; campaign pages are public, and so are their pictures."""
    if size not in ("gallery", "detail", "original"):
        abort(404)
    picture = or_404(queries.campaign_image(campaign_id, image_id))
    try:
        return send_file(
            images.image_path(picture.image_key, size), max_age=86400, conditional=True
        )
    except FileNotFoundError:  # an upload folder restored without it: gone, not an error
        abort(404)


@bp.post("/<int:campaign_id>/updates")
@limiter.limit(lambda: current_app.config["UPDATE_LIMIT"], methods=["POST"])
@login_required
def post_update(campaign_id: int):
    form = posted(UpdateForm, _("An update needs a title (3-120 characters) and a text."))
    services.post_update(
        campaign_id, current_user, form.title.data, form.body.data, bool(form.backers_only.data)
    )
    return committed(
        url_for("campaigns.show", campaign_id=campaign_id),
        _("Update posted; backers are being mailed."),
        "success",
    )


def design_campaigns(designs) -> dict[int, Campaign]:
    """Receives ``design_campaigns``: the campaign of each design shown that has one."""
    ids = [d.id for d in designs if d.state.value == "campaign"]
    return queries.campaigns_by_design(ids) if ids else {}


# --- my pledges -------------------------------------------------------------------------------


@pledges_bp.get("/")
@login_required
def mine():
    pledges = queries.backer_pledges(current_user.id)
    forms = {}
    for pledge in pledges:
        if pledge.is_changeable:
            form = ChangePledgeForm(
                formdata=None,
                variant_id=pledge.variant_id,
                quantity=pledge.quantity,
                shipping_zone=pledge.shipping_zone,
            )
            form.variant_id.choices = _variant_choices(pledge.campaign)
            form.shipping_zone.choices = _zone_choices(pledge.campaign)
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
@retried_on_conflict
def change(pledge_id: int):
    form = posted(ChangePledgeForm, _("Choose a variant and a quantity from 1 to 10."))
    services.change_pledge(
        pledge_id, current_user, form.variant_id.data, form.quantity.data, form.shipping_zone.data
    )
    return committed(url_for("pledges.mine"), _("Pledge changed."), "success")


@pledges_bp.post("/<int:pledge_id>/cancel")
@verified_required
def cancel(pledge_id: int):
    posted(ButtonForm)
    services.cancel_pledge(pledge_id, current_user)
    return committed(
        url_for("pledges.mine"),
        _("Pledge cancelled. Nothing was charged, and nothing will be."),
        "info",
    )
