"""The account: who a person is on the platform, and what roles they hold."""

from __future__ import annotations

import datetime as dt

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
    #: Part of the login session id: bumping it (password reset) logs out every session.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_designer(self) -> bool:
        return self.designer_terms_version is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
