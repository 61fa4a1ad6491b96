"""The account: who a person is on the platform, and what roles they hold."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.kernel.dbtypes import UTCDateTime, utcnow
from marketplace.kernel.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __audit_type__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased, so uniqueness ignores case.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Version of the designer licence the account accepted; None means not a designer.
    designer_terms_version: Mapped[str | None] = mapped_column(sa.String(20))
    designer_terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Bumped by each password reset, which ends every login session: the failed-login
    #: limits are keyed on it, so the reset lifts them too.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The language pages and mail are written in for this account ("en", "fr").
    locale: Mapped[str] = mapped_column(sa.String(5), default="en", server_default="en")
    #: Where the account's times are shown (an IANA name); stored times stay UTC.
    time_zone: Mapped[str] = mapped_column(
        sa.String(64), default="Europe/Paris", server_default="Europe/Paris"
    )
    #: A designer's words about themself on their public page: plain text, shown escaped with
    #: its line breaks kept.
    bio: Mapped[str] = mapped_column(sa.String(600), default="", server_default="")
    #: Up to three http(s) addresses (portfolio, shop, social) shown on the public page.
    links: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    #: The stored avatar's random key (``designs.images``, which stores and serves it); None:
    #: initials are shown instead.
    avatar_key: Mapped[str | None] = mapped_column(sa.String(64))

    #: The secret of the login session this request acts in (see ``LoginSession``), set when
    #: the session starts or is loaded from a cookie; never stored.
    session_token = None

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie: the login
        session's secret, which the user loader looks up (the account's id alone would stay
        valid after logging out)."""
        if self.session_token is None:
            raise RuntimeError("start a login session (accounts.services.start_session) first")
        return self.session_token

    # UserMixin compares get_id(); an account is the same account whatever its session.
    def __eq__(self, other):
        if isinstance(other, User):
            return self.id is not None and self.id == other.id
        return NotImplemented

    __hash__ = UserMixin.__hash__

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_designer(self) -> bool:
        return self.designer_terms_version is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class LoginSession(db.Model):
    """One logged-in browser. Its cookies carry only a random secret, of which the row keeps
    the hash: logging out deletes the row, and every copy of those cookies is then worth
    nothing. Rows past ``expires_at`` are refused, and deleted at the account's next login."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the cookie's secret (hex): a copy of this table logs nobody in.
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Fixed at login: the remember-me duration, or a few hours for a browser-session login.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: "Keep me logged in on this device" was ticked.
    remember: Mapped[bool] = mapped_column(default=False)
    #: The start of the browser's User-Agent, so the person can tell their sessions apart.
    user_agent: Mapped[str] = mapped_column(sa.String(160), default="")

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"
