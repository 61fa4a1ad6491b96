"""The rules of designs: drafts, the quality check, scoring, closing, selection, comments.

Functions flush and never commit; views, jobs and commands commit once per unit of work.
The vote is the exception: on PostgreSQL it is one statement committed on its own
(``cast_vote``).
Every state change goes through :data:`DESIGN_MACHINE` and lands in the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel.speaklater import LazyString
from sqlalchemy.dialects import postgresql

from marketplace.accounts import queries as accounts_queries
from marketplace.accounts.authz import NotLoggedIn, UncheckedLogin
from marketplace.accounts.models import User
from marketplace.accounts.services import accept_designer_terms
from marketplace.kernel import signals
from marketplace.kernel.audit import apply_transition, record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db, run_on_its_own
from marketplace.kernel.i18n import N_, number
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.pagecache import forget_after_commit
from marketplace.kernel.queues import enqueue_after_commit
from marketplace.kernel.urls import external_url

from . import queries, ranking, wording
from .models import (
    DECLINE_REASONS,
    DESIGN_MACHINE,
    NOT_SELECTED_REASONS,
    Comment,
    CommentReport,
    Design,
    DesignState,
    DesignTag,
    DesignVariant,
    Product,
    Vote,
)

#: What the designer may still edit: drafts, and declined designs (revised, they are drafts).
EDITABLE_STATES = (DesignState.DRAFT, DesignState.DECLINED)
MAX_TAGS = 5
MAX_VARIANTS = 12
#: What a redesigner writes about their changes, in characters.
WHAT_CHANGED_MIN, WHAT_CHANGED_MAX = 10, 2000
COMMENT_MAX_LENGTH = 1000
#: Reports that hide a comment until an operator has looked at it.
REPORTS_TO_HIDE = 3
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 \-]{0,29}$")


class DesignError(ServiceError):
    pass


@dataclass(frozen=True)
class Artwork:
    key: str
    width: int
    height: int
    format: str


# --- parsing ----------------------------------------------------------------------------------


def parse_tags(text: str) -> list[str]:
    tags: list[str] = []
    for raw in (text or "").split(","):
        tag = " ".join(raw.split()).lower().lstrip("#")
        if not tag:
            continue
        if not _TAG_RE.match(tag):
            raise DesignError(
                _(
                    "“%(tag)s” is not a valid tag: use letters, digits, spaces or hyphens, "
                    "up to 30 characters.",
                    tag=tag[:30],
                )
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise DesignError(_("Use at most %(most)d tags.", most=MAX_TAGS))
    return tags


def parse_variants(text: str) -> list[str]:
    variants: list[str] = []
    for raw in (text or "").split(","):
        label = " ".join(raw.split())
        if not label:
            continue
        if len(label) > 40:
            raise DesignError(
                _(
                    "“%(label)s…” is too long: a variant has at most 40 characters.",
                    label=label[:40],
                )
            )
        if label.lower() not in (v.lower() for v in variants):
            variants.append(label)
    if len(variants) > MAX_VARIANTS:
        raise DesignError(_("Propose at most %(most)d variants.", most=MAX_VARIANTS))
    return variants


# --- the state machine ------------------------------------------------------------------------


def transition(
    design: Design, event: str, actor: User | None, *, reason: str | None = None, **data
) -> bool:
    """Apply ``event``; returns False when it was a repeat (no change, nothing recorded)."""
    changed = apply_transition(DESIGN_MACHINE, design, event, actor=actor, reason=reason, **data)
    if changed:
        forget_page(design.id)
        if design.redesign_of_id is not None:
            forget_page(design.redesign_of_id)  # its page lists its redesigns and their stage
    return changed


def forget_page(design_id: int) -> None:
    """The design's public page changed: anonymous visitors get a fresh one after commit."""
    forget_after_commit(f"design:{design_id}")


def _notify_designer(
    design: Design,
    event: str,
    reason: str | None = None,
    message: str | None = None,
    shortfall: dict | None = None,
) -> None:
    """Tell the designer what happened (``event``: approved, declined, shortlisted,
    scoring_closed, selected, not_selected). The mail is worded in their language, so the
    line saying why a design went no further is lazy: written when the mail is rendered."""
    decision = LazyString(wording.decision_line, reason, message, shortfall) if reason else None
    queue_mail(
        design.designer,
        "design_update",
        design=design,
        event=event,
        decision=decision,
        link=external_url("designs.show", design_id=design.id),
    )


# --- drafts -----------------------------------------------------------------------------------


def _apply_fields(
    design, *, title, description, tags, product_id, variants, what_changed=None
) -> None:
    title = " ".join((title or "").split())
    if not 3 <= len(title) <= 80:
        raise DesignError(_("The title needs 3 to 80 characters."))
    description = (description or "").replace("\r\n", "\n").strip()
    if len(description) > 2000:
        raise DesignError(_("The description has at most 2,000 characters."))
    product = db.session.get(Product, product_id)
    if product is None or not product.active:
        raise DesignError(_("Choose one of the products in the list."))
    design.title = title
    design.description = description
    design.product = product
    wanted_tags = parse_tags(tags)
    design.tags = [t for t in design.tags if t.tag in wanted_tags] + [
        DesignTag(tag=t) for t in wanted_tags if t not in design.tag_names
    ]
    labels = parse_variants(variants)
    kept = {v.label: v for v in design.variants if v.label in labels}
    design.variants = [kept.get(label) or DesignVariant(label=label) for label in labels]
    for position, variant in enumerate(design.variants):
        variant.position = position
    if design.redesign_of_id is not None or design.redesign_of is not None:
        design.what_changed = _what_changed(what_changed)


def _what_changed(text: str | None) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not WHAT_CHANGED_MIN <= len(text) <= WHAT_CHANGED_MAX:
        raise DesignError(
            _(
                "Say what your redesign changes, in %(least)s to %(most)s characters.",
                least=number(WHAT_CHANGED_MIN),
                most=number(WHAT_CHANGED_MAX),
            )
        )
    return text


def redesignable(design_id: int | None) -> Design | None:
    """The design a new one may redesign: a produced one (it reached its campaign), public."""
    if design_id is None:
        return None
    original = db.session.get(Design, design_id)
    if original is None or not original.is_public:
        raise DesignError(_("No such design to redesign."), 404)
    if original.state != DesignState.CAMPAIGN:
        raise DesignError(_("Only a design that reached its campaign can be redesigned."), 409)
    return original


def require_verified(user: User) -> None:
    """Uploading artwork and submitting a design need a confirmed address, as scoring does:
    an account made with a throwaway address must not fill the review queue or the disk."""
    if not user.is_verified:
        raise DesignError(
            _(
                "Confirm your email address first: only confirmed accounts can upload artwork "
                "or submit designs. Open the link we sent to %(email)s, or use “Send the link "
                "again” at the top of this page.",
                email=user.email,
            ),
            403,
        )


def create_draft(
    designer: User, artwork: Artwork, redesign_of_id: int | None = None, **fields
) -> Design:
    """A new draft; with ``redesign_of_id``, a redesign of that design, whose ``what_changed``
    is required. A redesign goes through the same check and scoring as any design."""
    require_verified(designer)
    if not designer.is_designer:
        raise DesignError(_("Accept the designer terms before submitting designs."), 403)
    original = redesignable(redesign_of_id)
    design = Design(
        designer=designer,
        artwork_key=artwork.key,
        artwork_width=artwork.width,
        artwork_height=artwork.height,
        artwork_format=artwork.format,
        redesign_of=original,
    )
    _apply_fields(design, **fields)
    db.session.add(design)
    db.session.flush()
    extra = {"redesign_of": original.id} if original is not None else {}
    record_about("design.created", design, actor=designer, to_state="draft", **extra)
    return design


def update_draft(
    design: Design, actor: User, artwork: Artwork | None = None, **fields
) -> str | None:
    """Edit a draft, or revise a declined design (it becomes a draft again, to submit once
    revised; the decline's reason stays on it, for the designer to read beside the form,
    until it is submitted). Returns the previous artwork key when the artwork was replaced,
    for the caller to delete once the change is committed."""
    if design.designer_id != actor.id:
        raise DesignError(_("Only the designer can edit this design."), 403)
    if design.state not in EDITABLE_STATES:
        raise DesignError(_("Only drafts can be edited; this design is already submitted."), 409)
    _apply_fields(design, **fields)
    forget_page(design.id)  # its designer's page of it is kept like the others
    if design.state == DesignState.DECLINED:
        transition(design, "revise", actor)
    old_key = None
    if artwork is not None:
        require_verified(actor)
        old_key = design.artwork_key
        design.artwork_key = artwork.key
        design.artwork_width = artwork.width
        design.artwork_height = artwork.height
        design.artwork_format = artwork.format
    return old_key


def submit(design: Design, actor: User, accept_new_terms: bool = False) -> None:
    """Send a draft to the quality check. The licence is granted by the designer terms the
    account accepted, once per version of them; ``accept_new_terms`` accepts a newer version
    than the account's, ticked on the submission form."""
    if design.designer_id != actor.id:
        raise DesignError(_("Only the designer can submit this design."), 403)
    if design.state != DesignState.DRAFT:
        raise DesignError(_("This design is already submitted."), 409)
    require_verified(actor)
    version = current_app.config["DESIGNER_TERMS_VERSION"]
    if actor.designer_terms_version != version:
        if not accept_new_terms:
            raise DesignError(
                _(
                    "The designer terms have changed (version %(version)s): accept them to submit.",
                    version=version,
                ),
                409,
            )
        accept_designer_terms(actor)
    design.terms_version = version
    design.submitted_at = utcnow()
    # A revised design is judged afresh: the last decline stays in its timeline only.
    design.decision_reason = design.decision_message = None
    transition(design, "submit", actor, terms_version=design.terms_version)


# --- quality check ----------------------------------------------------------------------------


def _lock(design_id: int) -> Design | None:
    return lock_row(Design, design_id)


def _locked_in(design_id: int, state: DesignState) -> Design:
    """The design, locked, if it is in ``state``; 404 or 409 otherwise."""
    design = _lock(design_id)
    if design is None:
        raise DesignError(_("No such design."), 404)
    if design.state != state:
        raise DesignError(
            _(
                "This design is %(state)s, not %(expected)s.",
                state=_(design.state.label),
                expected=_(state.label),
            ),
            409,
        )
    return design


def approve(design_id: int, operator: User, now: dt.datetime | None = None) -> Design:
    design = _locked_in(design_id, DesignState.SUBMITTED)
    now = now or utcnow()
    design.voting_opens_at = now
    design.voting_closes_at = now + dt.timedelta(days=current_app.config["VOTING_DAYS"])
    transition(design, "approve", operator, closes_at=design.voting_closes_at.isoformat())
    signals.design_approved.send(design, actor=operator)
    enqueue_after_commit(
        "default", "designs.jobs.close_voting", design.id, at=design.voting_closes_at
    )
    _notify_designer(design, "approved")
    return design


def _listed(reason: str, reasons: dict[str, str]) -> None:
    """Operators choose a reason from the published list, so the public reads known words."""
    if reason not in reasons:
        raise DesignError(_("Choose a reason from the list."))


def decline(design_id: int, operator: User, reason: str, message: str) -> Design:
    _listed(reason, DECLINE_REASONS)
    design = _locked_in(design_id, DesignState.SUBMITTED)
    _turn_down(design, "decline", operator, DECLINE_REASONS, reason, message)
    _notify_designer(design, "declined", reason=reason, message=design.decision_message)
    return design


def _turn_down(
    design: Design,
    event: str,
    actor: User | None,
    reasons: dict[str, str],
    reason: str,
    message: str,
    **data,
) -> None:
    """Keep why on the design, for its page, and in the audit log (in English, with the
    reason's key and any numbers in ``data``, which pages and mail word in their reader's
    language: see designs.wording)."""
    design.decision_reason = reason
    design.decision_message = message.strip() or None
    transition(design, event, actor, reason=_reason_line(reasons, reason, message), **data)


def _reason_line(reasons: dict[str, str], reason: str, message: str | None) -> str:
    """The audit log's line, in English like the rest of the log."""
    text = reasons[reason]
    return f"{text}. {message.strip()}" if message and message.strip() else text


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voter:
    """Who voted, as the vote's statement read it: what the rules ask, and the language of
    the confirmation (the account itself is not loaded)."""

    id: int
    is_verified: bool
    is_operator: bool
    locale: str | None
    is_authenticated = True


def _vote_statements():
    """The vote's statements, built once: composing them, and loading ORM objects, on every
    request cost a fifth of a vote's CPU time (4.5 -> 3.5 ms measured in-process)."""
    designs, votes, variants = Design.__table__, Vote.__table__, DesignVariant.__table__
    # Typed: some stand in a SELECT's columns, where no column lends them its type.
    design_id = sa.bindparam("p_design", type_=sa.Integer())
    now = sa.bindparam("p_now", type_=designs.c.updated_at.type)
    score = sa.bindparam("p_score", type_=sa.SmallInteger())
    would_buy = sa.bindparam("p_would_buy", type_=sa.Boolean())
    variant_id = sa.bindparam("p_variant_id", type_=sa.Integer())
    variant_of_design = sa.exists().where(
        variants.c.id == variant_id, variants.c.design_id == designs.c.id
    )
    # The checks' columns, and whether the variant chosen is one of the design's.
    lock = (
        sa.select(
            designs.c.designer_id,
            designs.c.state,
            designs.c.voting_closes_at,
            variant_of_design.label("variant_ok"),
        )
        .where(designs.c.id == design_id)
        .with_for_update(of=designs)
    )

    def mine(voter_id):
        return (votes.c.design_id == design_id) & (votes.c.user_id == voter_id)

    member_id = sa.bindparam("p_user")
    values = {
        "score": score,
        "would_buy": would_buy,
        "variant_id": variant_id,
        "updated_at": now,
    }
    statements = {
        "standing": accounts_queries.standing_by_id(),
        "standing_by_secret": accounts_queries.standing_by_secret(),
        "lock": lock,
        "old": sa.select(votes.c.score, votes.c.would_buy).where(mine(member_id)),
        "insert": votes.insert().values(
            design_id=design_id, user_id=member_id, created_at=now, **values
        ),
        "update": votes.update().where(mine(member_id)).values(**values),
        "totals": designs.update()
        .where(designs.c.id == design_id)
        .values(
            vote_count=designs.c.vote_count + sa.bindparam("p_new_votes"),
            score_sum=designs.c.score_sum + sa.bindparam("p_score_change"),
            buy_count=designs.c.buy_count + sa.bindparam("p_buy_change"),
        ),
    }
    for name, standing in (
        ("by_id", statements["standing"]),
        ("by_secret", statements["standing_by_secret"]),
    ):
        statements["one_" + name] = _one_statement_vote(standing, lock, mine, values)
    return statements


def _one_statement_vote(standing, lock, mine, values):
    """On PostgreSQL the whole vote is one statement, committed on its own: who votes (the
    login session checked, or the account), the design locked, the rules, the vote inserted
    or changed, the totals moved by the difference, and what the rules were checked on, for
    the refusal's message.

    Exact under races (PostgreSQL's READ COMMITTED: the statement's snapshot is taken before
    it waits for any lock). The design's row is locked first, before anything is written,
    and what is read of it under the lock is its latest version; the lock holds off the
    close of the window and the other votes on the design until this one is committed, and
    the totals are written from the values read under it. The account's old vote is locked
    next (the order every vote takes), which reads it as it is now, not as the snapshot had
    it; unless the snapshot had none: a first vote made in another tab while this one
    waited. So the vote is inserted only if none was read (a conflict inserts nothing) and
    changed only if one was; when neither happens nothing is written, ``saved`` is false,
    and ``cast_vote`` runs the statement again, whose new snapshot has the other tab's
    vote."""
    designs, votes = Design.__table__, Vote.__table__
    design_id = sa.bindparam("p_design", type_=sa.Integer())
    now = values["updated_at"]
    who = standing.cte("voter")
    totals_now = (designs.c.vote_count, designs.c.score_sum, designs.c.buy_count)
    design = lock.add_columns(designs.c.id, *totals_now).cte("design").prefix_with("MATERIALIZED")
    allowed = (
        sa.select(who.c.id)
        .select_from(who.join(design, sa.true()))
        .where(
            who.c.is_verified,
            ~who.c.is_operator,
            design.c.designer_id != who.c.id,
            design.c.state == DesignState.VOTING,
            design.c.voting_closes_at > now,
            values["variant_id"].is_(None) | design.c.variant_ok,
        )
        .cte("allowed")
    )
    old = (
        sa.select(votes.c.score, votes.c.would_buy)
        .where(mine(allowed.c.id))
        .with_for_update(of=votes)
        .cte("old_vote")
    )
    inserted = (
        postgresql.insert(votes)
        .from_select(
            ["design_id", "user_id", "created_at", *values],
            sa.select(design_id, allowed.c.id, now, *values.values()).where(
                ~sa.exists(old.select())
            ),
        )
        .on_conflict_do_nothing(index_elements=[votes.c.design_id, votes.c.user_id])
        .returning(votes.c.id)
        .cte("inserted")
    )
    changed = (
        votes.update()
        .where(mine(allowed.c.id), sa.exists(old.select()))
        .values(**values)
        .returning(votes.c.id)
        .cte("changed")
    )
    as_int = sa.Integer()
    old_score = sa.select(old.c.score).scalar_subquery()
    old_buy = sa.select(sa.cast(old.c.would_buy, as_int)).scalar_subquery()
    # From the totals read under the lock, not from the row the UPDATE finds: that one is the
    # snapshot's, perhaps older, and PostgreSQL checks the constraints (0 <= score_sum <= 5 x
    # vote_count...) on what it computes from it before it finds the newer row.
    totals = (
        designs.update()
        .where(
            designs.c.id == design.c.id,
            sa.exists(inserted.select()) | sa.exists(changed.select()),
        )
        .values(
            updated_at=now,
            vote_count=design.c.vote_count + sa.case((sa.exists(old.select()), 0), else_=1),
            score_sum=design.c.score_sum + values["score"] - sa.func.coalesce(old_score, 0),
            buy_count=design.c.buy_count
            + sa.cast(values["would_buy"], as_int)
            - sa.func.coalesce(old_buy, 0),
        )
        .returning(designs.c.id)
        .cte("totals")
    )
    one = sa.select(sa.literal(1).label("one")).cte("one")
    return sa.select(
        who.c.id.label("voter_id"),
        who.c.is_verified,
        who.c.is_operator,
        who.c.locale,
        design.c.id.label("design_id"),
        design.c.designer_id,
        design.c.state,
        design.c.voting_closes_at,
        design.c.variant_ok,
        sa.exists(totals.select()).label("saved"),
    ).select_from(one.outerjoin(who, sa.true()).outerjoin(design, sa.true()))


_VOTE_SQL = _vote_statements()
#: Runs of the one-statement vote that may lose to the same account's other tab.
_VOTE_ATTEMPTS = 3


def cast_vote(
    design_id: int,
    voter: User | UncheckedLogin,
    score: int,
    would_buy: bool = False,
    variant_id: int | None = None,
    now: dt.datetime | None = None,
) -> Voter:
    """Record or change the vote of ``voter``: an account, or the login session a request
    names (checked here, raising ``NotLoggedIn`` when it has ended; see
    ``accounts.authz.as_member``). Returns who voted, as the statement read them.

    The design's row is locked first: votes on one design queue behind each other, so the
    running totals stay exact, and the close of the window waits for them.

    It is the busiest write of the site: on PostgreSQL it is one statement outside any
    transaction (``_one_statement_vote``), so one round trip; SQLite, in the process, takes
    a statement per step, in the session's transaction.
    """
    if not 0 <= score <= 5:
        raise DesignError(_("A score is a whole number from 0 to 5."))
    if not would_buy:
        variant_id = None
    now = now or utcnow()
    by_secret = isinstance(voter, UncheckedLogin)
    values = {
        "p_design": design_id,
        "p_score": score,
        "p_would_buy": would_buy,
        "p_variant_id": variant_id,
        "p_now": now,
    }
    who = {"secret_hash": voter.secret_hash, "now": now} if by_secret else {"member_id": voter.id}
    if db.session().get_bind().dialect.name == "postgresql":
        statement = _VOTE_SQL["one_by_secret" if by_secret else "one_by_id"]
        for _attempt in range(_VOTE_ATTEMPTS):
            row = run_on_its_own(statement, {**values, **who})
            if row.voter_id is None:
                raise NotLoggedIn(_("Log in to continue."))
            voted = Voter(row.voter_id, row.is_verified, row.is_operator, row.locale)
            _check_vote(voted, None if row.design_id is None else row, variant_id, now)
            if row.saved:
                return voted
        raise DesignError(
            _("Someone changed this at the same moment. Nothing was saved: try again."), 409
        )
    # On the session's connection: no ORM objects, so none of the ORM's execution path.
    run = db.session.connection().execute
    standing = run(_VOTE_SQL["standing_by_secret" if by_secret else "standing"], who).first()
    if standing is None:
        raise NotLoggedIn(_("Log in to continue."))
    design = run(_VOTE_SQL["lock"], values).first()
    voted = Voter(*standing)
    _check_vote(voted, design, variant_id, now)
    ids = {"p_design": design_id, "p_user": standing.id}
    old = run(_VOTE_SQL["old"], ids).first()
    run(_VOTE_SQL["insert" if old is None else "update"], {**values, **ids})
    run(
        _VOTE_SQL["totals"],
        {
            "p_design": design_id,
            "p_new_votes": int(old is None),
            "p_score_change": score - (old.score if old else 0),
            "p_buy_change": int(would_buy) - int(bool(old and old.would_buy)),
        },
    )
    return voted


def _check_vote(voter: Voter, design, variant_id: int | None, now: dt.datetime) -> None:
    """The rules of a vote, on the design's row read under its lock (None when there is no
    such design); the one-statement vote writes only when its own copy of them, in SQL,
    holds."""
    if not voter.is_verified:
        raise DesignError(_("Confirm your email address before scoring."), 403)
    if design is None or not Design.visible(design.state, design.designer_id, voter):
        raise DesignError(_("No such design."), 404)
    if design.designer_id == voter.id:
        raise DesignError(_("You cannot score your own design."), 403)
    if design.state != DesignState.VOTING or now >= design.voting_closes_at:
        raise DesignError(_("Scoring for this design is closed."), 409)
    if voter.is_operator:
        # Operators see the scores before voting and decide the shortlist: their score would
        # be neither blind nor the community's.
        raise DesignError(
            _(
                "Operators do not score designs: scoring is the community's. Log in with a"
                " member account to score."
            ),
            403,
        )
    if variant_id is not None and not design.variant_ok:
        raise DesignError(_("Choose one of the variants of this design."))


def can_see_scores(design: Design, user, vote: Vote | None) -> bool:
    """Scores stay hidden from whoever has not voted while the window is open (Threadless'
    rule against herding); afterwards they are public."""
    if design.is_closed:
        return True
    if user is None or not user.is_authenticated:
        return False
    return vote is not None or user.is_operator


def score(design: Design, prior: float) -> tuple[float, float, float]:
    cfg = current_app.config
    bayes = ranking.bayesian_average(
        design.score_sum, design.vote_count, prior, cfg["SCORING_PRIOR_WEIGHT"]
    )
    wilson = ranking.wilson_lower_bound(design.buy_count, design.vote_count)
    return bayes, wilson, ranking.rank_score(bayes, wilson, cfg["SCORING_BUY_WEIGHT"])


def close_voting(design_id: int, now: dt.datetime | None = None) -> bool:
    """Close the window if it is due: freeze the scores, then shortlist the design or say why
    not. Returns False when there was nothing to do (already closed, or not due yet)."""
    design = _lock(design_id)
    now = now or utcnow()
    if design is None or design.state != DesignState.VOTING or now < design.voting_closes_at:
        return False
    _close(design, now, None)
    return True


#: The shortest reason an operator gives for a decision outside the usual rules (its
#: message says 10: change both together).
MIN_REASON = 10


def _operator_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not MIN_REASON <= len(reason) <= 500:
        raise DesignError(_("Give a reason of 10 to 500 characters."), 422)
    return reason


def close_scoring_now(
    design_id: int, operator: User | None, reason: str, now: dt.datetime | None = None
) -> Design:
    """Close a scoring window before its time (a call ended early, a design to rush): the
    same close as the scheduled one, with the operator and why in the audit log. (``None``
    for ``flask designs close-scoring``.) The scheduled job finds it closed, and does
    nothing."""
    reason = _operator_reason(reason)
    design = _locked_in(design_id, DesignState.VOTING)
    now = now or utcnow()
    due = design.voting_closes_at
    design.voting_closes_at = min(due, now)
    _close(design, now, operator, reason=reason, early=True, was_due=due.isoformat())
    return design


def missed_only_votes(design: Design) -> bool:
    """Closed with too few votes, yet ranked at or above the bar: what the operator may
    still shortlist, with a reason."""
    return (
        design.state == DesignState.NOT_SELECTED
        and design.decision_reason == "too_few_votes"
        and design.rank_score is not None
        and design.rank_score >= current_app.config["SHORTLIST_MIN_RANK"]
    )


def shortlist_anyway(design_id: int, operator: User, reason: str) -> Design:
    """Shortlist a design whose score met the bar but whose votes were too few to trust it
    automatically: an operator's judgement, with why, in the audit log."""
    reason = _operator_reason(reason)
    design = _locked_in(design_id, DesignState.NOT_SELECTED)
    if not missed_only_votes(design):
        raise DesignError(
            _(
                "Only a design whose score met the bar with too few votes can be "
                "shortlisted anyway."
            ),
            409,
        )
    design.decision_reason = design.decision_message = None
    transition(design, "shortlist", operator, reason=reason, votes=design.vote_count)
    _notify_designer(design, "shortlisted")
    return design


def _close(design: Design, now: dt.datetime, actor: User | None, **data) -> None:
    """Freeze the scores, then shortlist the design or say why not."""
    cfg = current_app.config
    design.bayes_score, design.buy_lower_bound, design.rank_score = score(
        design, queries.prior_mean()
    )
    design.closed_at = now
    transition(
        design,
        "close_voting",
        actor,
        votes=design.vote_count,
        rank_score=round(design.rank_score, 4),
        **data,
    )
    # What the design missed is kept as numbers, with the bar of the day, for its page and
    # the designer's mail to word in their reader's language.
    if design.vote_count < cfg["SHORTLIST_MIN_VOTES"]:
        reject_reason = "too_few_votes"
        shortfall = {"votes": design.vote_count, "min_votes": cfg["SHORTLIST_MIN_VOTES"]}
    elif design.rank_score < cfg["SHORTLIST_MIN_RANK"]:
        reject_reason = "below_bar"
        shortfall = {
            "rank_score": round(design.rank_score, 4),
            "min_rank": cfg["SHORTLIST_MIN_RANK"],
        }
    else:
        reject_reason = None
    if reject_reason is None:
        transition(design, "shortlist", None, reason=N_("Passed the shortlist bar"))
        _notify_designer(design, "shortlisted")
    else:
        _turn_down(design, "reject", None, NOT_SELECTED_REASONS, reject_reason, "", **shortfall)
        _notify_designer(design, "scoring_closed", reason=reject_reason, shortfall=shortfall)


# --- selection --------------------------------------------------------------------------------


def select(design_id: int, operator: User) -> Design:
    design = _locked_in(design_id, DesignState.SHORTLISTED)
    transition(design, "select", operator, reason=N_("Selected for a pre-order campaign"))
    signals.design_selected.send(design, actor=operator)
    _notify_designer(design, "selected")
    return design


def reject(design_id: int, operator: User, reason: str, message: str) -> Design:
    _listed(reason, NOT_SELECTED_REASONS)
    design = _locked_in(design_id, DesignState.SHORTLISTED)
    _turn_down(design, "reject", operator, NOT_SELECTED_REASONS, reason, message)
    _notify_designer(design, "not_selected", reason=reason, message=design.decision_message)
    return design


# --- comments ---------------------------------------------------------------------------------


def add_comment(design: Design, author: User, body: str) -> Comment:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise DesignError(_("Write something first."))
    if len(body) > COMMENT_MAX_LENGTH:
        raise DesignError(
            _("A comment has at most %(most)s characters.", most=number(COMMENT_MAX_LENGTH))
        )
    if not author.is_verified:
        raise DesignError(_("Confirm your email address before commenting."), 403)
    if not design.is_public:
        raise DesignError(_("Comments open when the design is published."), 409)
    comment = Comment(design_id=design.id, author_id=author.id, body=body)
    db.session.add(comment)
    db.session.flush()
    forget_page(design.id)
    return comment


def count_report(item, report_model, reporter_id: int, **parent) -> bool:
    """Record one person's report of ``item`` (a comment, or a review, which is moderated the
    same way): ``report_model`` rows are keyed by ``parent`` and the reporter, and a second
    report by the same person changes nothing. ``REPORTS_TO_HIDE`` reports hide the item
    until an operator has looked; after that, reports no longer hide it. True when this
    report hid it."""
    already = db.session.scalar(
        sa.select(report_model.id).filter_by(reporter_id=reporter_id, **parent)
    )
    if already:
        return False
    db.session.add(report_model(reporter_id=reporter_id, **parent))
    item.report_count += 1
    if item.report_count >= REPORTS_TO_HIDE and item.reviewed_at is None and not item.hidden:
        item.hidden = True
        return True
    return False


def mark_reviewed(item, operator: User, hide: bool) -> None:
    """An operator's decision on a reported item: hidden, or shown again for good."""
    item.hidden = hide
    item.reviewed_at = utcnow()
    item.reviewed_by_id = operator.id


def report_comment(comment_id: int, reporter: User) -> Comment:
    comment = db.session.scalar(
        sa.select(Comment).where(Comment.id == comment_id).with_for_update()
    )
    if comment is None:
        raise DesignError(_("No such comment."), 404)
    if comment.author_id == reporter.id:
        raise DesignError(_("You cannot report your own comment."), 403)
    if count_report(comment, CommentReport, reporter.id, comment_id=comment_id):
        forget_page(comment.design_id)
        record_about("comment.hidden_by_reports", comment, actor=None, reports=comment.report_count)
    db.session.flush()
    return comment


def moderate(comment_id: int, operator: User, hide: bool, reason: str = "") -> Comment:
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        raise DesignError(_("No such comment."), 404)
    mark_reviewed(comment, operator, hide)
    forget_page(comment.design_id)
    record_about(
        "comment.hidden" if hide else "comment.restored",
        comment,
        actor=operator,
        reason=reason.strip() or None,
    )
    return comment


# --- the product catalogue --------------------------------------------------------------------


def add_product(name: str, variant_hint: str) -> Product:
    """A product designers can draw for; its name is unique whatever the case."""
    name = " ".join(name.split())
    if queries.product_named(name) is not None:
        raise DesignError(_("A product with this name exists."), 409)
    product = Product(name=name, variant_hint=variant_hint or "")
    db.session.add(product)
    db.session.flush()
    return product


def toggle_product(product_id: int) -> Product:
    """Offer a product to new designs, or stop offering it (existing designs keep it)."""
    product = queries.product(product_id)
    if product is None:
        raise DesignError(_("No such product."), 404)
    product.active = not product.active
    return product
