"""The demo's accounts: an operator, two designers, two backers, all with one password."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.accounts.services import get_user_by_email, hash_password
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db

DEMO_PASSWORD = "demo-password"

DEMO_ACCOUNTS = [
    # (role, email, display name, operator, designer)
    ("operator", "operator@example.com", "Olivia (staff)", True, False),
    ("designer", "ada@example.com", "Ada Lovelace", False, True),
    ("designer", "hokusai@example.com", "Katsushika H.", False, True),
    ("backer", "ben@example.com", "Ben Backer", False, False),
    ("backer", "chloe@example.com", "Chloé", False, False),
]


def demo_backers() -> list[User]:
    """Who pledges in the demo: the demo's backer logins first, so that logging in as one of
    them shows pledges at every stage, then the generated community."""
    named = [
        user
        for role, email, *_ in DEMO_ACCOUNTS
        if role == "backer" and (user := get_user_by_email(email)) is not None
    ]
    members = db.session.scalars(
        sa.select(User).where(User.email.like("member%@example.com")).order_by(User.id)
    ).all()
    return named + list(members)


def demo_operator() -> User:
    """Who acts for the team in the demo: the first operator."""
    return db.session.scalar(sa.select(User).where(User.is_operator).order_by(User.id))


def seed_accounts() -> list[tuple[str, str]]:
    from flask import current_app

    now = utcnow()
    shown = []
    for role, email, name, is_operator, is_designer in DEMO_ACCOUNTS:
        user = get_user_by_email(email)
        if user is None:
            user = User(email=email, display_name=name, password_hash=hash_password(DEMO_PASSWORD))
            user.email_verified_at = now
            user.is_operator = is_operator
            if is_designer:
                user.designer_terms_version = current_app.config["DESIGNER_TERMS_VERSION"]
                user.designer_terms_accepted_at = now
            db.session.add(user)
        shown.append((role, email))
    db.session.flush()
    return shown
