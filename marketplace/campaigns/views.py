"""Campaign pages, "My pledges", updates, and the operators' campaign console."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, render_template, send_file, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectChoice

from marketplace.accounts.authz import verified_required
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import limiter
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.fragments import fill, shared_fragment
from marketplace.kernel.i18n import money
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.signals import (
    campaign_sections,
    campaign_timeline,
    collect,
    pledge_details,
    sections,
)
from marketplace.kernel.web import (
    arg_choice,
    committed,
    or_404,
    posted,
    read_only,
    retried_on_conflict,
)

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


def _variant_choices(campaign: Campaign | queries.CampaignNow) -> list[SelectChoice]:
    choices = []
    for v in campaign.variants:
        left = v.units_left
        label = (
            v.label if left is None else _("%(label)s (%(left)s left)", label=v.label, left=left)
        )
        choices.append(SelectChoice(v.id, label, render_kw={"disabled": True} if left == 0 else {}))
    return choices


def _zone_choices(campaign: Campaign | queries.CampaignNow) -> list[SelectChoice]:
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
@read_only
def show(campaign_id: int):
    """The campaign's page: what changes with each pledge or with the time (units, backers,
    time left, the variants, the pledge form) and the reader's own pledges are read on every
    request; the rest is shared by every reader with the same roles, rendered once and kept
    until the campaign, its updates, timeline or reviews change (``services.forget_page``).
    (Anonymous visitors' pages are kept ``PAGE_CACHE_SECONDS`` whole, untagged: a pledge
    changes them, and forgets nothing.)"""
    now = or_404(queries.campaign_now(campaign_id, current_user))
    member = current_user.is_authenticated
    is_operator = member and current_user.is_operator
    is_owner = member and current_user.id == now.designer_id
    roles = (member, member and current_user.is_verified, is_operator, is_owner, now.is_backer)
    body, _facts = shared_fragment(
        f"campaign:{campaign_id}",
        [
            "campaign-page",
            campaign_id,
            roles,
            now.designer_profile,
            str(get_locale()),
            str(get_timezone()),
        ],
        lambda: _shared_page(
            campaign_id,
            can_post=services.may_post_updates(now.designer_id, current_user),
            is_backer=now.is_backer,
        ),
    )
    return render_template(
        "campaigns/show.html",
        campaign=now,
        body=fill(body, **_own_parts(now)),
    )


def _shared_page(campaign_id: int, *, can_post: bool, is_backer: bool) -> tuple[str, dict]:
    """The campaign's page but its counters and the reader's pledges and pledge form, for
    readers with these roles."""
    campaign = queries.campaign_for_page(campaign_id)
    # Packages built on campaigns (production runs) add their own subjects' events.
    subjects = [("campaign", campaign.id)] + [
        subject for found in collect(campaign_timeline, campaign) for subject in found
    ]
    html = render_template(
        "campaigns/_page.html",
        campaign=campaign,
        updates=queries.updates(campaign.id, include_backers_only=is_backer or can_post),
        # Forms carry CSRF tokens, which the shared piece leaves as holes (kernel.fragments).
        update_form=UpdateForm(formdata=None) if can_post else None,
        timeline=queries.timeline_events(subjects),
        sections=sections(campaign_sections, campaign),
    )
    return html, {}


def _own_parts(now: queries.CampaignNow) -> dict[str, str]:
    """The sections read on every request, by the name of their hole in the shared part: the
    progress, the pledge form and the reader's pledges, the variants' units."""
    my_pledges = queries.pledges_on(now.id, current_user) if now.has_pledges else []
    pledge_form = None
    if current_user.is_authenticated:  # a CSRF token means a session: members only
        pledge_form = PledgeForm(formdata=None, idempotency_key=secrets.token_urlsafe(24))
        pledge_form.variant_id.choices = _variant_choices(now)
        pledge_form.shipping_zone.choices = _zone_choices(now)
    return {
        "progress": render_template(
            "campaigns/_progress.html", campaign=now, backers=now.backers, now=utcnow()
        ),
        "pledge": render_template(
            "campaigns/_pledge.html",
            campaign=now,
            my_pledges=my_pledges,
            pledge_form=pledge_form,
        ),
        "variants": render_template("campaigns/_variants.html", campaign=now),
    }


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
