"""Rating a delivered product, its photos, the designer's answer and reports; and the
sections that show ratings on the campaign page, the design page and a designer's profile."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectChoice

from designs.models import Design, DesignState
from marketplace.accounts.authz import verified_required
from marketplace.campaigns.models import Campaign, CampaignState
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.web import committed, form_page, or_404, page_number, posted

from . import photos, queries, services
from .forms import RatingForm, ReplyForm
from .models import MAX_PHOTOS, Rating

bp = Blueprint("reviews", __name__, url_prefix="/reviews")

#: Reviews a page section shows; the rest are on the design's reviews page.
SECTION_REVIEWS = 5
PAGE_REVIEWS = 10


@bp.route("/orders/<int:order_id>", methods=["GET", "POST"])
@verified_required
def rate(order_id: int):
    order = services.order_to_rate(order_id, current_user)
    rating = queries.rating_of_order(order.id)
    editable = rating is None or services.can_edit(rating)
    form = RatingForm()
    if rating is not None:
        form.remove_photos.choices = [
            SelectChoice(p.id, _("Photo %(n)s", n=n)) for n, p in enumerate(rating.photos, start=1)
        ]
        if not form.is_submitted():
            form.score.data, form.review.data, form.editing.data = rating.score, rating.review, "1"
            form.recommend.data = rating.recommend

    def save():
        uploads = photos.uploads_of(form.photos.data)
        existing = {p.id for p in rating.photos} if rating else set()
        removed = set(form.remove_photos.data or ()) & existing
        # Counted before any file is written, so a 4th photo stores nothing.
        services.check_photo_count(order.id, len(uploads), removed=len(removed))
        with photos.stored_photos(uploads) as keys:
            _saved, removed_keys = services.rate(
                order.id,
                current_user,
                form.score.data,
                form.review.data,
                recommend=form.recommend.data,
                new_photo_keys=keys,
                remove_photo_ids=sorted(removed),
                editing=form.editing.data == "1",
            )
            response = committed(url_for("pledges.mine"), _("Thank you: your rating is saved."))
        photos.delete(removed_keys)  # only once the rating without them is committed
        return response

    campaign = db.session.get(Campaign, order.pledge.campaign_id)
    return form_page(
        form,
        save,
        "reviews/rate.html",
        order=order,
        campaign=campaign,
        rating=rating,
        editable=editable,
        edit_closes_at=services.edit_closes_at(rating) if rating else None,
        max_photos=MAX_PHOTOS,
    )


@bp.get("/<int:rating_id>/photos/<int:photo_id>/<size>")
def photo(rating_id: int, photo_id: int, size: str):
    """A review's photo; hidden with its review, except to operators."""
    if size not in photos.SIZES:
        abort(404)
    rating = or_404(db.session.get(Rating, rating_id))
    if rating.hidden and not (current_user.is_authenticated and current_user.is_operator):
        abort(404)
    picture = or_404(next((p for p in rating.photos if p.id == photo_id), None))
    try:
        response = send_file(photos.path(picture.image_key, size), max_age=3600, conditional=True)
    except FileNotFoundError:
        abort(404)
    # Moderation may hide it: shared caches must not keep it for long.
    response.cache_control.public = not rating.hidden
    return response


@bp.post("/<int:rating_id>/reply")
@verified_required
def reply(rating_id: int):
    form = posted(ReplyForm, _("An answer needs 1 to 2,000 characters."))
    rating = services.reply(rating_id, current_user, form.body.data)
    return committed(
        url_for("designs.show", design_id=rating.design_id),
        _("Your answer is published."),
        at=f"rating-{rating.id}",
    )


@bp.post("/<int:rating_id>/report")
@limiter.limit(lambda: current_app.config["REPORT_LIMIT"], methods=["POST"])
@verified_required
def report(rating_id: int):
    posted(ButtonForm)
    rating = services.report(rating_id, current_user)
    return committed(
        url_for("designs.show", design_id=rating.design_id),
        _("Thank you: our team will look at this review."),
        "info",
        at=f"rating-{rating.id}",
    )


@bp.get("/designs/<int:design_id>")
@cached_for_anonymous(tag="design:{design_id}")
def of_design(design_id: int):
    """Every review of a design, newest first, a page at a time."""
    design = or_404(db.session.get(Design, design_id))
    if not design.is_public:
        abort(404)
    summary = queries.summaries([design.id])[design.id]
    page = page_number()
    reviews = queries.reviews_of_design(
        design.id, limit=PAGE_REVIEWS, offset=(page - 1) * PAGE_REVIEWS
    )
    return render_template(
        "reviews/of_design.html",
        design=design,
        summary=summary,
        reviews=reviews,
        page=page,
        has_more=page * PAGE_REVIEWS < summary.count,
        **_review_forms(design),
    )


# --- what other pages show (signal receivers) -------------------------------------------------


def _review_forms(design: Design | None) -> dict:
    """Forms under the reviews: members report, the design's designer answers. Anonymous
    visitors get none, so their pages stay cacheable."""
    if not current_user.is_authenticated:
        return {"button": None, "reply_form": None, "viewer_id": None, "is_operator": False}
    is_designer = design is not None and current_user.id == design.designer_id
    return {
        "button": ButtonForm(formdata=None),
        "reply_form": ReplyForm(formdata=None) if is_designer else None,
        "viewer_id": current_user.id,
        "is_operator": current_user.is_operator,
    }


def _section(
    summary, reviews, *, heading: str, more_url: str | None, delivered: bool, **context
) -> list[Markup]:
    if summary.count == 0 and not delivered:
        return []
    return [
        Markup(  # noqa: S704  (our own template, autoescaped)
            render_template(
                "reviews/_section.html",
                summary=summary,
                reviews=reviews,
                heading=heading,
                more_url=more_url if summary.count > len(reviews) else None,
                **context,
            )
        )
    ]


def design_sections(design: Design) -> list[Markup]:
    """Receives ``design_sections``: the product's ratings and reviews, with the designer's
    answer form under each review not yet answered."""
    if design.state != DesignState.CAMPAIGN:
        return []  # no campaign, no order, no rating: and no query on a busy page
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.design_id == design.id))
    return _section(
        queries.summaries([design.id])[design.id],
        queries.reviews_of_design(design.id, SECTION_REVIEWS),
        heading=_("Ratings of the product"),
        more_url=url_for("reviews.of_design", design_id=design.id),
        delivered=campaign is not None and campaign.state == CampaignState.DELIVERED,
        design=design,
        **_review_forms(design),
    )


def campaign_sections(campaign: Campaign) -> list[Markup]:
    """Receives ``campaign_sections``: what backers who received it say."""
    design = db.session.get(Design, campaign.design_id)
    forms = _review_forms(design)
    forms["reply_form"] = None  # the designer answers on the design page
    return _section(
        queries.summaries([campaign.design_id])[campaign.design_id],
        queries.reviews_of_design(campaign.design_id, SECTION_REVIEWS),
        heading=_("Backers’ ratings"),
        more_url=url_for("reviews.of_design", design_id=campaign.design_id),
        delivered=campaign.state == CampaignState.DELIVERED,
        design=design,
        **forms,
    )


def designer_sections(person) -> list[Markup]:
    """Receives ``designer_sections``: the ratings of every product the designer made."""
    forms = _review_forms(None)
    return _section(
        queries.summary_of_designer(person.id),
        queries.reviews_of_designer(person.id, SECTION_REVIEWS),
        heading=_("Ratings of their products"),
        more_url=None,
        delivered=False,
        design=None,
        show_product=True,
        **forms,
    )


def pledge_details(pledges) -> dict[int, list[tuple[str, str | None, str | None]]]:
    """Receives ``pledge_details``: on "My pledges", rate each delivered order, or see and
    change the rating given."""
    ids = [p.id for p in pledges if p.state.value == "collected"]
    details: dict[int, list] = {}
    for pledge_id, (order, rating) in queries.delivered_orders_of(ids).items():
        link = url_for("reviews.rate", order_id=order.id)
        if rating is None:
            line = (_("How do you like it?"), _("Rate this product"), link)
        else:
            label = _("edit") if services.can_edit(rating) else _("see")
            line = (_("Your rating: %(score)s/5", score=rating.score), label, link)
        details[pledge_id] = [line]
    return details
