"""Accounts and roles: the business rules, without HTTP.

Functions here flush and never commit: the view (or job, or CLI command) that calls them
commits once when its unit of work is complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.kernel import mail
from marketplace.kernel.audit import record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import DEFAULT_LANGUAGE, LANGUAGES, is_time_zone
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import MailGroup, queue_mail
from marketplace.kernel.urls import external_url

from .models import LoginSession, User

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
#: A designer's public profile: a short bio and a few links, as a card or a social profile has.
BIO_MAX_LENGTH = 600
MAX_LINKS = 3
LINK_MAX_LENGTH = 300


class AccountError(ServiceError):
    """A rule of accounts was broken."""


class EmailTaken(AccountError):
    status = 409


class InvalidToken(AccountError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password_rules(password: str, email: str = "") -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(_("Use at least %(min)d characters.", min=PASSWORD_MIN_LENGTH))
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(_("Use at most %(max)d characters.", max=PASSWORD_MAX_LENGTH))
    if email and password.strip().lower() == normalise_email(email):
        raise AccountError(_("Your password cannot be your email address."))


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def register(
    email: str, display_name: str, password: str, *, locale: str = "en", time_zone: str = ""
) -> User:
    """Create an account and queue the verification mail.

    The unique index decides between two concurrent sign-ups with one address; the loser
    gets :class:`EmailTaken`, as does a sign-up with an address that already exists.
    """
    email = normalise_email(email)
    check_password_rules(password, email)
    if get_user_by_email(email) is not None:
        raise EmailTaken(_("An account with this email address already exists."))
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        locale=locale if locale in LANGUAGES else DEFAULT_LANGUAGE,
        time_zone=time_zone if is_time_zone(time_zone) else current_app.config["DEFAULT_TIME_ZONE"],
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise EmailTaken(_("An account with this email address already exists.")) from None
    record_about("account.registered", user, actor=user)
    send_verification(user)
    return user


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    """Changes whenever the password does, so a reset link works once."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def verification_token(user: User) -> str:
    return _serializer("verify-email").dumps({"uid": user.id, "email": user.email})


def send_verification(user: User) -> None:
    link = external_url("accounts.verify_email", token=verification_token(user))
    queue_mail(user, "verify_email", link=link)


def _token_data(salt: str, token: str, max_age_setting: str, expired: str, forged: str) -> dict:
    """What a signed link carries, or InvalidToken saying whether it expired (``expired``)
    or is forged (``forged``)."""
    try:
        return _serializer(salt).loads(token, max_age=current_app.config[max_age_setting])
    except SignatureExpired:
        raise InvalidToken(expired) from None
    except BadSignature:
        raise InvalidToken(forged) from None


def verify_email(token: str) -> User:
    forged = _("This verification link is not valid.")
    data = _token_data(
        "verify-email",
        token,
        "EMAIL_VERIFY_MAX_AGE",
        expired=_("This verification link has expired. Ask for a new one."),
        forged=forged,
    )
    user = db.session.get(User, data.get("uid"))
    if user is None or user.email != data.get("email"):
        raise InvalidToken(forged)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        record_about("account.email_verified", user, actor=user)
    return user


# A real hash to check against when the address is unknown, so that a wrong address and a
# wrong password take the same time and cannot be told apart.
_DUMMY_HASHES: dict[str, str] = {}


def authenticate(email: str, password: str) -> User | None:
    user = get_user_by_email(email)
    if user is None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASHES:  # made once: setdefault would hash at every call
            _DUMMY_HASHES[method] = generate_password_hash("x", method=method)
        check_password_hash(_DUMMY_HASHES[method], password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def request_password_reset(email: str) -> None:
    """Mail a reset link if the address has an account; say nothing either way."""
    user = get_user_by_email(email)
    if user is None:
        return
    token = _serializer("password-reset").dumps({"uid": user.id, "fp": _password_fingerprint(user)})
    queue_mail(user, "password_reset", link=external_url("accounts.reset_password", token=token))
    record_about("account.password_reset_requested", user, actor=None)


def user_for_reset_token(token: str) -> User:
    data = _token_data(
        "password-reset",
        token,
        "PASSWORD_RESET_MAX_AGE",
        expired=_("This reset link has expired. Ask for a new one."),
        forged=_("This reset link is not valid."),
    )
    user = db.session.get(User, data.get("uid"))
    if user is None or not hmac.compare_digest(_password_fingerprint(user), data.get("fp", "")):
        raise InvalidToken(_("This reset link is not valid or has already been used."))
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set the new password and end every session of the account: whoever had the old
    password loses what they held, remember-me cookies included. The bumped session version
    also starts the failed-login limits afresh (the owner was perhaps locked out by them).
    The view then starts a session for the person who reset it."""
    user = user_for_reset_token(token)
    set_password(user, new_password)
    ended = _end_every_session(user)
    user.session_version += 1
    if user.email_verified_at is None:
        # The link reached the inbox, which is what verification proves.
        user.email_verified_at = utcnow()
    record_about("account.password_reset", user, actor=user, sessions_ended=ended)
    queue_mail(user, "password_changed")
    return user


def start_session(user: User, *, remember: bool, user_agent: str = "") -> LoginSession:
    """A new login session for this browser. Its secret becomes the user's ``get_id()``,
    which Flask-Login keeps in the session and remember-me cookies; the row decides how long
    they are honoured. Ordinary logins and logouts are not audited: one line per visit would
    bury the decisions the audit log is read for (``last_login_at`` and this table say who
    is logged in where)."""
    now = utcnow()
    config = current_app.config
    if remember:
        lifetime = config["REMEMBER_COOKIE_DURATION"]
        if not isinstance(lifetime, dt.timedelta):  # Flask-Login also takes seconds
            lifetime = dt.timedelta(seconds=lifetime)
    else:
        lifetime = dt.timedelta(hours=config["LOGIN_SESSION_HOURS"])
    # The account's sessions that ran out go now, so the table holds little besides live ones.
    db.session.execute(
        sa.delete(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        user_id=user.id,
        secret_hash=LoginSession.hash_secret(token),
        created_at=now,
        expires_at=now + lifetime,
        remember=remember,
        user_agent=user_agent[:160],
    )
    db.session.add(row)
    db.session.flush()
    user.session_token = token
    return row


def end_session(user: User) -> None:
    """Log out: the row goes, so the cookies of this browser (and any copy) log nobody in."""
    if user.session_token is not None:
        db.session.execute(
            sa.delete(LoginSession).where(
                LoginSession.secret_hash == LoginSession.hash_secret(user.session_token)
            )
        )


def log_out_everywhere(user: User) -> int:
    """End every session of the account, this one and every remember-me cookie included;
    returns how many were live."""
    ended = _end_every_session(user)
    record_about("account.logged_out_everywhere", user, actor=user, ended=ended)
    return ended


def _end_every_session(user: User) -> int:
    live = db.session.execute(
        sa.delete(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.expires_at > utcnow()
        )
    ).rowcount
    db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id))
    return live


def set_password(user: User, password: str) -> None:
    check_password_rules(password, user.email)
    user.password_hash = hash_password(password)


def update_profile(user: User, display_name: str, locale: str, time_zone: str) -> None:
    if locale not in LANGUAGES:
        raise AccountError(_("Choose English or French."))
    if not is_time_zone(time_zone):
        raise AccountError(_("Choose a time zone from the list."))
    user.display_name = display_name.strip()
    user.locale, user.time_zone = locale, time_zone


# --- mail preferences -------------------------------------------------------------------------


def unsubscribe_link(token: str) -> tuple[User, MailGroup]:
    """The account and the topic an unsubscribe link names. A forged or altered link is a
    400; a genuine one for an account that is gone, a 404."""
    named = mail.read_unsubscribe_token(token)
    if named is None:
        raise InvalidToken(
            _("This unsubscribe link is not valid: it may have been cut or changed."), 400
        )
    user_id, topic = named
    user = db.session.get(User, user_id)
    if user is None:
        raise InvalidToken(_("This unsubscribe link is for an account that no longer exists."), 404)
    return user, topic


def set_mail_topic(user: User, topic: MailGroup, wanted: bool, *, via: str) -> bool:
    """Turn one topic of mail on or off for ``user``; ``via`` says how ("link", "one-click",
    "account") for the audit log. Returns whether anything changed."""
    changed = (mail.turn_on if wanted else mail.turn_off)(user.id, topic.key)
    if changed:
        action = "account.mail_on" if wanted else "account.mail_off"
        # A link needs no login: whoever holds the mail acts, and it is the account's mail.
        record_about(action, user, actor=user, topic=topic.key, via=via)
    return changed


def save_mail_choices(user: User, wanted: set[str]) -> list[MailGroup]:
    """The account page's checkboxes: each topic on if in ``wanted``, else off. Returns the
    topics that changed."""
    return [
        topic
        for topic in mail.TOPICS
        if set_mail_topic(user, topic, topic.key in wanted, via="account")
    ]


def set_language(user: User, locale: str) -> None:
    """The switcher, for someone logged in: pages and mail in that language from now on."""
    if locale in LANGUAGES:
        user.locale = locale


def accept_designer_terms(user: User) -> None:
    version = current_app.config["DESIGNER_TERMS_VERSION"]
    if user.designer_terms_version == version:
        return
    previous = user.designer_terms_version
    user.designer_terms_version = version
    user.designer_terms_accepted_at = utcnow()
    record_about(
        "account.designer_terms_accepted", user, actor=user, from_state=previous, to_state=version
    )


def link_problem(url: str) -> str | None:
    """Why ``url`` cannot be a profile link, in the reader's language; None when it can.

    Only absolute http(s) addresses of a named host: a ``javascript:`` or ``data:`` link would
    run in the visitor's browser, and one with a user name ("https://shop.example@evil.example")
    would hide where it leads. The form and the service both ask this one function."""
    if len(url) > LINK_MAX_LENGTH:
        return _("Use at most %(max)d characters.", max=LINK_MAX_LENGTH)
    if not url.isprintable() or any(char.isspace() for char in url):
        return _("A web address has no spaces.")
    full_address = _("Enter a full web address starting with https:// (or http://).")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").strip(".")
        _port = parts.port  # one that is not a number raises ValueError
        host.encode("idna")  # so does a host no browser could look up
    except (ValueError, UnicodeError):
        return full_address
    if parts.scheme.lower() not in ("http", "https") or "." not in host:
        return full_address
    if parts.username is not None:
        return _("A web address with a user name or password in it is not accepted.")
    return None


def tidy_bio(text: str) -> str:
    """A bio as stored: its line breaks written ``\\n`` (browsers send a textarea's as
    ``\\r\\n``, which would count twice against the length), without outer blank space."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def update_designer_profile(user: User, bio: str, links: list[str]) -> None:
    """Set the bio and links of a designer's public page; blank links are dropped."""
    if not user.is_designer:
        raise AccountError(_("Accept the designer terms first."), 403)
    bio = tidy_bio(bio)
    if len(bio) > BIO_MAX_LENGTH:
        raise AccountError(_("Use at most %(max)d characters.", max=BIO_MAX_LENGTH))
    links = [link.strip() for link in links if link.strip()]
    if len(links) > MAX_LINKS:
        raise AccountError(_("Give at most %(max)d links.", max=MAX_LINKS))
    for link in links:
        if (problem := link_problem(link)) is not None:
            raise AccountError(problem)
    user.bio, user.links = bio, links


def replace_avatar(user: User, key: str | None) -> str | None:
    """Record ``key`` (stored by ``designs.images.store_avatar``; None removes the picture)
    as the designer's avatar. Returns the key it replaces, whose files the caller deletes once
    the change is committed, so that a rolled-back change never loses the picture in use."""
    if not user.is_designer:
        raise AccountError(_("Accept the designer terms first."), 403)
    # Locked and read afresh: of two saves at once, the second replaces (and so deletes) the
    # picture the first one stored, rather than leaving it on disk unused.
    user = lock_row(User, user.id)
    previous, user.avatar_key = user.avatar_key, key
    return previous if previous != key else None


def make_operator(email: str, display_name: str | None, password: str | None) -> tuple[User, bool]:
    """Give an account the operator role, creating it if needed. Returns (user, created).

    Operators are made on the command line by someone with shell access to the servers,
    so the address counts as verified.
    """
    user = get_user_by_email(email)
    created = user is None
    if created:
        if not password:
            raise AccountError("A new operator account needs a password.")
        check_password_rules(password, email)
        user = User(
            email=normalise_email(email),
            display_name=(display_name or email.split("@")[0]).strip(),
            password_hash=hash_password(password),
        )
        db.session.add(user)
        db.session.flush()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    if not user.is_operator:
        user.is_operator = True
        record_about(
            "account.operator_granted", user, actor=None, from_state="member", to_state="operator"
        )
    return user, created
