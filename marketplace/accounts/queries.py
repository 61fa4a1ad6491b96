"""Read queries about accounts and the audit log they act in, named for what they return."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, load_only

from marketplace.kernel import mail
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent

from .models import LoginSession, User

#: What most requests read of the member: the layout (roles, the unverified banner), the
#: rules (verified, operator, designer), the language and time zone. The rest (password hash,
#: profile) is loaded by the pages that show or check it, on first use.
MEMBER_COLUMNS = (
    User.id,
    User.email,
    User.display_name,
    User.email_verified_at,
    User.is_operator,
    User.designer_terms_version,
    User.session_version,
    User.locale,
    User.time_zone,
)

#: A login session honoured: the secret's hash (bind ``secret_hash``) names it, and it has
#: not expired (bind ``now``). Logging out and a password reset delete the row.
_LIVE_SESSION = (
    LoginSession.secret_hash == sa.bindparam("secret_hash"),
    LoginSession.expires_at > sa.bindparam("now"),
)

# Built once: composing a select costs more than running it (a third of a millisecond, on
# every request a member makes).
_MEMBER_BY_SECRET = (
    sa.select(User)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(*_LIVE_SESSION)
    .options(load_only(*MEMBER_COLUMNS))
)

_STANDING = (
    User.id,
    User.email_verified_at.is_not(None).label("is_verified"),
    User.is_operator,
    User.locale,
)


def standing_by_secret() -> sa.Select:
    """The id, verified-or-not, operator-or-not and language setting of the member a live
    login session names (binds ``secret_hash`` and ``now``), the session checked as the user
    loader checks it: for a write that checks who makes it in its own statement
    (``authz.as_member``)."""
    return (
        sa.select(*_STANDING)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(*_LIVE_SESSION)
    )


def standing_by_id() -> sa.Select:
    """The same columns for an account already loaded (binds ``member_id``)."""
    return sa.select(*_STANDING).where(User.id == sa.bindparam("member_id"))


def user_for_session_token(token: str) -> User | None:
    """The account a session or remember-me cookie names, while its login session lives: one
    statement, joined, since every page a member opens asks it."""
    user = db.session.scalar(
        _MEMBER_BY_SECRET, {"secret_hash": LoginSession.hash_secret(token), "now": utcnow()}
    )
    if user is not None:
        user.session_token = token
    return user


def live_sessions(user: User) -> list[LoginSession]:
    """Where the account is logged in, latest first."""
    return db.session.scalars(
        sa.select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.expires_at > utcnow())
        .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
    ).all()


def login_limit_generation(email: str) -> int:
    """Part of the failed-login limits' keys for an address: a password reset bumps it, which
    lifts them. 0 for an address without an account."""
    return db.session.scalar(sa.select(User.session_version).where(User.email == email)) or 0


def account_counts() -> dict[str, int]:
    """Accounts, verified accounts and designers, for the console's front page."""
    return {
        "accounts": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
        "verified": db.session.scalar(
            sa.select(sa.func.count()).where(User.email_verified_at.is_not(None))
        ),
        "designers": db.session.scalar(
            sa.select(sa.func.count()).where(User.designer_terms_version.is_not(None))
        ),
    }


def latest_audit_events(limit: int = 25) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    ).all()


@dataclass(frozen=True)
class AuditFilters:
    #: "system" for the platform's own moves, else part of the actor's email address.
    who: str = ""
    subject_type: str = ""
    subject_id: int | None = None
    #: A prefix: "pledge." finds every pledge event.
    action: str = ""
    operators_only: bool = False
    since: dt.date | None = None
    #: Inclusive: the whole day counts.
    until: dt.date | None = None


def audit_page(filters: AuditFilters, page: int, per_page: int) -> tuple[list[AuditEvent], bool]:
    """One page of the audit log, newest first, and whether there is a next page."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters.who == "system":
        query = query.where(AuditEvent.actor_id.is_(None))
    elif filters.who:
        query = query.join(User, User.id == AuditEvent.actor_id).where(
            User.email.contains(filters.who.lower())
        )
    if filters.operators_only:
        operators = sa.select(User.id).where(User.is_operator)
        query = query.where(AuditEvent.actor_id.in_(operators))
    if filters.subject_type:
        query = query.where(AuditEvent.subject_type == filters.subject_type)
    if filters.subject_id is not None:
        query = query.where(AuditEvent.subject_id == filters.subject_id)
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.since:
        query = query.where(AuditEvent.created_at >= _midnight(filters.since))
    if filters.until:
        query = query.where(AuditEvent.created_at < _midnight(filters.until, days=1))
    rows = db.session.scalars(
        query.options(joinedload(AuditEvent.actor))
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    return rows[:per_page], len(rows) > per_page


def audit_subject_types() -> list[str]:
    return db.session.scalars(
        sa.select(AuditEvent.subject_type).distinct().order_by(AuditEvent.subject_type)
    ).all()


def _midnight(day: dt.date, days: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)


def mail_topics_on(user: User) -> set[str]:
    """The keys of the topics of optional mail this account gets."""
    return {topic.key for topic in mail.TOPICS} - mail.turned_off(user.id)
