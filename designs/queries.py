"""Read queries of designs, named for what they return. Views, jobs, the rules and the console
call them; they never write. Each page's queries are counted (tests/designs/test_browsing.py
and the page bench): loaders are chosen here so that none of them grows with the data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db, read_on_driver
from marketplace.kernel.models import AuditEvent

from . import ranking
from .models import (
    PUBLIC_STATES,
    Comment,
    Design,
    DesignFigures,
    DesignState,
    DesignTag,
    DesignVariant,
    Product,
    Vote,
)

PER_PAGE = 24
#: The operators' front-page queues list this many designs each.
QUEUE_LENGTH = 20


def card_options():
    """What a design card shows: its designer, product and tags, loaded with it."""
    return (joinedload(Design.designer), joinedload(Design.product), selectinload(Design.tags))


# --- the public pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryFilters:
    """What a gallery visitor asked for, already parsed: ``sort`` is one the page allows for
    these ``states`` (the view keeps the ranking of open designs out of it)."""

    states: tuple[DesignState, ...]
    sort: str = "newest"
    tag: str = ""
    product_id: int | None = None
    q: str = ""


class GalleryPage(NamedTuple):
    designs: list[Design]
    has_next: bool


#: Words of a search that count; each one narrows the results.
MAX_SEARCH_TERMS = 5


def search_terms(q: str) -> list[str]:
    """The words a gallery search looks for, lower-cased, each once."""
    return list(dict.fromkeys(q.lower().split()))[:MAX_SEARCH_TERMS]


def _contains(column, term: str):
    """``column`` contains ``term`` whatever the case (``%`` and ``_`` are searched for)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def _search_arms(term: str, names) -> list[sa.ColumnElement[bool]]:
    """The ways a design matches ``term``: its title or its designer's name (``names``: the
    accounts whose name contains it) contains it, or it has it as a tag."""
    return [
        _contains(Design.title, term),
        Design.designer_id.in_(sa.select(names.c.id)),
        Design.id.in_(sa.select(DesignTag.design_id).where(DesignTag.tag == term)),
    ]


def _matching(conditions: list, order: tuple, terms: list[str], rows: int):
    """Ids that hold the first ``rows`` designs matching every term, in ``order``.

    One OR of title, name and tag hides from the planner that each has an index of its own
    (the title's trigram index on PostgreSQL, the tag's, the designer's), so it walks every
    public design when few match. Instead each way of matching the longest term is a query
    of its own, limited to a page's worth in the page's order, and the page is taken from
    their union: the first ``rows`` of the union are among the first ``rows`` of each. The
    accounts named like each term are read once (a scan of the accounts: names have no
    index) and shared by every part."""
    terms = sorted(terms, key=len, reverse=True)
    names = [
        sa.select(User.id).where(_contains(User.display_name, term)).cte(f"named_{n}")
        for n, term in enumerate(terms)
    ]
    lead, *others = zip(terms, names, strict=True)
    rest = [sa.or_(*_search_arms(term, named)) for term, named in others]
    parts = [
        sa.select(Design.id).where(*conditions, arm, *rest).order_by(*order).limit(rows).subquery()
        for arm in _search_arms(*lead)
    ]
    return sa.union_all(*(sa.select(part.c.id) for part in parts))


def gallery_page(filters: GalleryFilters, page: int) -> GalleryPage:
    """One page of the gallery; one row more than a page is read to know whether another
    follows, which saves counting every match."""
    conditions = [Design.state.in_(filters.states)]
    if filters.tag:
        conditions.append(
            sa.exists().where(DesignTag.design_id == Design.id, DesignTag.tag == filters.tag)
        )
    if filters.product_id:
        conditions.append(Design.product_id == filters.product_id)
    if filters.sort == "top":
        order = (Design.rank_score.desc().nulls_last(), Design.id.desc())
    elif filters.sort == "closing":
        order = (Design.voting_closes_at.asc().nulls_last(), Design.id)
    else:
        order = (Design.id.desc(),)
    offset = (page - 1) * PER_PAGE
    stmt = sa.select(Design).where(*conditions)
    if terms := search_terms(filters.q):
        stmt = stmt.where(Design.id.in_(_matching(conditions, order, terms, offset + PER_PAGE + 1)))
    rows = db.session.scalars(
        stmt.order_by(*order).options(*card_options()).offset(offset).limit(PER_PAGE + 1)
    ).all()
    return GalleryPage(rows[:PER_PAGE], len(rows) > PER_PAGE)


def products() -> list[Product]:
    """Every product, retired ones too: the gallery still filters designs made for them."""
    return list(db.session.scalars(sa.select(Product).order_by(Product.name)))


def active_products() -> list[Product]:
    """The products a new design can be made for."""
    return list(db.session.scalars(sa.select(Product).where(Product.active).order_by(Product.name)))


def product(product_id: int) -> Product | None:
    return db.session.get(Product, product_id)


def product_named(name: str) -> Product | None:
    """Names are compared without case: two products that differ only by it would confuse
    designers choosing one."""
    return db.session.scalar(sa.select(Product).where(sa.func.lower(Product.name) == name.lower()))


def design(design_id: int) -> Design | None:
    return db.session.get(Design, design_id)


def design_page(design_id: int) -> Design | None:
    """The design with everything its page shows (card, variants for the vote form)."""
    return db.session.scalar(
        sa.select(Design)
        .where(Design.id == design_id)
        .options(*card_options(), selectinload(Design.variants))
    )


class VoteNow(NamedTuple):
    score: int
    would_buy: bool
    variant_id: int | None


@dataclass(frozen=True)
class DesignNow(DesignFigures):
    """What a design's page shows that changes with every vote, and the reader's own vote:
    read on every request, beside the rest of the page, which is shared and kept
    (``designs.views.show``)."""

    id: int
    title: str
    state: DesignState
    designer_id: int
    voting_closes_at: dt.datetime | None
    vote_count: int
    score_sum: int
    buy_count: int
    rank_score: float | None
    #: The reader's vote: None for a visitor who has not voted (or is not logged in).
    vote: VoteNow | None


# Built once, and in one statement with the reader's vote: it runs on every design page.
_DESIGN_NOW = (
    sa.select(
        Design.id,
        Design.title,
        Design.state,
        Design.designer_id,
        Design.voting_closes_at,
        Design.vote_count,
        Design.score_sum,
        Design.buy_count,
        Design.rank_score,
        Vote.score,
        Vote.would_buy,
        Vote.variant_id,
    )
    .outerjoin(Vote, (Vote.design_id == Design.id) & (Vote.user_id == sa.bindparam("user_id")))
    .where(Design.id == sa.bindparam("design_id"))
)


def design_now(design_id: int, user) -> DesignNow | None:
    """The design's counters and state, and ``user``'s vote on it, in one statement."""
    reader = user.id if user is not None and user.is_authenticated else None
    # Not through the ORM, nor SQLAlchemy's execution path: for rows it would not turn into
    # objects anyway, each costs more CPU than the driver's own call.
    rows = read_on_driver(_DESIGN_NOW, {"design_id": design_id, "user_id": reader})
    if not rows:
        return None
    *facts, score, would_buy, variant_id = rows[0]
    vote = VoteNow(score, would_buy, variant_id) if score is not None else None
    return DesignNow(*facts, vote=vote)


def design_to_edit(design_id: int) -> Design | None:
    """The design with the fields its edit form fills in."""
    return db.session.scalar(
        sa.select(Design)
        .where(Design.id == design_id)
        .options(selectinload(Design.tags), selectinload(Design.variants))
    )


def vote_of(design_id: int, user) -> Vote | None:
    """``user``'s vote on the design; None for an anonymous visitor."""
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(
        sa.select(Vote).where(Vote.design_id == design_id, Vote.user_id == user.id)
    )


def comments_on(design_id: int, *, with_hidden: bool) -> list[Comment]:
    """The design's comments, oldest first; hidden ones only for those who moderate them."""
    stmt = (
        sa.select(Comment)
        .where(Comment.design_id == design_id)
        .options(joinedload(Comment.author))
        .order_by(Comment.created_at)
        .limit(200)
    )
    if not with_hidden:
        stmt = stmt.where(sa.not_(Comment.hidden))
    return list(db.session.scalars(stmt))


def design_timeline(design_id: int, others=()) -> list[AuditEvent]:
    """The design's recorded decisions, oldest first, for its public page, with the events
    of ``others`` ((subject type, id) pairs: its redesign challenges) among them."""
    subjects = [("design", design_id), *others]
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(
                sa.or_(
                    *(
                        (AuditEvent.subject_type == kind) & (AuditEvent.subject_id == subject_id)
                        for kind, subject_id in subjects
                    )
                )
            )
            .order_by(AuditEvent.id)
        )
    )


def public_redesigns_of(design_id: int) -> list[Design]:
    """The published redesigns of a design, newest first, for its page."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(Design.redesign_of_id == design_id, Design.state.in_(PUBLIC_STATES))
            .options(*card_options())
            .order_by(Design.id.desc())
            .limit(50)
        )
    )


def designer(user_id: int) -> User | None:
    """The account if it is a designer's: other accounts have no public page."""
    person = db.session.get(User, user_id)
    return person if person is not None and person.is_designer else None


def public_designs_of(designer_id: int) -> list[Design]:
    """A designer's published designs, newest first, for their public page."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(Design.designer_id == designer_id, Design.state.in_(PUBLIC_STATES))
            .options(*card_options())
            .order_by(Design.id.desc())
            .limit(100)
        )
    )


def designs_of(designer_id: int) -> list[Design]:
    """Every design of a designer, drafts and declined ones too, for "My designs"."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(Design.designer_id == designer_id)
            .options(joinedload(Design.product), selectinload(Design.tags))
            .order_by(Design.id.desc())
        )
    )


# --- scoring ----------------------------------------------------------------------------------


def prior_mean() -> float:
    """The mean score of every public design: the Bayesian average's prior, so that a design
    with few votes starts from what designs usually get."""
    score_sum, count = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Design.score_sum), 0),
            sa.func.coalesce(sa.func.sum(Design.vote_count), 0),
        ).where(Design.state.in_(PUBLIC_STATES))
    ).one()
    return score_sum / count if count else ranking.NEUTRAL_PRIOR


def due_for_close(now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Designs whose window is past due: catches closes whose scheduled job was lost."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Design.id)
            .where(Design.state == DesignState.VOTING, Design.voting_closes_at <= now)
            .order_by(Design.voting_closes_at)
            .limit(limit)
        )
    )


# --- the operators' pages ---------------------------------------------------------------------


def submitted_for_review() -> list[Design]:
    """Designs waiting for the quality check, first submitted first, with their variants."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(Design.state == DesignState.SUBMITTED)
            .options(*card_options(), selectinload(Design.variants))
            .order_by(Design.submitted_at)
        )
    )


def shortlist() -> list[Design]:
    """Shortlisted designs, best ranked first."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(Design.state == DesignState.SHORTLISTED)
            .options(*card_options())
            .order_by(Design.rank_score.desc(), Design.id)
        )
    )


def open_for_scoring(limit: int = 100) -> list[Design]:
    """Designs being scored, closing first: for the operators who may close one early, and
    the home page."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(Design.state == DesignState.VOTING)
            .options(*card_options())
            .order_by(Design.voting_closes_at, Design.id)
            .limit(limit)
        )
    )


def short_of_votes(min_rank: float, limit: int = 50) -> list[Design]:
    """Designs not selected for too few votes whose score met the bar, last closed first:
    the operators may still shortlist them."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(
                Design.state == DesignState.NOT_SELECTED,
                Design.decision_reason == "too_few_votes",
                Design.rank_score >= min_rank,
            )
            .options(*card_options())
            .order_by(Design.closed_at.desc(), Design.id.desc())
            .limit(limit)
        )
    )


def comment_counts(design_ids: list[int]) -> dict[int, int]:
    """Visible comments per design, in one query; designs without any are left out."""
    return dict(
        db.session.execute(
            sa.select(Comment.design_id, sa.func.count())
            .where(Comment.design_id.in_(design_ids), sa.not_(Comment.hidden))
            .group_by(Comment.design_id)
        ).all()
    )


def variant_demand(design_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Buy intents per variant, for the operators' shortlist review (one query)."""
    rows = db.session.execute(
        sa.select(DesignVariant.design_id, DesignVariant.label, sa.func.count(Vote.id))
        .join(Vote, sa.and_(Vote.variant_id == DesignVariant.id, Vote.would_buy))
        .where(DesignVariant.design_id.in_(design_ids))
        .group_by(DesignVariant.design_id, DesignVariant.label, DesignVariant.position)
        .order_by(DesignVariant.design_id, DesignVariant.position)
    ).all()
    demand: dict[int, list[tuple[str, int]]] = {}
    for design_id, label, count in rows:
        demand.setdefault(design_id, []).append((label, count))
    return demand


def flagged_comments() -> list[Comment]:
    """Hidden or reported comments, those no operator has looked at first, most reported
    first."""
    return list(
        db.session.scalars(
            sa.select(Comment)
            .where(sa.or_(Comment.hidden, Comment.report_count > 0))
            .options(joinedload(Comment.author))
            .order_by(Comment.reviewed_at.is_not(None), Comment.report_count.desc(), Comment.id)
            .limit(200)
        )
    )


class QueueCounts(NamedTuple):
    to_check: int
    shortlisted: int
    comments_to_review: int


def queue_counts() -> QueueCounts:
    """What waits in each design queue, for the console's front page."""
    counts = dict(
        db.session.execute(
            sa.select(Design.state, sa.func.count())
            .where(Design.state.in_((DesignState.SUBMITTED, DesignState.SHORTLISTED)))
            .group_by(Design.state)
        ).all()
    )
    reported = db.session.scalar(
        sa.select(sa.func.count()).where(Comment.hidden, Comment.reviewed_at.is_(None))
    )
    return QueueCounts(
        counts.get(DesignState.SUBMITTED, 0), counts.get(DesignState.SHORTLISTED, 0), reported
    )


def _waiting(state: DesignState, since) -> list[Design]:
    """The queue shows titles only: nothing is loaded with the designs."""
    return list(
        db.session.scalars(
            sa.select(Design).where(Design.state == state).order_by(since).limit(QUEUE_LENGTH)
        )
    )


def awaiting_check() -> list[Design]:
    """The designs longest waiting for the quality check."""
    return _waiting(DesignState.SUBMITTED, Design.submitted_at)


def awaiting_decision() -> list[Design]:
    """The shortlisted designs longest waiting for an operator's decision."""
    return _waiting(DesignState.SHORTLISTED, Design.voting_closes_at)
