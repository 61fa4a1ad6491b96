"""The operators' side of campaigns: opening one from a selected design, cancelling, moving a
deadline."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from marketplace.accounts.authz import operator_required
from marketplace.campaigns import queries, services
from marketplace.campaigns.forms import (
    CampaignForm,
    CancelCampaignForm,
    DeadlineForm,
)
from marketplace.campaigns.images import product_images
from marketplace.campaigns.models import MAX_EXTRA_IMAGES, SHIPPING_ZONES, CampaignState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.web import committed, form_on_page, form_page, or_404

operator_bp = Blueprint("campaigns_operator", __name__, url_prefix="/operator/campaigns")


@operator_bp.get("/")
@operator_required
def console():
    return _console_page()


def _console_page(refused=None) -> str:
    """The campaigns console; ``refused`` is (campaign id, form) of a change refused, shown
    again as typed on that campaign's row (or said on top when the row is gone)."""
    campaigns = queries.recent_campaigns()
    if refused and all(c.id != refused[0] for c in campaigns):
        for errors in refused[1].errors.values():
            flash(" ".join(errors), "error")
    return render_template(
        "operator/campaigns.html",
        campaigns=campaigns,
        waiting=queries.designs_awaiting_campaign(),
        cancel_form=CancelCampaignForm(formdata=None),
        deadline_form=DeadlineForm(formdata=None),
        refused=refused,
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None else None


@operator_bp.route("/new/<int:design_id>", methods=["GET", "POST"])
@operator_required
def new(design_id: int):
    design = or_404(queries.design(design_id))
    now = utcnow().replace(second=0, microsecond=0)
    deadline = now + dt.timedelta(days=30)
    form = CampaignForm(
        product_name=f"{design.title} {design.product.name}",
        variants="\n".join(v.label for v in design.variants) or _("One size"),
        starts_at=now.replace(tzinfo=None),
        deadline=deadline.replace(tzinfo=None),
        story=design.description,
        delivery_month=(deadline + dt.timedelta(days=62)).date().replace(day=1),
    )

    def open_campaign():
        terms = services.CampaignTerms(
            product_name=form.product_name.data,
            unit_price_cents=services.parse_money(form.unit_price.data),
            currency=form.currency.data,
            goal_units=form.goal_units.data,
            variants=services.parse_variants(form.variants.data),
            starts_at=_utc(form.starts_at.data),
            deadline=_utc(form.deadline.data),
            production_cost_cents=services.parse_money(form.production_cost.data),
            royalty_cents=services.parse_money(form.royalty.data),
            platform_cents=services.parse_money(form.platform.data),
            story=form.story.data,
            risks=form.risks.data,
            faqs=services.parse_faq(form.faq.data),
            delivery_month=form.delivery_month.data,
            ships_from=form.ships_from.data,
            shipping_cents={
                zone: services.parse_money(getattr(form, f"shipping_{zone}").data)
                for zone in SHIPPING_ZONES
            },
        )
        with product_images(design, form) as stored:
            campaign = services.open_campaign(design_id, current_user, terms, stored)
            return committed(
                url_for("campaigns.show", campaign_id=campaign.id), _("Campaign opened.")
            )

    return form_page(
        form,
        open_campaign,
        "operator/campaign_form.html",
        design=design,
        max_images=MAX_EXTRA_IMAGES,
    )


@operator_bp.post("/<int:campaign_id>/cancel")
@operator_required
def cancel_campaign(campaign_id: int):
    form = CancelCampaignForm()

    def cancel():
        services.cancel_campaign(campaign_id, current_user, form.reason.data)
        return committed(
            url_for("campaigns.show", campaign_id=campaign_id),
            _("Campaign cancelled: every pledge is released and backers are mailed."),
            "info",
        )

    return form_on_page(
        form,
        cancel,
        lambda shown: _console_page((campaign_id, shown)),
        invalid=_("Give a public reason of at least 10 characters."),
        message_on=form.reason,
    )


@operator_bp.post("/<int:campaign_id>/deadline")
@operator_required
def move_deadline(campaign_id: int):
    form = DeadlineForm()

    def move():
        services.move_deadline(campaign_id, current_user, _utc(form.deadline.data))
        return committed(
            url_for("campaigns_operator.console"),
            _("Deadline moved; the closing job moved with it."),
            "success",
        )

    return form_on_page(
        form,
        move,
        lambda shown: _console_page((campaign_id, shown)),
        invalid=_("Give the new deadline as a date and time."),
        message_on=form.deadline,
    )


def queue_counts() -> list[tuple[str, int, str]]:
    counts = queries.campaign_counts((CampaignState.LIVE, CampaignState.FUNDED))
    ready = queries.designs_awaiting_campaign_count()
    link = url_for("campaigns_operator.console")
    return [
        (_("designs ready for a campaign"), ready, link),
        (_("live campaigns"), counts.get(CampaignState.LIVE, 0), link),
        (_("funded, to settle"), counts.get(CampaignState.FUNDED, 0), link),
    ]


def queue_items() -> list[dict]:
    """Live campaigns ending in the next 3 days: the ones to watch."""
    soon = utcnow() + dt.timedelta(days=3)
    return [
        {
            "queue": _("Campaigns ending soon"),
            "title": ngettext(
                "%(name)s: %(units)s of %(num)d unit",
                "%(name)s: %(units)s of %(num)d units",
                c.goal_units,
                name=c.product_name,
                units=c.pledged_units,
            ),
            "link": url_for("payments_operator.campaign", campaign_id=c.id),
            "due": c.deadline,
        }
        for c in queries.live_campaigns_ending_by(soon)
    ]
