"""The rules of ratings: who rates what and when, the edit window, photos, the designer's
answer, reports and moderation, and the mail asking backers to rate."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from designs.models import Design
from designs.services import count_report, mark_reviewed
from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign
from marketplace.kernel.audit import record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import day, number
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.pagecache import forget_after_commit
from marketplace.kernel.urls import external_url
from marketplace.production.models import Order, OrderState

from .models import MAX_PHOTOS, REVIEW_MAX_CHARS, Rating, RatingPhoto, RatingReport, RatingRequest

#: Longest answer a designer may give to a review.
REPLY_MAX_CHARS = 2000


class ReviewError(ServiceError):
    pass


def _already_rated() -> str:
    return _("You have already rated this product: change your rating instead.")


def forget_page(rating: Rating) -> None:
    """What the pages showing the rating (its design's, its campaign's) show changed: their
    kept copies go once the change is committed."""
    forget_after_commit(f"design:{rating.design_id}")
    campaigns.forget_page(rating.campaign_id)


# --- rating an order ---------------------------------------------------------------------------


def order_to_rate(order_id: int, user: User) -> Order:
    """The person's order, delivered: the only kind that can be rated."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise ReviewError(_("No such order."), 404)
    if order.pledge.backer_id != user.id:
        raise ReviewError(_("Only the backer who received this product can rate it."), 403)
    if order.state != OrderState.DELIVERED:
        raise ReviewError(_("You can rate this product once it is delivered."), 409)
    return order


def edit_closes_at(rating: Rating) -> dt.datetime:
    return rating.created_at + dt.timedelta(days=current_app.config["RATING_EDIT_DAYS"])


def can_edit(rating: Rating, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) < edit_closes_at(rating)


def _checked(score, review: str | None) -> tuple[int, str]:
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ReviewError(_("Choose a score from 1 to 5 stars."))
    review = (review or "").replace("\r\n", "\n").strip()
    if len(review) > REVIEW_MAX_CHARS:
        raise ReviewError(
            _("A review has at most %(most)s characters.", most=number(REVIEW_MAX_CHARS))
        )
    return score, review


def _checked_recommend(recommend) -> int | None:
    """The optional 0-10 answer: None when skipped."""
    if recommend is None:
        return None
    if not isinstance(recommend, int) or isinstance(recommend, bool) or not 0 <= recommend <= 10:
        raise ReviewError(
            _("Choose how likely you are to recommend Cocréa from 0 to 10, or skip it.")
        )
    return recommend


def check_photo_count(order_id: int, new: int, removed: int = 0) -> None:
    """Refuse, before anything is stored, photos that would make more than MAX_PHOTOS."""
    rating = db.session.scalar(sa.select(Rating).where(Rating.order_id == order_id))
    kept = (len(rating.photos) - removed) if rating else 0
    if kept + new > MAX_PHOTOS:
        raise ReviewError(_("A rating has at most %(most)s photos.", most=MAX_PHOTOS))


def rate(
    order_id: int,
    user: User,
    score,
    review: str | None,
    *,
    recommend: int | None = None,
    new_photo_keys: list[str] = (),
    remove_photo_ids: list[int] = (),
    editing: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Rating, list[str]]:
    """Write the order's rating, or change it within its edit window. ``editing`` says the
    form was an edit: a new rating's form sent after a rating exists (a second tab, a double
    click) is refused (409) rather than overwriting it. ``recommend`` is the optional 0-10
    "would you recommend us" answer; an edit stores what its form holds, None included, as
    it does the score and review. Returns the rating and the image keys of the photos
    removed, to delete once the change is committed."""
    now = now or utcnow()
    order = order_to_rate(order_id, user)
    score, review = _checked(score, review)
    recommend = _checked_recommend(recommend)
    rating = db.session.scalar(
        sa.select(Rating).where(Rating.order_id == order.id).with_for_update()
    )
    if rating is not None and not editing:
        raise ReviewError(_already_rated(), 409)
    if rating is None and editing:
        raise ReviewError(_("This rating no longer exists. Reload the page."), 409)
    if rating is not None and not can_edit(rating, now):
        raise ReviewError(
            _(
                "Your rating can no longer be changed: it was written on %(date)s.",
                date=day(rating.created_at),
            ),
            409,
        )
    removed_keys: list[str] = []
    if rating is None:
        pledge = order.pledge
        campaign = db.session.get(Campaign, pledge.campaign_id)
        rating = Rating(
            order_id=order.id,
            user_id=user.id,
            campaign_id=campaign.id,
            design_id=campaign.design_id,
            score=score,
            review=review,
            recommend=recommend,
            created_at=now,
            updated_at=now,
        )
        try:
            with db.session.begin_nested():
                db.session.add(rating)
                db.session.flush()
        except sa.exc.IntegrityError:
            # Another request rated this order a moment ago: one rating per order.
            raise ReviewError(_already_rated(), 409) from None
        action = "rating.created"
    else:
        rating.score, rating.review, rating.updated_at = score, review, now
        rating.recommend = recommend
        for photo in list(rating.photos):
            if photo.id in set(remove_photo_ids):
                removed_keys.append(photo.image_key)
                rating.photos.remove(photo)
        action = "rating.changed"
    if len(rating.photos) + len(new_photo_keys) > MAX_PHOTOS:
        raise ReviewError(_("A rating has at most %(most)s photos.", most=MAX_PHOTOS))
    # Positions stay unique: the new photos go after the highest one kept.
    start = max((p.position for p in rating.photos), default=-1) + 1
    for offset, key in enumerate(new_photo_keys):
        rating.photos.append(RatingPhoto(image_key=key, position=start + offset))
    db.session.flush()
    record_about(action, rating, actor=user, score=score, photos=len(rating.photos))
    forget_page(rating)
    return rating, removed_keys


# --- the designer's answer --------------------------------------------------------------------


def reply(rating_id: int, designer: User, text: str | None, now: dt.datetime | None = None):
    """The design's designer answers a review publicly, once; the reviewer is told."""
    rating = db.session.scalar(sa.select(Rating).where(Rating.id == rating_id).with_for_update())
    if rating is None:
        raise ReviewError(_("No such review."), 404)
    design = db.session.get(Design, rating.design_id)
    if design.designer_id != designer.id:
        raise ReviewError(_("Only the designer of this product can answer its reviews."), 403)
    if rating.replied_at is not None:
        raise ReviewError(_("You have already answered this review."), 409)
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ReviewError(_("Write your answer first."))
    if len(text) > REPLY_MAX_CHARS:
        raise ReviewError(
            _("An answer has at most %(most)s characters.", most=number(REPLY_MAX_CHARS))
        )
    rating.reply, rating.replied_at = text, now or utcnow()
    record_about("rating.replied", rating, actor=designer)
    queue_mail(
        db.session.get(User, rating.user_id),
        "review_reply",
        designer=designer,
        design=design,
        rating=rating,
        link=external_url("designs.show", design_id=design.id) + f"#rating-{rating.id}",
    )
    forget_page(rating)
    db.session.flush()
    return rating


# --- reports and moderation -------------------------------------------------------------------


def report(rating_id: int, reporter: User) -> Rating:
    """Someone other than its author reports a review, once; enough reports hide its text
    and photos until an operator has looked (as comments are)."""
    rating = db.session.scalar(sa.select(Rating).where(Rating.id == rating_id).with_for_update())
    if rating is None:
        raise ReviewError(_("No such review."), 404)
    if rating.user_id == reporter.id:
        raise ReviewError(_("You cannot report your own review."), 403)
    if count_report(rating, RatingReport, reporter.id, rating_id=rating_id):
        forget_page(rating)
        record_about("rating.hidden_by_reports", rating, actor=None, reports=rating.report_count)
    db.session.flush()
    return rating


def moderate(rating_id: int, operator: User, hide: bool, reason: str = "") -> Rating:
    """An operator keeps a reported review (shown again) or hides its text and photos."""
    rating = db.session.get(Rating, rating_id)
    if rating is None:
        raise ReviewError(_("No such review."), 404)
    mark_reviewed(rating, operator, hide)
    record_about(
        "rating.hidden" if hide else "rating.kept",
        rating,
        actor=operator,
        reason=reason.strip() or None,
    )
    forget_page(rating)
    return rating


# --- asking for ratings -----------------------------------------------------------------------


def _claim_ask(order_id: int, now: dt.datetime) -> bool:
    """Write the order's request row, unless it is there: INSERT ... ON CONFLICT DO NOTHING
    RETURNING, on either database. Of two sweeps at once, one inserts; the other waits for
    its commit, finds the row and sends nothing. (``rowcount`` cannot tell: some drivers
    answer -1 for it.)"""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(RatingRequest.__table__)
        .values(order_id=order_id, asked_at=now)
        .on_conflict_do_nothing()
        .returning(RatingRequest.__table__.c.order_id)
    )
    return db.session.execute(stmt).first() is not None


def _not_rated():
    return ~sa.exists().where(Rating.order_id == Order.id)


def ask_for_ratings(now: dt.datetime | None = None, limit: int = 500) -> tuple[int, int]:
    """Mail each delivered order's backer RATING_ASK_DAYS after delivery, once, and remind
    them RATING_REMINDER_DAYS later, once, unless they rated meanwhile. Safe to run twice,
    even at once: each mail is claimed by a row written first. Returns (asked, reminded)."""
    now = now or utcnow()
    cfg = current_app.config
    due = now - dt.timedelta(days=cfg["RATING_ASK_DAYS"])
    asked = 0
    to_ask = db.session.scalars(
        sa.select(Order.id)
        .where(
            Order.state == OrderState.DELIVERED,
            Order.delivered_at <= due,
            _not_rated(),
            ~sa.exists().where(RatingRequest.order_id == Order.id),
        )
        .order_by(Order.id)
        .limit(limit)
    ).all()
    for order_id in to_ask:
        if _claim_ask(order_id, now):
            _mail(order_id, "rating_request")
            asked += 1

    reminded = 0
    remind_before = now - dt.timedelta(days=cfg["RATING_REMINDER_DAYS"])
    to_remind = db.session.scalars(
        sa.select(RatingRequest.order_id)
        .join(Order, Order.id == RatingRequest.order_id)
        .where(
            RatingRequest.reminded_at.is_(None),
            RatingRequest.asked_at <= remind_before,
            Order.state == OrderState.DELIVERED,
            _not_rated(),
        )
        .order_by(RatingRequest.order_id)
        .limit(limit)
    ).all()
    for order_id in to_remind:
        claimed = db.session.execute(
            sa.update(RatingRequest)
            .where(RatingRequest.order_id == order_id, RatingRequest.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(RatingRequest.order_id)
        ).first()
        if claimed is not None:
            _mail(order_id, "rating_reminder")
            reminded += 1
    return asked, reminded


def _mail(order_id: int, kind: str) -> None:
    order = db.session.get(Order, order_id)
    campaign = db.session.get(Campaign, order.pledge.campaign_id)
    queue_mail(
        db.session.get(User, order.pledge.backer_id),
        kind,
        campaign=campaign,
        order=order,
        link=external_url("reviews.rate", order_id=order_id),
    )
