"""The shipping survey, and the operators' production pages: launching a run from a settled
campaign, moving it on, shipping orders, the manufacturer's CSV."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.authz import verified_required
from marketplace.campaigns import services as campaigns
from marketplace.kernel.fragments import kept
from marketplace.kernel.i18n import day
from marketplace.kernel.web import committed, form_page

from . import queries, services
from .forms import SurveyForm

bp = Blueprint("production", __name__)


@bp.route("/pledges/<int:pledge_id>/survey", methods=["GET", "POST"])
@verified_required
def survey(pledge_id: int):
    row = services.survey_for(pledge_id, current_user)
    editable = services.can_answer(row)
    form = SurveyForm(obj=row if row.answered_at else None)

    def answer():
        services.answer_survey(
            pledge_id,
            current_user,
            {k: getattr(form, k).data for k in (*services.SURVEY_FIELDS, "phone")},
            form.variant_confirmed.data,
        )
        return committed(url_for("pledges.mine"), _("Thank you: your shipping details are saved."))

    return form_page(form, answer, "production/survey.html", survey=row, editable=editable)


def pledge_details(pledges) -> dict[int, list[tuple[str, str | None, str | None]]]:
    """Receives ``pledge_details``: (text, link label, link) lines for "My pledges" about
    each paid pledge's survey and order."""
    paid = [p for p in pledges if p.state.value in ("collected", "refunded")]
    if not paid:
        return {}
    found = queries.orders_and_surveys_by_pledge([p.id for p in paid])
    details: dict[int, list] = {}
    for pledge in paid:
        pledge_id = pledge.id
        lines = details.setdefault(pledge_id, [])
        order, run, survey = found.get(pledge_id, (None, None, None))
        if survey is not None and services.address_can_change(pledge, order):
            if survey.answered_at is None:
                lines.append(
                    (
                        _("We need your shipping address."),
                        _("Give your address"),
                        url_for("production.survey", pledge_id=pledge_id),
                    )
                )
            else:
                lines.append(
                    (
                        _(
                            "Ships to %(name)s, %(city)s (%(country)s).",
                            name=survey.full_name,
                            city=survey.city,
                            country=survey.country,
                        ),
                        _("Change"),
                        url_for("production.survey", pledge_id=pledge_id),
                    )
                )
        if order is not None:
            if order.state.value == "cancelled":
                lines.append((_("Order cancelled."), None, None))
            elif order.state.value == "delivered":
                text = _("Delivered on %(date)s.", date=day(order.delivered_at, "long"))
                if order.tracking_ref:
                    text += " " + _("Tracking %(tracking)s.", tracking=order.tracking_ref)
                lines.append((text, None, None))
            elif order.tracking_ref:
                lines.append(
                    (
                        _(
                            "Order %(state)s: tracking %(tracking)s.",
                            state=_(order.state.value),
                            tracking=order.tracking_ref,
                        ),
                        None,
                        None,
                    )
                )
            else:
                lines.append(
                    (
                        _(
                            "Order: production run %(state)s, expected to ship around %(date)s.",
                            state=_(run.state.label),
                            date=day(run.expected_ship_date, "long"),
                        ),
                        None,
                        None,
                    )
                )
    return details


_ASKING_FOR_ADDRESSES = ("pledges.mine", "production.survey")


def banner_key(user) -> str:
    """Where the survey banner of ``user`` is kept (``fragments.kept``)."""
    return f"survey-banner:{user.id}"


def survey_banners(user) -> list[tuple[str, str]]:
    """Receives ``page_banners``: shown on every page to a backer whose paid pledge still
    lacks an address, but the two that ask for it themselves ("My pledges" lists each survey
    waiting, beside its pledge; the survey is the form)."""
    if request.endpoint in _ASKING_FOR_ADDRESSES:
        return []
    return [
        (
            _(
                "Where should we send your %(product)s? Give your shipping address.",
                product=product_name,
            ),
            url_for("production.survey", pledge_id=pledge_id),
        )
        for pledge_id, product_name in kept(
            campaigns.backer_tag(user.id),
            banner_key(user),
            lambda: [list(row) for row in queries.unanswered_surveys_of(user)],
        )
    ]


def campaign_timeline(campaign) -> list[tuple[str, int]]:
    """Receives ``campaign_timeline``: the run's events belong on its campaign's public
    timeline."""
    return [("production_run", run_id) for run_id in queries.run_ids_of(campaign.id)]
