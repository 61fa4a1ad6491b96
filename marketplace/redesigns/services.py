"""The rules of redesign challenges: opening one on a produced design, closing it, taking a
selected redesign as its outcome, and inviting the original's people to score redesigns.

Functions flush and never commit; views, jobs and commands commit once per unit of work.
Every state change goes through :data:`CHALLENGE_MACHINE` and lands in the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _

from designs.models import Design
from marketplace.accounts.models import User
from marketplace.kernel.audit import apply_transition, record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_, number
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.pagecache import forget_after_commit
from marketplace.kernel.urls import external_url
from marketplace.reviews import queries as reviews

from . import queries
from .models import (
    CHALLENGE_MACHINE,
    ChallengeReview,
    ChallengeState,
    RedesignChallenge,
    RedesignInvitation,
)

BRIEF_MIN, BRIEF_MAX = 20, 4000
#: How long a challenge may run, from its opening to its deadline.
MIN_DAYS, MAX_DAYS = 1, 90
MAX_REVIEWS = 10


class ChallengeError(ServiceError):
    pass


def transition(
    challenge: RedesignChallenge, event: str, actor: User | None, *, reason=None, **data
) -> bool:
    changed = apply_transition(
        CHALLENGE_MACHINE, challenge, event, actor=actor, reason=reason, **data
    )
    if changed:
        forget_after_commit(f"design:{challenge.design_id}")
    return changed


def _brief(text: str | None) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not BRIEF_MIN <= len(text) <= BRIEF_MAX:
        raise ChallengeError(
            _(
                "Write a brief of %(least)s to %(most)s characters: why the design is "
                "redesigned and what to aim for.",
                least=number(BRIEF_MIN),
                most=number(BRIEF_MAX),
            ),
            422,
        )
    return text


def open_challenge(
    design_id: int,
    operator: User,
    brief: str,
    deadline: dt.datetime,
    rating_ids: Iterable[int],
    now: dt.datetime | None = None,
) -> RedesignChallenge:
    """Open a challenge on a produced design: its designer is told first, by mail."""
    now = now or utcnow()
    brief = _brief(brief)
    if deadline is None or not (
        now + dt.timedelta(days=MIN_DAYS) <= deadline <= now + dt.timedelta(days=MAX_DAYS)
    ):
        raise ChallengeError(
            _(
                "The deadline is %(least)s to %(most)s days from now.",
                least=MIN_DAYS,
                most=MAX_DAYS,
            ),
            422,
        )
    rating_ids = sorted(set(rating_ids))
    if not 1 <= len(rating_ids) <= MAX_REVIEWS:
        raise ChallengeError(
            _("Choose 1 to %(most)s reviews for the brief to draw on.", most=MAX_REVIEWS), 422
        )
    # The design's lock queues two operators opening a challenge on it at once; the unique
    # index on open challenges refuses the second anyway.
    design = lock_row(Design, design_id)
    if design is None:
        raise ChallengeError(_("No such design."), 404)
    campaign = queries.campaign_of(design.id)
    if campaign is None or campaign.state not in queries.PRODUCED_STATES:
        raise ChallengeError(
            _("Only a design whose product was made can get a redesign challenge."), 409
        )
    if queries.open_challenge_of(design.id) is not None:
        raise ChallengeError(_("A redesign challenge is already open on this design."), 409)
    ratings = queries.ratings_of_design(design.id, rating_ids)
    if len(ratings) != len(rating_ids):
        raise ChallengeError(_("Choose reviews of this design only."), 422)
    challenge = RedesignChallenge(
        design_id=design.id,
        brief=brief,
        deadline=deadline,
        opened_at=now,
        opened_by_id=operator.id,
        reviews=[ChallengeReview(rating_id=r.id) for r in ratings],
    )
    db.session.add(challenge)
    db.session.flush()
    record_about(
        "redesign_challenge.opened",
        challenge,
        actor=operator,
        to_state=ChallengeState.OPEN.value,
        reason=brief,
        design_id=design.id,
        deadline=deadline.isoformat(),
        reviews=[r.id for r in ratings],
    )
    forget_after_commit(f"design:{design.id}")
    queue_mail(
        design.designer,
        "redesign_challenge",
        challenge=challenge,
        design=design,
        link=external_url("redesigns.show", challenge_id=challenge.id),
        submit_link=external_url("designs.new", redesign_of=design.id),
    )
    return challenge


def _locked(challenge_id: int) -> RedesignChallenge:
    challenge = lock_row(RedesignChallenge, challenge_id)
    if challenge is None:
        raise ChallengeError(_("No such redesign challenge."), 404)
    return challenge


def close_challenge(
    challenge_id: int, operator: User | None, now: dt.datetime | None = None
) -> RedesignChallenge:
    """Stop taking redesigns, before the deadline (an operator) or at it (the cron job)."""
    challenge = _locked(challenge_id)
    if challenge.state != ChallengeState.OPEN:
        raise ChallengeError(_("This redesign challenge is already closed."), 409)
    _close(challenge, operator, now or utcnow())
    return challenge


def _close(challenge: RedesignChallenge, actor: User | None, now: dt.datetime) -> None:
    challenge.closed_at = now
    reason = N_("Closed at its deadline") if actor is None else N_("Closed by our team")
    transition(challenge, "close", actor, reason=reason, entries=len(queries.entries(challenge)))


def close_due(now: dt.datetime | None = None) -> int:
    """Close every open challenge past its deadline; returns how many. Safe to run twice: a
    challenge closed already is no longer open."""
    now = now or utcnow()
    closed = 0
    for challenge_id in queries.due_challenge_ids(now):
        challenge = lock_row(RedesignChallenge, challenge_id)
        if challenge.state == ChallengeState.OPEN and challenge.deadline <= now:
            _close(challenge, None, now)
            closed += 1
    return closed


def adopt_redesign(design: Design, actor: User | None = None, **_kwargs) -> None:
    """A redesign selected for a campaign is its challenge's outcome (receiver of
    ``design_selected``; the first selected stays the outcome)."""
    found = queries.challenge_of_redesign(design)
    if found is None:
        return
    challenge = lock_row(RedesignChallenge, found.id)
    if challenge.state == ChallengeState.REDESIGNED:
        return
    if challenge.closed_at is None:
        challenge.closed_at = utcnow()
    challenge.outcome_design_id = design.id
    transition(challenge, "adopt", actor, reason=design.title, redesign_id=design.id)


def invite_to_score(design: Design, actor: User | None = None, **_kwargs) -> int:
    """A redesign opened for scoring: the original's backers and raters are invited to score
    it, each once (receiver of ``design_approved``). Returns how many were invited."""
    if design.redesign_of_id is None:
        return 0
    original_id = design.redesign_of_id
    wanted = set(queries.backers_of_design(original_id)) | set(reviews.raters_of(original_id))
    wanted.discard(design.designer_id)
    already = set(
        db.session.scalars(
            sa.select(RedesignInvitation.user_id).where(RedesignInvitation.design_id == design.id)
        )
    )
    invited = 0
    original = db.session.get(Design, original_id)
    link = external_url("designs.show", design_id=design.id)
    for person in queries.users(wanted - already):
        # Operators do not score; an account not confirmed cannot yet.
        if person.is_operator or not person.is_verified:
            continue
        db.session.add(RedesignInvitation(design_id=design.id, user_id=person.id))
        queue_mail(person, "redesign_invitation", design=design, original=original, link=link)
        invited += 1
    db.session.flush()
    return invited
